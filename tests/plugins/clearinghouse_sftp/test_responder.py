"""The sandbox clearinghouse answers 837s: TA1 when asked, a 999 from pyx12 validation, a 277CA per claim."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from claimbridge import OutboundFile
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.responder import (
    AdjudicationModel,
    Answers,
    ControlNumberCounter,
    answer_837,
    write_answers,
)
from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
from claimbridge.x12 import encode_837p
from claimbridge.x12.reader import iter_segments
from claimbridge.x12.validate import validate_x12
from tests.x12.claims import ENVELOPE, SUBMITTER, therapy_week

from .conftest import SANDBOX_PASSWORD

NOW = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
BROKEN_LINE = ("SV1*HC:96127*25.25*UN*1***1:2~", "SV1*HC:96127*25.25*XX*1***1:2~")


def week_837(*, ack_requested: bool = False, isa13: int = 17) -> str:
    envelope = dataclasses.replace(ENVELOPE, ack_requested=ack_requested, isa13=isa13, gs06=isa13)
    return encode_837p(therapy_week(), envelope=envelope, submitter=SUBMITTER, receiver_name="Stedi").text


def pcns_of(text: str | bytes) -> list[str]:
    return [seg[1] for seg in iter_segments(text) if seg.id == "CLM"]


def segments(data: bytes, seg_id: str) -> list:
    return [seg for seg in iter_segments(data) if seg.id == seg_id]


def claim_statuses(ack_277: bytes) -> dict[str, dict]:
    """PCN → {"stc": [claim STC01 …], "payer_claim_number": REF*1K, "lines": [REF*FJ …]} from a 277CA."""
    claims: dict[str, dict] = {}
    current, level, in_line = None, "", False
    for seg in iter_segments(ack_277):
        if seg.id == "HL":
            current, level = None, seg[3]
        elif seg.id == "TRN" and seg[1] == "2" and level == "PT":
            current = claims[seg[2]] = {"stc": [], "payer_claim_number": None, "lines": []}
            in_line = False
        elif current is None:
            continue
        elif seg.id == "SVC":
            in_line = True
        elif seg.id == "STC" and not in_line:
            current["stc"].append(seg[1])
        elif seg.id == "REF" and seg[1] == "1K":
            current["payer_claim_number"] = seg[2]
        elif seg.id == "REF" and seg[1] == "FJ":
            current["lines"].append(seg[2])
    return claims


def assert_valid(content: bytes, transaction: str) -> None:
    report = validate_x12(content)
    assert report.transaction == transaction
    assert report.problems == [], [p.describe() for p in report.problems]


def counter():
    numbers = itertools.count(1)
    return lambda: next(numbers)


# -- through SFTP -------------------------------------------------------------------------------------------


def test_upload_through_the_plugin_is_answered_with_ta1_999_and_277ca(sandbox, sandbox_settings):
    text = week_837(ack_requested=True)
    with SftpClearinghouse("sandbox", sandbox_settings()) as clearinghouse:
        clearinghouse.submit(OutboundFile("week-0017.837", text.encode()))
        names = sorted(f.name for f in clearinghouse.list_inbound())
        assert names == ["week-0017.837.277", "week-0017.837.999", "week-0017.837.ta1"]
        ack_999 = clearinghouse.fetch("week-0017.837.999")
        ack_277 = clearinghouse.fetch("week-0017.837.277")
        ta1 = clearinghouse.fetch("week-0017.837.ta1")

    assert_valid(ack_999, "999")
    assert [seg.elements[:1] for seg in segments(ack_999, "IK5")] == [["A"]]
    assert segments(ack_999, "AK9")[0].elements == ["A", "1", "1", "1"]
    assert segments(ack_999, "AK1")[0].elements == ["HC", "17", "005010X222A1"]

    assert_valid(ack_277, "277CA")
    statuses = claim_statuses(ack_277)
    assert list(statuses) == pcns_of(text)
    for status in statuses.values():
        assert status["stc"] == ["A1:19:PR", "A2:20:PR"]
        assert status["payer_claim_number"]
    assert len({s["payer_claim_number"] for s in statuses.values()}) == len(statuses)

    ta1 = segments(ta1, "TA1")[0]
    assert ta1.elements == ["000000017", "260302", "1405", "A", "000"]
    # the sandbox's own interchange numbers are distinct and its temporary files are gone
    isa13s = {segments(data, "ISA")[0][13] for data in (ack_999, ack_277)}
    assert len(isa13s) == 2
    assert sorted(p.name for p in (sandbox.root / "outbound").iterdir()) == names


def test_invalid_837_gets_a_rejecting_999_and_no_277ca(sandbox, sandbox_settings):
    text = week_837().replace(*BROKEN_LINE)
    with SftpClearinghouse("sandbox", sandbox_settings()) as clearinghouse:
        clearinghouse.submit(OutboundFile("bad.837", text.encode()))
        assert [f.name for f in clearinghouse.list_inbound()] == ["bad.837.999"]  # no TA1 asked for
        ack_999 = clearinghouse.fetch("bad.837.999")
    assert_valid(ack_999, "999")
    position = text.splitlines().index(BROKEN_LINE[1]) - 1  # ST is the file's third line, position 1
    assert segments(ack_999, "IK3")[0].elements == ["SV1", str(position), "2400", "8"]
    assert segments(ack_999, "CTX")[0].elements == ["CLM01:CB3TELE01"]
    assert segments(ack_999, "IK4")[0].elements == ["3", "", "7", "XX"]
    assert segments(ack_999, "IK5")[0].elements == ["R", "5"]
    assert segments(ack_999, "AK9")[0].elements == ["R", "1", "1", "0"]


def test_answering_can_be_turned_off_and_the_counter_survives_restarts(tmp_path):
    root = tmp_path / "quiet"
    with SandboxClearinghouse(root, password=SANDBOX_PASSWORD, answer=False) as quiet:
        (root / "inbound" / "a.837.part").write_text(week_837())
        quiet._received(str(root / "inbound" / "a.837.part"))
        assert list((root / "outbound").iterdir()) == []
    with SandboxClearinghouse(root, password=SANDBOX_PASSWORD) as sandbox:
        first = sandbox.answer_upload(_upload(root, "one.837", week_837()))
    with SandboxClearinghouse(root, password=SANDBOX_PASSWORD) as sandbox:
        second = sandbox.answer_upload(_upload(root, "two.837", week_837(isa13=18)))
    numbers = [segments(path.read_bytes(), "ISA")[0][13] for path in first + second]
    assert numbers == ["000000001", "000000002", "000000003", "000000004"]
    assert (root / ".sandbox" / "isa13").read_text().strip() == "4"


def _upload(root, name: str, text: str):
    path = root / "inbound" / name
    path.write_text(text)
    return path


# -- the answers themselves ---------------------------------------------------------------------------------


def test_claims_failing_front_end_checks_are_rejected_with_status_and_entity():
    text = week_837()
    # CB1ADULT01's rendering NPI loses its check digit; CB3TELE01's second line is dated after the upload
    text = text.replace("NM1*82*1*RIVERA*ANA****XX*1679576722~", "NM1*82*1*RIVERA*ANA****XX*1679576723~", 1)
    lines = text.splitlines()
    dated = [i for i, line in enumerate(lines) if line == "DTP*472*D8*20260223~"]
    lines[dated[2]] = "DTP*472*D8*20260404~"
    text = "\n".join(lines) + "\n"
    answers = answer_837(text.encode(), control_numbers=counter(), now=NOW)
    assert answers.accepted  # the 999 accepts the file: these are claim-level (277CA) rejections
    assert_valid(answers.ack_999, "999")
    assert_valid(answers.ack_277ca, "277CA")
    statuses = claim_statuses(answers.ack_277ca)
    assert statuses["CB1ADULT01"] == {"stc": ["A7:562:82"], "payer_claim_number": None, "lines": []}
    assert statuses["CB3TELE01"]["stc"] == ["A7:187"]
    assert statuses["CB3TELE01"]["lines"] == ["CB3TELE012"]
    assert statuses["CB2CHILD01"]["stc"] == ["A1:19:PR", "A2:20:PR"]
    quantities = {seg[1]: seg[2] for seg in segments(answers.ack_277ca, "QTY")[:2]}
    assert quantities == {"90": "4", "AA": "2"}


def test_broken_interchange_envelope_gets_only_a_rejecting_ta1():
    text = week_837().replace("IEA*1*000000017", "IEA*1*000000099")
    answers = answer_837(text, control_numbers=counter(), now=NOW)
    assert answers.ack_999 is None and answers.ack_277ca is None
    assert segments(answers.ta1, "TA1")[0].elements == ["000000017", "260302", "1405", "R", "001"]


def test_wrong_transaction_count_rejects_the_set_with_ik5_code():
    text = week_837()
    se = next(line for line in text.splitlines() if line.startswith("SE*"))
    answers = answer_837(text.replace(se, "SE*5*0001~"), control_numbers=counter(), now=NOW)
    assert_valid(answers.ack_999, "999")
    assert segments(answers.ack_999, "IK5")[0].elements == ["R", "4"]
    assert answers.ack_277ca is None and not answers.accepted


def test_each_functional_group_gets_its_own_999_set_and_only_accepted_claims_a_277ca():
    good = week_837(isa13=21)
    bad = week_837(isa13=22).replace(*BROKEN_LINE)
    answers = answer_837(good + bad, control_numbers=counter(), now=NOW)
    assert_valid(answers.ack_999, "999")
    assert [seg[1] for seg in segments(answers.ack_999, "AK9")] == ["A", "R"]
    assert [seg[2] for seg in segments(answers.ack_999, "AK1")] == ["21", "22"]
    assert_valid(answers.ack_277ca, "277CA")
    assert list(claim_statuses(answers.ack_277ca)) == pcns_of(good)
    assert not answers.accepted


@pytest.mark.parametrize("data", [b"", b"\x00\x01 not x12 at all", b"ST*837*0001~BHT*0019~SE*2*0001~"])
def test_data_without_an_interchange_is_not_answered(data):
    assert answer_837(data, control_numbers=counter(), now=NOW) == Answers()


def test_answers_are_written_under_hidden_names_then_renamed(tmp_path, monkeypatch):
    import os

    renames = []
    real_replace = os.replace

    def spy(source, target):
        renames.append((os.path.basename(source), os.path.basename(target)))
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    answers = Answers(ack_999=b"ISA999", ack_277ca=b"ISA277")
    written = write_answers(tmp_path, "x.837", answers)
    assert [p.name for p in written] == ["x.837.999", "x.837.277"]
    assert all(source.startswith(".x.837.") for source, _ in renames)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.837.277", "x.837.999"]


def test_control_number_counter_wraps_and_persists(tmp_path):
    path = tmp_path / "isa13"
    path.write_text("999999999\n")
    assert ControlNumberCounter(path)() == 1
    assert ControlNumberCounter(path)() == 2


# -- 835 from the adjudication model ------------------------------------------------------------------------


def remittance_claims(remit: bytes) -> dict[str, dict]:
    """PCN → CLP elements, CAS total (claim and line level), line balance problems, remarks."""
    claims: dict[str, dict] = {}
    current = None
    line = None
    for seg in iter_segments(remit):
        if seg.id == "CLP":
            current = claims[seg[1]] = {"clp": seg.elements, "cas": Decimal(0), "line_errors": [], "remarks": [],
                                        "adjustments": []}
            line = None
        elif seg.id == "SVC" and current is not None:
            line = {"balance": Decimal(seg[2]) - Decimal(seg[3])}
            current["line_errors"].append(line)
        elif seg.id == "CAS" and current is not None:
            for position in range(2, 19, 3):
                if seg[position]:
                    amount = Decimal(seg[position + 1])
                    current["cas"] += amount
                    current["adjustments"].append((seg[1], seg[position]))
                    if line is not None:
                        line["balance"] -= amount
        elif seg.id == "LQ" and current is not None:
            current["remarks"].append(seg[2])
    for claim in claims.values():
        claim["line_errors"] = [ln for ln in claim["line_errors"] if ln["balance"] != 0]
    return claims


def test_adjudication_model_sends_a_balanced_835_per_payer(sandbox, sandbox_settings):
    from claimbridge.claims.denials import classify

    sandbox.adjudication = AdjudicationModel(denial_rate=Decimal("0.5"), coinsurance=Decimal("0.2"),
                                             interest=Decimal("2.50"))
    text = week_837()
    with SftpClearinghouse("sandbox", sandbox_settings()) as clearinghouse:
        clearinghouse.submit(OutboundFile("paid.837", text.encode()))
        names = sorted(f.name for f in clearinghouse.list_inbound())
        assert names == ["paid.837.277", "paid.837.999", "paid.837.BLHP1.835"]
        remit = clearinghouse.fetch("paid.837.BLHP1.835")
        ack_277 = clearinghouse.fetch("paid.837.277")
    assert_valid(remit, "835")
    claims = remittance_claims(remit)
    assert sorted(claims) == sorted(pcns_of(text))
    payer_numbers = {pcn: s["payer_claim_number"] for pcn, s in claim_statuses(ack_277).items()}
    statuses = set()
    for pcn, claim in claims.items():
        _, status, charge, paid, patient, _, payer_number = claim["clp"][:7]
        statuses.add(status)
        assert payer_number == payer_numbers[pcn]
        assert Decimal(charge) - Decimal(paid) == claim["cas"], pcn
        assert claim["line_errors"] == []
        if status == "4":
            assert Decimal(paid) == 0
            group, reason = claim["adjustments"][0]
            assert classify(group, reason, claim["remarks"]).category != "other"
    assert statuses == {"1", "4"}  # this seed pays some and denies some
    # each transaction set balances: BPR02 = ΣCLP04 − ΣPLB
    for transaction in _split_sets(remit):
        bpr = next(seg for seg in transaction if seg.id == "BPR")
        paid = sum(Decimal(seg[4]) for seg in transaction if seg.id == "CLP")
        plb = sum(Decimal(seg[4]) for seg in transaction if seg.id == "PLB")
        assert Decimal(bpr[2]) == paid - plb
        assert plb == Decimal("-2.50")


def _split_sets(remit: bytes) -> list[list]:
    sets, current = [], None
    for seg in iter_segments(remit):
        if seg.id == "ST":
            current = []
            sets.append(current)
        if current is not None:
            current.append(seg)
        if seg.id == "SE":
            current = None
    return sets


def test_adjudication_is_repeatable_and_follows_the_fee_schedule():
    model = AdjudicationModel(denial_rate=Decimal("0"), copay=Decimal("25.00"),
                              fee_schedule={"90837": Decimal("110.00")}, default_allowed_share=Decimal("0.5"))
    text = week_837()
    first = answer_837(text, control_numbers=counter(), now=NOW, adjudication=model)
    again = answer_837(text, control_numbers=counter(), now=NOW, adjudication=model)
    assert first.remittances == again.remittances
    remit = first.remittances["BLHP1"]
    assert_valid(remit, "835")
    claims = remittance_claims(remit)
    # 90837 billed 150: allowed 110, copay 25 → paid 85, CO-45 40
    assert claims["CB1ADULT01"]["clp"][1:5] == ["1", "150", "85", "25"]
    assert ("CO", "45") in claims["CB1ADULT01"]["adjustments"]
    # 90847 is not in this schedule: half the charge is allowed
    assert claims["CB2CHILD01"]["clp"][1:5] == ["1", "140", "45", "25"]
    assert not any(claim["remarks"] for claim in claims.values())
    denying = dataclasses.replace(model, denial_rate=Decimal("1"), denials=(("CO", "197", ()),))
    denied = remittance_claims(answer_837(text, control_numbers=counter(), now=NOW,
                                          adjudication=denying).remittances["BLHP1"])
    assert {claim["clp"][1] for claim in denied.values()} == {"4"}


def test_claims_the_277ca_rejected_are_not_remitted():
    text = week_837().replace("NM1*82*1*RIVERA*ANA****XX*1679576722~", "NM1*82*1*RIVERA*ANA****XX*1679576723~", 1)
    answers = answer_837(text, control_numbers=counter(), now=NOW, adjudication=AdjudicationModel())
    assert "CB1ADULT01" not in remittance_claims(answers.remittances["BLHP1"])
    assert set(answers.files("x.837")) == {"x.837.999", "x.837.277", "x.837.BLHP1.835"}


def test_reprocessed_claims_are_reversed_and_paid_again_in_a_second_balanced_835():
    model = AdjudicationModel(denial_rate=Decimal("0"), reversal_rate=Decimal("1"))
    answers = answer_837(week_837(), control_numbers=counter(), now=NOW, adjudication=model)
    assert set(answers.remittances) == {"BLHP1", "BLHP1-reprocessed"}
    assert "x.837.BLHP1-reprocessed.835" in answers.files("x.837")
    original = remittance_claims(answers.remittances["BLHP1"])
    remit = answers.remittances["BLHP1-reprocessed"]
    assert_valid(remit, "835")
    clps = [seg for seg in iter_segments(remit) if seg.id == "CLP"]
    assert [seg[2] for seg in clps] == ["22", "1"] * len(original)
    for reversal, again in zip(clps[::2], clps[1::2], strict=True):
        first = original[reversal[1]]["clp"]
        assert again[1] == reversal[1] and reversal[7] == first[6]
        assert [reversal[3], reversal[4], reversal[5]] == [f"-{first[2]}", f"-{first[3]}", f"-{first[4]}"]
        assert Decimal(again[4]) == Decimal(first[3]) + Decimal(first[4])  # the copay is paid back
    for transaction in _split_sets(remit):
        bpr = next(seg for seg in transaction if seg.id == "BPR")
        assert Decimal(bpr[2]) == sum(Decimal(seg[4]) for seg in transaction if seg.id == "CLP")
    for pcn, claim in remittance_claims(remit).items():
        assert claim["line_errors"] == [], pcn
