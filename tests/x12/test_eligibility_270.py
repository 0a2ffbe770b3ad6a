"""Building 270 inquiries: the encoder, the structural checker (pyx12 has no 5010 270 map) and the round trip
through claimbridge's own reader."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from claimbridge.x12.eligibility import (
    EligibilityInquiry,
    InquiryEncodeError,
    Member,
    Payer,
    Provider,
    check_270,
    encode_270,
    inquiry_service_types,
)
from claimbridge.x12.encode_837p import Envelope
from claimbridge.x12.reader import iter_segments
from claimbridge.x12.responses import X12ParseError, parse_x12

ORIGINATOR = "9123456789"
PAYER = Payer("60054", "AETNA")
PRACTICE = Provider("1234567893", "CALM MINDS THERAPY")
SUBSCRIBER = Member("DOE", "JANE", "W123456789", birth_date=date(1985, 4, 2), gender="F")
DEPENDENT = Member("DOE", "SAM", birth_date=date(2012, 6, 1), gender="M")
PERSONAL = ("DOE", "JANE", "SAM", "W123456789", "19850402", "20120601")


def envelope(**changes) -> Envelope:
    values = dict(sender_qualifier="ZZ", sender_id="CLAIMBRIDGE", receiver_qualifier="ZZ", receiver_id="STEDI",
                  gs_sender="CLAIMBRIDGE", gs_receiver="STEDI", usage="T", isa13=123, gs06=45, st02=1,
                  created=datetime(2026, 11, 27, 9, 30, tzinfo=UTC))
    return Envelope(**values | changes)


def subscriber_inquiry(**changes) -> EligibilityInquiry:
    inquiry = EligibilityInquiry(PAYER, PRACTICE, SUBSCRIBER, "EL0001", date(2026, 12, 1), ("MH", "A6"))
    return replace(inquiry, **changes)


def dependent_inquiry() -> EligibilityInquiry:
    return EligibilityInquiry(PAYER, PRACTICE, Member("DOE", "JANE", "W123456789"), "EL0002", date(2026, 12, 1),
                              ("MH",), dependent=DEPENDENT)


def encode(inquiries, **kwargs) -> str:
    return encode_270(inquiries, envelope=envelope(), trace_originator=ORIGINATOR, **kwargs).text


def test_subscriber_inquiry_segments():
    text = encode([subscriber_inquiry()])
    segments = [s for s in text.split("~\n") if s]
    assert segments[1] == "GS*HS*CLAIMBRIDGE*STEDI*20261127*0930*45*X*005010X279A1"
    assert segments[2:] == [
        "ST*270*0001*005010X279A1", "BHT*0022*13*000000123*20261127*0930",
        "HL*1**20*1", "NM1*PR*2*AETNA*****PI*60054",
        "HL*2*1*21*1", "NM1*1P*2*CALM MINDS THERAPY*****XX*1234567893",
        "HL*3*2*22*0", "TRN*1*EL0001*9123456789", "NM1*IL*1*DOE*JANE****MI*W123456789", "DMG*D8*19850402*F",
        "DTP*291*D8*20261201", "EQ*MH^A6",
        "SE*13*0001", "GE*1*45", "IEA*1*000000123"]


def test_dependent_inquiry_puts_trace_and_eq_on_the_dependent():
    encoded = encode_270([dependent_inquiry()], envelope=envelope(), trace_originator=ORIGINATOR)
    assert encoded.inquiry_segments["EL0002"] == [
        "HL*3*2*22*1~", "NM1*IL*1*DOE*JANE****MI*W123456789~",
        "HL*4*3*23*0~", "TRN*1*EL0002*9123456789~", "NM1*03*1*DOE*SAM~", "DMG*D8*20120601*M~",
        "DTP*291*D8*20261201~", "EQ*MH~"]


@pytest.mark.parametrize("inquiries", [[subscriber_inquiry()], [dependent_inquiry()],
                                       [subscriber_inquiry(), dependent_inquiry()]],
                         ids=["subscriber", "dependent", "both"])
def test_270_checks_clean_and_round_trips(inquiries):
    text = encode(inquiries)
    report = check_270(text)
    assert report.ok and report.problems == [], [p.describe() for p in report.problems]
    [tx] = parse_x12(text).transactions
    assert tx.type == "270" and tx.version == "005010X279A1"
    assert tx.inquiries == inquiries


def test_many_payers_and_providers_in_one_file():
    person = Provider("1245319599", "RIVERA", "ANA", organization=False)
    other_payer = Payer("87726", "UNITEDHEALTHCARE")
    inquiries = [subscriber_inquiry(), subscriber_inquiry(trace_number="EL0003", provider=person),
                 subscriber_inquiry(trace_number="EL0004", payer=other_payer), dependent_inquiry()]
    text = encode(inquiries)
    assert check_270(text).ok
    hls = [s for s in iter_segments(text) if s.id == "HL"]
    assert [(h[1], h[2], h[3]) for h in hls if h[3] in ("20", "21")] == [
        ("1", "", "20"), ("2", "1", "21"), ("6", "1", "21"), ("8", "", "20"), ("9", "8", "21")]
    assert "NM1*1P*1*RIVERA*ANA****XX*1245319599~" in text
    [tx] = parse_x12(text).transactions
    assert sorted(q.trace_number for q in tx.inquiries) == sorted(q.trace_number for q in inquiries)
    assert {q.trace_number: q for q in tx.inquiries} == {q.trace_number: q for q in inquiries}


def test_service_types_fall_back_to_30():
    assert inquiry_service_types(["mh", "A6", "MH", " "]) == ("MH", "A6")
    assert inquiry_service_types([]) == ("30",) and inquiry_service_types(None) == ("30",)


def test_no_service_date_means_none_sent():
    text = encode([subscriber_inquiry(service_date=None)])
    assert "DTP*291" not in text and check_270(text).ok
    assert parse_x12(text).transactions[0].inquiries[0].service_date is None


@pytest.mark.parametrize(("inquiry", "field"), [
    (subscriber_inquiry(provider=Provider("1234567890", "CALM MINDS THERAPY")), "provider.npi"),
    (subscriber_inquiry(subscriber=replace(SUBSCRIBER, member_id=None)), "subscriber.member_id"),
    (subscriber_inquiry(service_types=("MH", "ZZ")), "service_types"),
    (subscriber_inquiry(service_types=()), "service_types"),
    (subscriber_inquiry(subscriber=replace(SUBSCRIBER, gender="X")), "subscriber.gender"),
    (replace(dependent_inquiry(), dependent=replace(DEPENDENT, birth_date=None)), "dependent.birth_date"),
    (subscriber_inquiry(trace_number="EL*1"), "trace_number"),
])
def test_encode_refuses_what_a_270_cannot_carry(inquiry, field):
    with pytest.raises(InquiryEncodeError) as caught:
        encode([inquiry])
    assert caught.value.field == field
    assert not [word for word in PERSONAL if word in str(caught.value)]


def test_encode_refuses_duplicate_traces_and_bad_originators():
    with pytest.raises(ValueError, match="appears twice"):
        encode([subscriber_inquiry(), subscriber_inquiry()])
    with pytest.raises(ValueError, match="trace_originator"):
        encode_270([subscriber_inquiry()], envelope=envelope(), trace_originator="12345")
    with pytest.raises(ValueError, match="at least one"):
        encode([])


# -- the checker catches broken files ---------------------------------------------------------------------


def _broken(change) -> str:
    lines = [s + "~" for s in encode([subscriber_inquiry(), dependent_inquiry()]).split("~\n") if s]
    return "\n".join(change(lines)) + "\n"


def _findings(text: str) -> list[tuple]:
    report = check_270(text, name="broken.270")
    assert not report.ok
    return [(p.segment_index, p.segment_id, p.loop_id, p.element, p.code) for p in report.errors]


def _without(prefix: str):
    return lambda lines: [line for line in lines if not line.startswith(prefix)]


def _fix_counts(lines: list[str]) -> list[str]:
    """Recount SE01 so that only the intended break is found."""
    start = next(i for i, line in enumerate(lines) if line.startswith("ST*"))
    end = next(i for i, line in enumerate(lines) if line.startswith("SE*"))
    lines[end] = f"SE*{end - start + 1}*0001~"
    return lines


def test_check_finds_a_missing_subscriber_name():
    def drop_first_subscriber_name(lines):
        del lines[next(i for i, line in enumerate(lines) if line.startswith("NM1*IL"))]
        return _fix_counts(lines)
    text = _broken(drop_first_subscriber_name)
    findings = _findings(text)
    assert (9, "HL", "2100C", None, "missing") in findings
    report = check_270(text)
    assert "NM1*IL" in report.errors[0].message
    assert not [w for w in PERSONAL if any(w in p.message for p in report.problems)]


def test_check_finds_a_bad_hl_parent():
    def wrong_parent(lines):
        return [line.replace("HL*4*2*22*1~", "HL*4*1*22*1~") for line in lines]
    assert (15, "HL", "2000C", "HL02", "hl") in _findings(_broken(wrong_parent))


def test_check_finds_wrong_se_ge_iea_counts():
    def wrong_counts(lines):
        return [line.replace("SE*21*0001~", "SE*20*0001~").replace("GE*1*45~", "GE*2*45~")
                .replace("IEA*1*000000123~", "IEA*1*000000124~") for line in lines]
    findings = _findings(_broken(wrong_counts))
    assert {f[1:] for f in findings} == {("SE", "SE", "SE01", "count"), ("GE", "GE", "GE01", "count"),
                                        ("IEA", "IEA", "IEA02", "count")}


def test_check_finds_bad_codes_dates_and_order():
    def breaks(lines):
        out = []
        for line in lines:
            line = line.replace("EQ*MH^A6~", "EQ*MH^Q9~").replace("DMG*D8*19850402*F~", "DMG*D8*19851302*F~")
            line = line.replace("DTP*291*D8*20261201~", "DTP*291*D8*2026-12-01~", 1) if "EL0002" in "".join(
                out[-3:]) else line
            out.append(line)
        return out
    findings = _findings(_broken(breaks))
    assert (14, "EQ", "2110C", "EQ01", "code") in findings
    assert (12, "DMG", "2100C", "DMG02", "format") in findings
    report = check_270(_broken(breaks))
    assert not [w for w in ("19851302",) if any(w in p.message for p in report.problems)]


def test_check_finds_segments_out_of_order_and_missing_eq_and_trn():
    def swap(lines):
        i = next(k for k, line in enumerate(lines) if line.startswith("DMG*D8*19850402"))
        lines[i - 1], lines[i] = lines[i], lines[i - 1]  # DMG before NM1*IL
        return lines
    assert (12, "NM1", "2100C", None, "order") in _findings(_broken(swap))
    no_eq = _findings(_broken(lambda lines: _fix_counts(_without("EQ*MH~")(lines))))
    assert (17, "HL", "2110D", None, "missing") in no_eq
    no_trn = _findings(_broken(lambda lines: _fix_counts(_without("TRN*1*EL0001")(lines))))
    assert (9, "HL", "2000C", None, "missing") in no_trn


def test_check_finds_a_dependent_with_a_member_id_and_a_wrong_functional_group():
    def breaks(lines):
        return [line.replace("NM1*03*1*DOE*SAM~", "NM1*03*1*DOE*SAM****MI*D1~").replace("GS*HS*", "GS*HC*")
                for line in lines]
    findings = _findings(_broken(breaks))
    assert (2, "GS", "GS", "GS01", "envelope") in findings
    assert (19, "NM1", "2100D", "NM108", "unexpected") in findings


def test_check_reports_data_that_is_not_x12():
    report = check_270("hello, this is not X12")
    assert not report.ok and report.problems[0].code == "syntax"


def test_reading_a_270_without_a_payer_name_names_the_inquiry_level():
    text = _broken(lambda lines: _fix_counts(_without("NM1*PR")(lines)))
    with pytest.raises(X12ParseError) as caught:
        parse_x12(text, name="nopayer.270")
    assert (caught.value.segment, caught.value.segment_id) == (8, "HL")
    assert "information source (payer)" in str(caught.value) and "nopayer.270" in str(caught.value)
