"""The sandbox clearinghouse answers 270 eligibility inquiries: a 999 from the 270 checker and a 271 per the
member's scenario, read back through claimbridge's own 271 reader."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from claimbridge import OutboundFile
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.encode_271 import Answer271, encode_271
from claimbridge.plugins.clearinghouse_sftp.member_scenarios import (
    SCENARIOS,
    EligibilityModel,
    MembersConfigError,
    SandboxPlan,
    coverage_for,
)
from claimbridge.plugins.clearinghouse_sftp.responder_271 import answer_270, is_eligibility_inquiry
from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
from claimbridge.x12.eligibility import (
    Eligibility271,
    EligibilityInquiry,
    EligibilityResponse,
    Member,
    Payer,
    Provider,
    encode_270,
)
from claimbridge.x12.encode_837p import Envelope
from claimbridge.x12.reader import iter_segments
from claimbridge.x12.responses import Ack999, parse_x12
from claimbridge.x12.validate import validate_x12

from .conftest import SANDBOX_PASSWORD
from .test_responder import week_837

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
ORIGINATOR = "9123456789"
PAYER = Payer("60054", "AETNA")
PRACTICE = Provider("1234567893", "CALM MINDS THERAPY")
SERVICE_DATE = date(2026, 12, 1)
#: member id per scenario, by the sandbox's default suffix rules
MEMBER_IDS = {
    "active": "W100000001", "inactive": "W100000002INACTIVE", "carve_out": "W100000003CARVEOUT",
    "visits_exhausted": "W100000004NOVISITS", "auth_required": "W100000005AUTH",
    "high_deductible": "W100000006HIGHDED", "not_found": "W100000007NOTFOUND",
}
DEPENDENT = Member("DOE", "SAM", birth_date=date(2012, 6, 1), gender="M")


def envelope(**changes) -> Envelope:
    values = dict(sender_qualifier="ZZ", sender_id="CLAIMBRIDGE", receiver_qualifier="ZZ", receiver_id="SANDBOX",
                  gs_sender="CLAIMBRIDGE", gs_receiver="SANDBOX", usage="T", isa13=321, gs06=321, st02=1,
                  created=NOW)
    return Envelope(**values | changes)


def inquiry(scenario: str, *, dependent: Member | None = None, trace: str | None = None) -> EligibilityInquiry:
    subscriber = Member("DOE", "JANE", MEMBER_IDS[scenario], birth_date=date(1985, 4, 2), gender="F")
    return EligibilityInquiry(PAYER, PRACTICE, subscriber, trace or f"EL-{scenario}", SERVICE_DATE,
                              ("MH", "A6"), dependent=dependent)


def every_scenario() -> list[EligibilityInquiry]:
    inquiries = [inquiry(s) for s in SCENARIOS]
    inquiries.append(inquiry("active", dependent=DEPENDENT, trace="EL-dependent"))
    return inquiries


def build_270(inquiries, **envelope_changes) -> str:
    return encode_270(inquiries, envelope=envelope(**envelope_changes), trace_originator=ORIGINATOR).text


def counter():
    numbers = itertools.count(1)
    return lambda: next(numbers)


def answer(text: str, **kwargs):
    return answer_270(text, control_numbers=counter(), name="elig.270", now=NOW, **kwargs)


def responses_of(data: bytes) -> dict[str, EligibilityResponse]:
    """Trace number → answer, read with claimbridge's 271 reader."""
    [tx] = parse_x12(data).transactions
    assert isinstance(tx, Eligibility271) and tx.version == "005010X279A1"
    found = {}
    for response in tx.responses:
        [trace] = response.our_trace_numbers
        found[trace] = response
    return found


def ack_of(data: bytes) -> Ack999:
    [ack] = parse_x12(data).transactions
    assert isinstance(ack, Ack999)
    return ack


def segments(data: bytes, seg_id: str) -> list:
    return [seg for seg in iter_segments(data) if seg.id == seg_id]


@pytest.fixture(scope="module")
def answered() -> dict[str, EligibilityResponse]:
    answers = answer(build_270(every_scenario()))
    assert answers.accepted and answers.ta1 is None
    return responses_of(answers.eligibility_271)


# -- the answers, scenario by scenario ----------------------------------------------------------------------


def test_every_inquiry_is_answered_with_its_trace_number_echoed(answered):
    assert sorted(answered) == sorted(i.trace_number for i in every_scenario())
    for response in answered.values():
        assert response.payer.id == "60054" and response.provider.id == "1234567893"
        [ours] = [t for t in response.trace_numbers if t.type == "2"]
        assert ours.originator == ORIGINATOR
        assert [t.type for t in response.trace_numbers] == ["2", "1"]  # and the payer's own


def test_active_member_reads_copay_coinsurance_deductible_and_visits(answered):
    r = answered["EL-active"]
    assert r.level == "subscriber" and r.coverage_status == "active" and r.active_on(SERVICE_DATE)
    assert r.mental_health_status() == "active"
    assert r.copay(in_network=True) == Decimal("25.00")
    assert r.coinsurance(in_network=False) == Decimal("0.2")
    assert r.deductible(in_network=True).total == Decimal("500.00")
    assert r.deductible(in_network=True).remaining == Decimal("120.00")
    visits = r.visits()
    assert (visits.total, visits.remaining) == (Decimal(30), Decimal(18))
    assert r.prior_authorization_required() is False
    assert r.carve_outs() == []
    assert (r.plan_number, r.group_number, r.group_name) == ("SBX-PLAN-01", "GRP-20440", "SANDBOX EMPLOYER INC")
    assert "SANDBOX GOLD PPO" in {b.plan_description for b in r.benefits}
    for benefit in r.benefits:
        for value in (benefit.amount, benefit.percent, benefit.quantity):
            assert value is None or isinstance(value, Decimal)


def test_inactive_member(answered):
    r = answered["EL-inactive"]
    assert r.coverage_status == "inactive" and r.active_on(SERVICE_DATE) is False
    assert r.benefits[0].code == "6"


def test_carve_out_names_the_behavioral_health_payer(answered):
    r = answered["EL-carve_out"]
    assert r.coverage_status == "active" and r.mental_health_status() == "carved_out"
    [carve_out, *_] = r.carve_outs()
    assert carve_out.code == "U" and "MH" in carve_out.service_types
    entity = carve_out.entity
    assert (entity.entity, entity.name, entity.id_qualifier, entity.id) == (
        "PR", "MAGELLAN BEHAVIORAL HEALTH", "PI", "01260")
    assert entity.contacts[0].numbers["TE"] == "8007888273"
    assert any("MAGELLAN" in m for m in r.messages())


def test_visits_exhausted(answered):
    r = answered["EL-visits_exhausted"]
    visits = r.visits()
    assert (visits.total, visits.remaining, visits.exhausted) == (Decimal(20), Decimal(0), True)
    [remaining] = [b for b in r.benefits if b.code == "F" and b.remaining]
    assert (remaining.quantity_qualifier, remaining.time_period) == ("VS", "29")
    assert [b.time_period for b in r.benefits if b.code == "F" and not b.remaining] == ["23"]


def test_prior_authorization_required(answered):
    r = answered["EL-auth_required"]
    assert r.mental_health_status() == "active"
    assert r.prior_authorization_required() is True


def test_high_deductible(answered):
    r = answered["EL-high_deductible"]
    deductible = r.deductible(in_network=True, coverage_level="IND")
    assert (deductible.total, deductible.remaining) == (Decimal("3000.00"), Decimal("2750.00"))
    assert r.coinsurance(in_network=True) == Decimal("0.3")


def test_not_found_is_an_aaa_75_at_the_subscriber_level(answered):
    r = answered["EL-not_found"]
    assert r.rejected and r.level == "subscriber" and r.benefits == []
    [rejection] = r.rejections
    assert (rejection.code, rejection.action, rejection.loop, rejection.valid) == ("75", "C", "2100C", False)
    assert rejection.words == "Subscriber/insured not found"
    assert rejection.action_words == "Please correct and resubmit"
    assert r.plan_number is None  # nobody found, no plan named


def test_dependent_is_answered_at_the_dependent_level(answered):
    r = answered["EL-dependent"]
    assert r.level == "dependent"
    assert r.dependent.entity == "03" and r.subscriber.id == MEMBER_IDS["active"]
    assert r.birth_date == date(2012, 6, 1)
    assert r.coverage_status == "active" and r.copay() == Decimal("25.00")
    assert r.group_number == "GRP-20440"


def test_a_dependent_of_a_subscriber_not_found_is_answered_at_the_subscriber_level():
    text = build_270([inquiry("not_found", dependent=DEPENDENT)])
    [r] = responses_of(answer(text).eligibility_271).values()
    assert r.level == "subscriber" and [x.code for x in r.rejections] == ["75"]
    assert r.our_trace_numbers == ["EL-not_found"]


# -- the 999 and broken inquiries ---------------------------------------------------------------------------


def test_999_accepts_the_270_group():
    answers = answer(build_270(every_scenario()))
    report = validate_x12(answers.ack_999)
    assert report.transaction == "999" and report.problems == []
    assert segments(answers.ack_999, "AK1")[0].elements == ["HS", "321", "005010X279A1"]
    assert segments(answers.ack_999, "AK2")[0].elements[:2] == ["270", "0001"]
    assert segments(answers.ack_999, "IK5")[0].elements == ["A"]
    assert segments(answers.ack_999, "AK9")[0].elements == ["A", "1", "1", "1"]
    ack = ack_of(answers.ack_999)  # and claimbridge's own 999 reader agrees
    assert (ack.functional_id, ack.group_control_number, ack.group_status.code) == ("HS", "321", "A")
    assert [(s.type, s.control_number, s.status) for s in ack.sets] == [("270", "0001", "A")]
    # the 271 is its own interchange, addressed back to the sender
    isa = segments(answers.eligibility_271, "ISA")[0]
    assert (isa[6].strip(), isa[8].strip()) == ("SANDBOX", "CLAIMBRIDGE")
    assert segments(answers.eligibility_271, "GS")[0][1] == "HB"
    assert segments(answers.eligibility_271, "BHT")[0].elements[:3] == ["0022", "11", "000000321"]


def test_broken_270_gets_a_rejecting_999_and_no_271():
    text = build_270([inquiry("active")]).replace("EQ*MH^A6~", "EQ*MH^ZZ~")
    answers = answer(text)
    assert not answers.accepted and answers.eligibility_271 is None
    assert validate_x12(answers.ack_999).problems == []
    [ik3] = segments(answers.ack_999, "IK3")
    assert ik3[1] == "EQ"
    assert segments(answers.ack_999, "IK5")[0][1] == "R"
    assert segments(answers.ack_999, "AK9")[0].elements == ["R", "1", "1", "0"]
    assert set(answers.files("bad.270")) == {"bad.270.999"}


def test_wrong_segment_count_rejects_the_set():
    text = build_270([inquiry("active")])
    se = next(s for s in text.split("~\n") if s.startswith("SE*"))
    answers = answer(text.replace(se + "~", "SE*99*0001~"))
    assert answers.eligibility_271 is None
    assert segments(answers.ack_999, "IK5")[0][1] == "R"


def test_one_broken_set_of_two_leaves_the_other_answered():
    good = build_270([inquiry("active")]).split("~\n")
    bad = build_270([inquiry("inactive")]).replace("EQ*MH^A6~", "EQ*MH^ZZ~").split("~\n")
    body = lambda lines: lines[lines.index(next(x for x in lines if x.startswith("ST*"))):  # noqa: E731
                               lines.index(next(x for x in lines if x.startswith("GE*")))]
    second = [s.replace("*0001", "*0002") if s.startswith(("ST*", "SE*")) else s for s in body(bad)]
    text = "~\n".join([*good[:2], *body(good), *second, "GE*2*321", good[-2], ""])
    answers = answer(text)
    assert segments(answers.ack_999, "AK9")[0].elements == ["P", "2", "2", "1"]
    assert list(responses_of(answers.eligibility_271)) == ["EL-active"]


def test_ta1_when_the_interchange_asks_for_one():
    answers = answer(build_270([inquiry("active")], ack_requested=True))
    assert segments(answers.ta1, "TA1")[0][4] == "A"
    assert set(answers.files("e.270")) == {"e.270.ta1", "e.270.999", "e.270.271"}


def test_only_270s_take_the_eligibility_path():
    assert is_eligibility_inquiry(build_270([inquiry("active")]))
    assert not is_eligibility_inquiry(week_837())
    assert not is_eligibility_inquiry(b"not x12 at all")


def test_member_ids_stay_out_of_the_logs(caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    root = tmp_path / "sandbox"
    with SandboxClearinghouse(root, password=SANDBOX_PASSWORD) as sandbox:
        upload = root / "inbound" / "elig.270"
        upload.write_text(build_270(every_scenario()))
        sandbox.answer_upload(upload)
    assert caplog.records
    assert not [word for word in ("W1000000", "JANE", "SAM", "19850402") if word in caplog.text]


# -- the 271 writer on its own ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_writer_round_trips_each_scenarios_benefits(scenario):
    coverage = coverage_for(scenario, SandboxPlan())
    question = inquiry(scenario)
    text = encode_271([Answer271(question, coverage.benefits, coverage.rejections, dates=coverage.dates)],
                      envelope=envelope(), trace_originators={question.trace_number: ORIGINATOR}).text
    [r] = responses_of(text.encode()).values()
    keep = ("code", "coverage_level", "service_types", "insurance_type", "plan_description", "time_period",
            "amount", "percent", "quantity_qualifier", "quantity", "authorization_required", "in_network",
            "messages")

    def fields_of(benefit):
        values = {name: getattr(benefit, name) for name in keep}
        values["plan_description"] = (values["plan_description"] or "").upper() or None
        values["messages"] = [m.upper() for m in values["messages"]]
        values["entities"] = [(e.party.entity, (e.party.name or "").upper(), e.party.id) for e in benefit.entities]
        return values

    assert [fields_of(b) for b in r.benefits] == [fields_of(b) for b in coverage.benefits]
    assert [(x.code, x.action) for x in r.rejections] == [(x.code, x.action) for x in coverage.rejections]


# -- member settings ----------------------------------------------------------------------------------------


def test_default_rules_and_configured_rules():
    default = EligibilityModel()
    assert [default.scenario_for(MEMBER_IDS[s]) for s in SCENARIOS] == list(SCENARIOS)
    assert default.scenario_for("w1carveout") == "carve_out"  # ids are matched case-insensitively
    configured = EligibilityModel.from_mapping({
        "members": [{"id": "W123", "scenario": "carve_out"}, {"suffix": "-OLD", "scenario": "inactive"},
                    {"pattern": "^TEST", "scenario": "not_found"}],
        "plan": {"copay": "40.00", "name": "TEST PLAN"},
    })
    assert configured.scenario_for("w123") == "carve_out"
    assert configured.scenario_for("X9-OLD") == "inactive"
    assert configured.scenario_for("TEST77") == "not_found"
    assert configured.scenario_for("X1AUTH") == "auth_required"  # the default rules still apply after them
    assert configured.plan.copay == Decimal("40.00") and isinstance(configured.plan.copay, Decimal)
    strict = EligibilityModel.from_mapping({"default_rules": False, "default_scenario": "inactive"})
    assert strict.scenario_for("X1AUTH") == "inactive"


def test_bad_member_settings_are_all_reported_at_once():
    with pytest.raises(MembersConfigError) as caught:
        EligibilityModel.from_mapping({
            "members": [{"suffix": "X", "scenario": "lapsed"}, {"id": "A", "suffix": "B", "scenario": "active"},
                        {"pattern": "(", "scenario": "active"}],
            "plan": {"copay": 25.5, "coinsurance_out_of_network": "20", "deductible": "lots", "colour": "x"},
            "default_scenario": "maybe", "extra": 1,
        })
    problems = caught.value.problems
    assert len(problems) == 9, problems
    assert any("'lapsed' is not one of" in p for p in problems)
    assert any("quoted strings" in p for p in problems)


def test_members_yaml_in_the_private_folder_configures_the_sandbox(tmp_path):
    root = tmp_path / "sandbox"
    (root / ".sandbox").mkdir(parents=True)
    (root / ".sandbox" / "members.yaml").write_text(
        "members:\n  - {id: W100000001, scenario: visits_exhausted}\nplan:\n  group_number: G-77\n")
    with SandboxClearinghouse(root, password=SANDBOX_PASSWORD) as sandbox:
        upload = root / "inbound" / "elig.270"
        upload.write_text(build_270([inquiry("active")]))
        written = sandbox.answer_upload(upload)
    assert sorted(p.name for p in written) == ["elig.270.271", "elig.270.999"]
    [r] = responses_of((root / "outbound" / "elig.270.271").read_bytes()).values()
    assert r.visits().remaining == Decimal(0) and r.group_number == "G-77"


def test_members_can_be_given_directly(tmp_path):
    model = dataclasses.replace(EligibilityModel(), default_scenario="auth_required")
    with SandboxClearinghouse(tmp_path / "s", password=SANDBOX_PASSWORD, members=model) as sandbox:
        assert sandbox.members.scenario_for("W1") == "auth_required"


# -- through SFTP -------------------------------------------------------------------------------------------


def test_270_uploaded_over_sftp_is_answered_with_999_and_271(sandbox, sandbox_settings):
    text = build_270(every_scenario())
    with SftpClearinghouse("sandbox", sandbox_settings()) as clearinghouse:
        clearinghouse.submit(OutboundFile("elig-0321.270", text.encode()))
        names = sorted(f.name for f in clearinghouse.list_inbound())
        assert names == ["elig-0321.270.271", "elig-0321.270.999"]
        ack_999 = clearinghouse.fetch("elig-0321.270.999")
        eligibility = clearinghouse.fetch("elig-0321.270.271")
    assert segments(ack_999, "AK9")[0][1] == "A"
    answered = responses_of(eligibility)
    assert answered["EL-carve_out"].mental_health_status() == "carved_out"
    assert answered["EL-visits_exhausted"].visits().remaining == Decimal(0)
    assert answered["EL-not_found"].rejections[0].words == "Subscriber/insured not found"
    assert answered["EL-dependent"].level == "dependent"
    # the temporary files are gone and the ISA13s differ
    assert sorted(p.name for p in (sandbox.root / "outbound").iterdir()) == names
    assert segments(ack_999, "ISA")[0][13] != segments(eligibility, "ISA")[0][13]


def test_carve_out_answer_segments_for_a_dependent():
    """The exact shape of one answer: subscriber loop with the plan REFs, the dependent with the echoed TRN,
    the payer's own TRN, the carve-out EB with its 2120D entity."""
    question = inquiry("carve_out", dependent=DEPENDENT, trace="EL0009")
    coverage = coverage_for("carve_out", SandboxPlan(), dependent=True)
    answer_ = Answer271(question, coverage.benefits[:2], references=(), dates=coverage.dates,
                        payer_trace_number="SBX1")
    text = encode_271([answer_], envelope=envelope(), trace_originators={"EL0009": ORIGINATOR}).text
    assert text.split("~\n")[2:-1] == [
        "ST*271*0001*005010X279A1", "BHT*0022*11*000000321*20261127*0930",
        "HL*1**20*1", "NM1*PR*2*AETNA*****PI*60054",
        "HL*2*1*21*1", "NM1*1P*2*CALM MINDS THERAPY*****XX*1234567893",
        "HL*3*2*22*1", "NM1*IL*1*DOE*JANE****MI*W100000003CARVEOUT", "DMG*D8*19850402*F",
        "HL*4*3*23*0", "TRN*2*EL0009*9123456789", "TRN*1*SBX1*9SANDBOXCH", "NM1*03*1*DOE*SAM",
        "DMG*D8*20120601*M", "DTP*346*D8*20260101",
        "EB*1*FAM*30*PR*SANDBOX GOLD PPO",
        "EB*U*IND*MH^A4^A6^A8", "MSG*MENTAL HEALTH BENEFITS ARE ADMINISTERED BY MAGELLAN BEHAVIORAL HEALTH",
        "LS*2120", "NM1*PR*2*MAGELLAN BEHAVIORAL HEALTH*****PI*01260", "PER*IC*BEHAVIORAL HEALTH*TE*8007888273",
        "LE*2120",
        "SE*23*0001", "GE*1*321", "IEA*1*000000321"]


def test_a_broken_group_or_envelope_is_rejected_whole():
    text = build_270([inquiry("active")])
    group = answer(text.replace("*X*005010X279A1~", "*X*005010X222A1~", 1))
    assert group.eligibility_271 is None
    assert segments(group.ack_999, "AK9")[0][1] == "R"
    envelope_broken = answer(text.replace("IEA*1*000000321", "IEA*1*000000999"))
    assert envelope_broken.ack_999 is None and envelope_broken.eligibility_271 is None
    assert segments(envelope_broken.ta1, "TA1")[0][4] == "R"
    assert answer(b"this is no X12").files("x.270") == {}
