"""Reading 271 eligibility responses: the hand-made samples in tests/x12/data/271 (built from the
005010X279A1 structure), the mental-health helpers, rejections in words, malformed files, the corpus."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from claimbridge.x12.eligibility import Eligibility271, EligibilityResponse, Limit
from claimbridge.x12.responses import X12ParseError, file_to_json, iter_transactions, parse_x12
from tests.x12.corpus import corpus_files

DATA = Path(__file__).parent / "data" / "271"
SAMPLES = sorted(DATA.glob("*.271"))
MALFORMED = DATA / "malformed"
#: names and member ids in the samples: never in JSON or errors
PERSONAL = ("DOE", "JANE", "\"SAM\"", "ROBIN", "W123456789", "W777000222", "19850402", "20120601")


def answer(name: str) -> EligibilityResponse:
    [tx] = parse_x12(DATA / name).transactions
    assert isinstance(tx, Eligibility271)
    [response] = tx.responses
    return response


def _envelope(body: list[str]) -> str:
    segments = ["ST*271*0001*005010X279A1", "BHT*0022*11*REF1*20261127*0931", *body]
    segments.append(f"SE*{len(segments) + 1}*0001")
    head = ["ISA*00*          *00*          *ZZ*STEDI          *ZZ*CLAIMBRIDGE    *261127*0931*^*00501*000000901*0*T*:",
            "GS*HB*STEDI*CLAIMBRIDGE*20261127*0931*901*X*005010X279A1"]
    return "".join(s + "~\n" for s in [*head, *segments, "GE*1*901", "IEA*1*000000901"])


_ELIGIBILITY_SET = re.compile(rb"(?:^|[~\n'|])\s*ST[^A-Za-z0-9 ]27[01][^0-9]")
TOP = ["HL*1**20*1", "NM1*PR*2*AETNA*****PI*60054", "HL*2*1*21*1", "NM1*1P*2*CALM MINDS*****XX*1234567893"]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_every_sample_parses_and_prints_no_personal_data(path):
    parsed = parse_x12(path)
    [tx] = parsed.transactions
    assert tx.type == "271" and tx.version == "005010X279A1" and tx.responses
    data = file_to_json(parsed)
    text = json.dumps(data)
    assert not [word for word in PERSONAL if word in text]
    [out] = data["transactions"]
    assert out["type"] == "271"
    for key in ("subscriber", "dependent", "benefits", "rejections", "trace_numbers", "responses"):
        assert key in out
    for benefit in out["benefits"]:
        assert benefit.keys() >= {"code", "service_types", "coverage_level", "in_network", "time_period",
                                  "amount", "percent", "quantity", "messages"}
    for rejection in out["rejections"]:
        assert rejection.keys() >= {"code", "action"}


def test_active_coverage_with_mental_health_cost_shares():
    r = answer("active_mental_health.271")
    assert r.level == "subscriber" and r.our_trace_numbers == ["EL0001"]
    assert r.coverage_status == "active" and not r.rejected
    assert r.active_on(date(2026, 12, 1)) is True
    assert r.active_on(date(2027, 1, 4)) is False  # the plan ends 2026-12-31 (DTP*347)
    assert (r.plan_number, r.group_number, r.group_name) == ("PLAN88", "GRP55501", "ACME CORP")
    assert r.subscriber is not None and r.subscriber.entity == "IL" and r.gender == "F"
    assert "JANE" not in repr(r) and "W123456789" not in repr(r)  # personal data stays out of repr
    assert (r.copay(), r.copay(in_network=False)) == (Decimal("30"), Decimal("60"))
    assert (r.coinsurance(), r.coinsurance(in_network=False)) == (Decimal("0.2"), Decimal("0.4"))
    assert r.deductible() == Limit(total=Decimal("1500"), remaining=Decimal("650"))
    assert r.deductible(in_network=False) == Limit(total=Decimal("3000"), remaining=Decimal("3000"))
    assert r.deductible(coverage_level="FAM") == Limit(total=Decimal("3000"), remaining=Decimal("2100"))
    assert r.out_of_pocket() == Limit(total=Decimal("6000"), remaining=Decimal("4250.5"))
    assert r.visits() == Limit(total=Decimal("30"), remaining=Decimal("22"))
    assert r.prior_authorization_required() is False and r.carve_outs() == []
    assert r.mental_health_status() == "active"
    copay = r.benefits[1]
    assert (copay.words, copay.service_types, copay.coverage_level_words) == (
        "Co-payment", ("MH", "A6", "A8"), "Individual")
    assert copay.service_type_words == ["Mental health", "Psychotherapy", "Psychiatric - outpatient"]
    assert (copay.time_period_words, copay.in_network, copay.insurance_type_words) == (
        "Visit", True, "Preferred provider organization (PPO)")
    assert r.messages() == ["TELEHEALTH VISITS COVERED AT THE SAME COST SHARE"]


def test_money_and_percent_in_json_are_exact_strings():
    [tx] = file_to_json(parse_x12(DATA / "active_mental_health.271"))["transactions"]
    by_code = [(b["code"], b["in_network"], b["amount"], b["percent"]) for b in tx["benefits"]]
    assert ("B", True, "30.00", None) in by_code and ("A", False, None, "0.4") in by_code
    assert ("G", True, "4250.50", None) in by_code
    mh = tx["mental_health"]
    assert mh["copay"] == {"in_network": "30.00", "out_of_network": "60.00"}
    assert mh["deductible"]["in_network"] == {"total": "1500.00", "remaining": "650.00", "used": None}
    assert mh["visits"] == {"total": "30", "remaining": "22", "used": None}


def test_inactive_coverage():
    r = answer("inactive.271")
    assert r.coverage_status == "inactive" and r.mental_health_status() == "inactive"
    assert r.active_on(date(2026, 12, 1)) is False
    assert r.benefits[0].words == "Inactive" and r.benefits[0].messages == ["COVERAGE TERMINATED 06/30/2026"]


def test_behavioral_health_carve_out_names_the_other_payer():
    r = answer("carve_out.271")
    assert r.coverage_status == "active" and r.mental_health_status() == "carved_out"
    [carve_out] = r.carve_outs()
    assert carve_out.code == "U" and carve_out.service_types == ("MH", "A4", "A6", "A8")
    assert (carve_out.entity.entity, carve_out.entity.name, carve_out.entity.id) == (
        "PR", "BRIGHTPATH BEHAVIORAL HEALTH", "BPBH1")
    assert carve_out.entity.contacts[0].numbers["TE"] == "8665550199"
    assert r.benefits[1].entities[0].entity_words == "Payer"
    # the plan-wide line is not a carve-out, and the payer asked naming itself would not be one either
    assert r.carve_outs(("30",)) == []


def _answer_for(*benefit_segments: str) -> EligibilityResponse:
    text = _envelope(TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1",
                            *benefit_segments])
    [tx] = parse_x12(text).transactions
    return tx.responses[0]


@pytest.mark.parametrize(("segments", "carved_out"), [
    (["EB*1*IND*MH", "LS*2120", "NM1*VN*2*MINDBRIDGE EAP*****PI*MB77", "LE*2120"], True),  # a vendor
    (["EB*R*IND*A6", "LS*2120", "NM1*PRP*2*STATE MEDICAID*****PI*SKMD0", "LE*2120"], True),
    (["EB*1*IND*MH", "LS*2120", "NM1*P3*1*RIVERA*ANA****XX*1245319599", "LE*2120"], False),  # a PCP
    (["EB*U*IND*MH", "LS*2120", "NM1*PR*2*AETNA*****PI*60054", "LE*2120"], False),  # the payer itself
    (["EB*U*IND*30", "LS*2120", "NM1*PR*2*BRIGHTPATH*****PI*BPBH1", "LE*2120"], False),  # not mental health
])
def test_carve_out_rule(segments, carved_out):
    r = _answer_for("EB*1*IND*30", *segments)
    assert bool(r.carve_outs()) is carved_out
    assert (r.mental_health_status() == "carved_out") is carved_out


def test_mental_health_not_covered_and_benefit_dates():
    r = _answer_for("EB*1*IND*30", "DTP*291*RD8*20260101-20261231", "EB*I*IND*MH")
    assert r.mental_health_status() == "not_covered" and r.coverage_status == "active"
    assert r.active_on(date(2026, 6, 1)) is True and r.active_on(date(2025, 12, 31)) is False


def test_visits_exhausted():
    visits = answer("visits_exhausted.271").visits()
    assert visits == Limit(total=Decimal("20"), remaining=Decimal("0"), used=Decimal("20"))
    assert visits.exhausted


def test_visits_remaining_worked_out_from_used():
    text = _envelope(TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1",
                            "EB*1*IND*30", "EB*F*IND*MH***23***VS*20", "EB*F*IND*MH***23***99*12"])
    [tx] = parse_x12(text).transactions
    assert tx.responses[0].visits() == Limit(total=Decimal("20"), remaining=Decimal("8"), used=Decimal("12"))


def test_visit_limit_stated_in_hsd():
    text = _envelope(TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1",
                            "EB*1*IND*30", "EB*F*IND*A6", "HSD*VS*24***23", "HSD*VS*5***29"])
    [tx] = parse_x12(text).transactions
    r = tx.responses[0]
    assert r.visits() == Limit(total=Decimal("24"), remaining=Decimal("5"))
    assert r.benefits[1].deliveries[0].time_period == "23"
    [out] = file_to_json(parse_x12(text))["transactions"]
    assert out["benefits"][1]["deliveries"][1] == {"quantity_qualifier": "VS", "quantity": "5", "unit": None,
                                                   "time_period": "29", "period_count": None}


def test_social_security_numbers_in_ref_stay_out_of_repr():
    text = _envelope(TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1",
                            "REF*SY*555443333", "EB*1*IND*30"])
    [tx] = parse_x12(text).transactions
    assert "555443333" not in repr(tx)
    assert "555443333" not in json.dumps(file_to_json(parse_x12(text)))


def test_prior_authorization_required():
    r = answer("prior_auth.271")
    assert r.prior_authorization_required() is True
    assert r.copay() == Decimal("40")
    assert r.benefits[1].authorization_required is True
    [period] = r.benefits[2].dates
    assert (period.qualifier, period.start, period.end) == ("292", date(2026, 1, 1), date(2026, 12, 31))


@pytest.mark.parametrize(("name", "code", "words", "valid"), [
    ("rejected_member_id.271", "72", "Invalid or missing subscriber/insured ID", False),
    ("rejected_not_found.271", "75", "Subscriber/insured not found", True),
])
def test_subscriber_rejections_in_words(name, code, words, valid):
    r = answer(name)
    assert r.rejected and r.coverage_status == "unknown" and r.active_on(date(2026, 12, 1)) is None
    [rejection] = r.rejections
    assert (rejection.code, rejection.words, rejection.loop, rejection.valid) == (code, words, "2100C", valid)
    assert (rejection.action, rejection.action_words) == ("C", "Please correct and resubmit")


def test_payer_level_rejection():
    r = answer("rejected_payer.271")
    assert r.level == "payer" and r.subscriber is None and r.rejected
    [rejection] = r.rejections
    assert (rejection.code, rejection.loop, rejection.words) == ("42", "2100A", "Unable to respond at current time")
    assert rejection.action_words == "Resubmission allowed"


def test_dependent_level_response():
    r = answer("dependent.271")
    assert r.level == "dependent" and r.our_trace_numbers == ["EL0002"]
    assert r.dependent is not None and r.dependent.entity == "03" and r.subscriber.entity == "IL"
    assert r.birth_date == date(2012, 6, 1) and r.gender == "M"
    assert r.benefits[0].coverage_level_words == "Children only"
    assert (r.copay(), r.coinsurance()) == (Decimal("20"), Decimal("0.1"))


def test_mental_health_falls_back_to_plan_coverage_30():
    text = _envelope(TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1",
                            "EB*1*IND*30", "EB*B*IND*30***27*15*****Y"])
    [tx] = parse_x12(text).transactions
    r = tx.responses[0]
    assert r.mental_health_benefits(fallback=False) == []
    assert r.copay() == Decimal("15") and r.mental_health_status() == "active"


def test_a_batch_271_answers_each_subscriber():
    body = TOP + ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W1", "EB*1*IND*30",
                  "HL*4*2*22*0", "TRN*2*T2*9123456789", "NM1*IL*1*ROE*RAY****MI*W2", "AAA*Y**75*C"]
    [tx] = parse_x12(_envelope(body)).transactions
    first, second = tx.responses
    assert (first.our_trace_numbers, first.coverage_status) == (["T1"], "active")
    assert (second.our_trace_numbers, second.rejected, second.rejections[0].code) == (["T2"], True, "75")
    data = file_to_json(parse_x12(_envelope(body)))["transactions"][0]
    assert [r["trace_numbers"][0]["number"] for r in data["responses"]] == ["T1", "T2"]
    assert data["trace_numbers"][0]["number"] == "T1"  # the top level repeats the first answer


@pytest.mark.parametrize(("name", "segment", "segment_id", "element"), [
    ("bad_eb_code.271", 14, "EB", "EB01"),
    ("bad_amount.271", 14, "EB", "EB07"),
    ("orphan_hl.271", 10, "HL", "HL02"),
    ("wrong_count.271", 38, "SE", "SE01"),
    ("truncated.271", 3, "ST", None),
])
def test_malformed_271_names_file_segment_and_element(name, segment, segment_id, element):
    path = MALFORMED / name
    with pytest.raises(X12ParseError) as caught:
        parse_x12(path, name=str(path))
    error = caught.value
    assert (error.segment, error.segment_id, error.element) == (segment, segment_id, element)
    assert str(path) in str(error)
    assert not [word for word in PERSONAL if word in str(error)]


@pytest.mark.parametrize(("segment", "element", "hidden"), [
    ("DMG*D8*19851302*F", "DMG02", "19851302"),  # a birth date is personal: not quoted
    ("NM1*IL*3*DOE*JANE****MI*W123456789", "NM102", "JANE"),
    ("EB*1*IND*30**PLAN*23*1O", "EB07", None),
    ("EB*A*IND*MH*****20", "EB08", None),  # a percent is a fraction: 20 % is 0.2
    ("EB*B*IND*MH*********X", "EB12", None),
    ("DTP*346*D8*2026-01-01", "DTP03", None),
])
def test_bad_elements_are_named_without_personal_values(segment, element, hidden):
    lines = ["HL*3*2*22*0", "TRN*2*T1*9123456789", "NM1*IL*1*DOE*JANE****MI*W123456789"]
    if segment.startswith("NM1"):
        lines[2] = segment
    else:
        lines.append(segment)
    with pytest.raises(X12ParseError) as caught:
        parse_x12(_envelope(TOP + lines), name="bad.271")
    assert caught.value.element == element and "bad.271" in str(caught.value)
    if hidden:
        assert hidden not in str(caught.value)


def test_nothing_is_lost_before_the_bad_set():
    good = (DATA / "inactive.271").read_text()
    bad = (MALFORMED / "bad_eb_code.271").read_text()
    seen = []
    with pytest.raises(X12ParseError):
        for tx in iter_transactions(good + bad, name="two.271"):
            seen.append(tx)
    assert [tx.type for tx in seen] == ["271"] and seen[0].responses[0].coverage_status == "inactive"


def _corpus_eligibility_files() -> list:
    found = []
    for path in corpus_files():
        if _ELIGIBILITY_SET.search(path.read_bytes()[:200_000]):
            found.append(path)
    if not found:
        return [pytest.param(None, marks=pytest.mark.skip(reason="no 270/271 samples in the shared corpus"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.name}") for p in found]


@pytest.mark.parametrize("path", _corpus_eligibility_files())
def test_corpus_270_271_samples_parse(path):
    transactions = parse_x12(path).transactions
    assert any(tx.type in ("270", "271") for tx in transactions)
