"""psychotherapy.* rules: time bands (with their edges), add-ons, same-day combinations, crisis, family, 96127, group."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from claimbridge.claims.scrub.base import PriorClaimLine, Severity
from claimbridge.claims.scrub.rules import psychotherapy as p
from claimbridge.plugins.ehr_fhir import demo_data

from .conftest import (
    CLEAN_IDS,
    add_line,
    contained,
    context,
    demo_claim,
    facts_of,
    item,
    run_rule,
    set_code,
    set_minutes,
    set_modifiers,
    set_units,
)
from .test_codes import demo_profile


def claim_with(code: str, minutes: int | Decimal | None = None, encounter_id: str = "enc-002") -> dict:
    claim = set_code(demo_claim(encounter_id), 0, code)
    return set_minutes(claim, 0, minutes) if minutes is not None else claim


def messages(findings) -> list[str]:
    return [f.message for f in findings]


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_clean_demo_claims_pass_every_psychotherapy_rule(encounter_id):
    claim = demo_claim(encounter_id)
    for rule in p.RULES:
        assert run_rule(rule, claim, profile=demo_profile(claim)) == [], rule.id


@pytest.mark.parametrize("encounter_id", ["enc-028", "enc-031"])
def test_demo_encounters_held_for_psychotherapy_reasons(encounter_id):
    claim = demo_claim(encounter_id)
    findings = [f for rule in p.RULES for f in run_rule(rule, claim)]
    assert [f.rule for f in findings] == [demo_data.SCRUB_HELD_ENCOUNTERS[encounter_id]]
    assert findings[0].severity is Severity.ERROR


# ------------------------------------------------------------------------------------------ time bands

BAND_CASES = [
    # code, minutes, expected (None: passes; else a piece of the message)
    ("90832", 15, "a 15-minute session is not billable as psychotherapy"),
    ("90832", 16, None), ("90832", 37, None),
    ("90832", 38, "needs 16–37 minutes; the session lasted 38 minutes, which is 90834 (38–52 minutes)"),
    ("90834", 37, "which is 90832 (16–37 minutes)"),
    ("90834", 38, None), ("90834", 52, None),
    ("90834", 53, "which is 90837 (53 minutes or more)"),
    ("90837", 52, "needs 53 minutes or more; the session lasted 52 minutes, which is 90834"),
    ("90837", 53, None), ("90837", 180, None),
    ("90833", 15, "not billable as psychotherapy"), ("90833", 16, None), ("90833", 37, None),
    ("90833", 38, "which is 90836"),
    ("90836", 37, "which is 90833"), ("90836", 38, None), ("90836", 52, None), ("90836", 53, "which is 90838"),
    ("90838", 52, "which is 90836"), ("90838", 53, None),
    ("90832", Decimal("37.9"), None),  # completed minutes count
    ("90837", Decimal("52.9"), "the session lasted 52 minutes"),
]


@pytest.mark.parametrize(("code", "minutes", "expected"), BAND_CASES,
                         ids=[f"{c}-{m}" for c, m, _ in BAND_CASES])
def test_time_band_edges(code, minutes, expected):
    findings = run_rule(p.TimeBand, claim_with(code, minutes))
    if expected is None:
        assert findings == []
    else:
        [finding] = findings
        assert expected in finding.message and finding.path == "Claim.item[0].productOrService"
        assert finding.message.startswith(f"line 1 ({code})") and finding.severity is Severity.ERROR


def test_time_band_uses_the_session_minutes_when_the_line_has_none():
    claim = claim_with("90837")
    set_minutes(claim, 0, None)
    contained(claim, "encounter")["length"] = {"value": 45, "unit": "min", "system": "http://unitsofmeasure.org",
                                              "code": "min"}
    [finding] = run_rule(p.TimeBand, claim)
    assert "the session lasted 45 minutes" in finding.message


def test_line_minutes_win_over_the_session():
    claim = demo_claim("enc-002")  # 55-minute session
    assert facts_of(claim).session_minutes == 55
    set_minutes(claim, 0, 40)
    assert "lasted 40 minutes" in run_rule(p.TimeBand, claim)[0].message


def test_codes_without_a_band_are_not_timed():
    assert run_rule(p.TimeBand, claim_with("90791", 10)) == []


@pytest.mark.parametrize(("code", "units", "held"), [("90837", 1, False), ("90837", 2, True), ("90791", 2, True),
                                                     ("90847", 3, True), ("96127", 3, False), ("90840", 2, False)])
def test_session_codes_are_one_unit(code, units, held):
    claim = set_units(claim_with(code, 60), 0, units)
    findings = run_rule(p.SingleUnit, claim)
    assert bool(findings) is held
    if held:
        assert findings[0].message == f"line 1 ({code}) is billed with {units} units; it is one unit per session"
        assert findings[0].path == "Claim.item[0].quantity"


# ------------------------------------------------------------------------------------------ minutes missing


def without_minutes(claim: dict) -> dict:
    set_minutes(claim, 0, None)
    encounter = contained(claim, "encounter")
    encounter.pop("length", None)
    encounter.pop("period", None)
    return claim


def test_minutes_missing_is_a_warning_on_time_based_codes_only():
    assert run_rule(p.MinutesMissing, demo_claim("enc-002")) == []
    [finding] = run_rule(p.MinutesMissing, without_minutes(demo_claim("enc-002")))
    assert finding.severity is Severity.WARNING and "line 1 (90837) is time-based" in finding.message
    assert run_rule(p.TimeBand, without_minutes(demo_claim("enc-002"))) == []
    assert run_rule(p.MinutesMissing, without_minutes(demo_claim("enc-001"))) == []  # 90791


# ---------------------------------------------------------------------------------------------- add-ons


def test_addon_needs_an_em_the_same_day():
    claim = claim_with("90833", 30)
    [finding] = run_rule(p.AddonWithoutEm, claim)
    assert "line 1 (90833) is an add-on to an E/M service" in finding.message and "bill 90832" in finding.message
    add_line(claim, "99213", charge="120.00")
    assert run_rule(p.AddonWithoutEm, claim) == []


def test_an_em_on_another_day_does_not_count():
    claim = claim_with("90836", 45)
    add_line(claim, "99214", service_date="2026-10-02")
    assert len(run_rule(p.AddonWithoutEm, claim)) == 1


@pytest.mark.parametrize("em", ["99202", "99205", "99211", "99215", "99232", "99349"])
def test_em_families(em):
    claim = add_line(claim_with("90838", 60), em)
    assert run_rule(p.AddonWithoutEm, claim) == []


# ------------------------------------------------------------------------------------------ one per day


def test_two_psychotherapy_codes_the_same_day_fail():
    claim = add_line(demo_claim("enc-002"), "90834", minutes=45)
    [finding] = run_rule(p.OnePerDay, claim)
    assert "line 2 (90834) is a second psychotherapy code on" in finding.message
    assert "besides line 1 (90837)" in finding.message and finding.path == "Claim.item[1].productOrService"


def test_psychotherapy_on_another_day_passes():
    claim = add_line(demo_claim("enc-002"), "90834", minutes=45, service_date="2026-10-02")
    assert run_rule(p.OnePerDay, claim) == []


def test_crisis_counts_as_psychotherapy_the_same_day():
    claim = add_line(demo_claim("enc-002"), "90839", minutes=55)
    assert len(run_rule(p.OnePerDay, claim)) == 1


def test_the_same_code_twice_is_left_to_the_duplicate_rule_unless_marked_repeated():
    claim = add_line(demo_claim("enc-002"), "90837", minutes=55)
    assert run_rule(p.OnePerDay, claim) == []
    set_modifiers(claim, 1, "59")
    assert len(run_rule(p.OnePerDay, claim)) == 1


def prior(claim: dict, code: str, *, pcn: str = "CB0000009901", npi: str | None = None) -> PriorClaimLine:
    facts = facts_of(claim)
    return PriorClaimLine(pcn=pcn, patient_key=facts.patient_key, rendering_npi=npi or facts.rendering.npi,
                          code=code, service_date=facts.lines[0].service_date)


def test_psychotherapy_already_billed_on_another_claim_fails():
    claim = demo_claim("enc-002")
    ctx = context(prior_lines=[prior(claim, "90834")])
    [finding] = run_rule(p.OnePerDay, claim, context=ctx)
    assert "claim CB0000009901 already bills psychotherapy (90834)" in finding.message


def test_prior_claims_of_another_provider_or_version_do_not_count():
    claim = demo_claim("enc-002")
    other_provider = prior(claim, "90834", npi="1720945538")
    other_version = prior(claim, "90834", pcn=facts_of(claim).pcn[:-2] + "02")
    assert run_rule(p.OnePerDay, claim, context=context(prior_lines=[other_provider, other_version])) == []


# ------------------------------------------------------------------------------------ evaluation 90791/2


@pytest.mark.parametrize("other", ["90834", "99213", "90833", "90839"])
def test_evaluation_not_with_psychotherapy_or_em(other):
    claim = add_line(demo_claim("enc-001"), other, minutes=45)  # 90791
    [finding] = run_rule(p.EvaluationCombination, claim)
    assert f"line 1 (90791) is billed with line 2 ({other})" in finding.message


def test_both_evaluations_the_same_day_fail_but_one_twice_is_left_to_duplicates():
    assert len(run_rule(p.EvaluationCombination, add_line(demo_claim("enc-001"), "90792"))) == 1
    assert run_rule(p.EvaluationCombination, add_line(demo_claim("enc-001"), "90791")) == []


def test_psychotherapy_after_an_evaluation_on_another_claim_fails():
    claim = demo_claim("enc-002")  # 90837
    [finding] = run_rule(p.EvaluationCombination, claim, context=context(prior_lines=[prior(claim, "90791")]))
    assert "line 1 (90837): claim CB0000009901 already bills the diagnostic evaluation 90791" in finding.message
    assert run_rule(p.EvaluationCombination, claim, context=context(prior_lines=[prior(claim, "96127")])) == []


def test_evaluation_with_an_assessment_passes():
    claim = add_line(demo_claim("enc-001"), "96127", units=2)
    assert run_rule(p.EvaluationCombination, claim) == []


def test_evaluation_against_a_prior_claim_the_same_day():
    claim = demo_claim("enc-001")
    [finding] = run_rule(p.EvaluationCombination, claim, context=context(prior_lines=[prior(claim, "90837")]))
    assert "claim CB0000009901 already bills 90837" in finding.message
    other_day = PriorClaimLine(**{**prior(claim, "90837").__dict__,
                                  "service_date": facts_of(claim).lines[0].service_date + dt.timedelta(days=1)})
    assert run_rule(p.EvaluationCombination, claim, context=context(prior_lines=[other_day])) == []


# ----------------------------------------------------------------------------------------------- 90785


@pytest.mark.parametrize("primary", ["90791", "90792", "90832", "90834", "90837", "90853"])
def test_interactive_complexity_with_its_primaries(primary):
    claim = add_line(claim_with(primary, 45), "90785", charge="25.00")
    assert run_rule(p.InteractiveComplexity, claim) == []


def test_interactive_complexity_with_em_and_addon_passes():
    claim = add_line(add_line(claim_with("90833", 30), "99213"), "90785")
    assert run_rule(p.InteractiveComplexity, claim) == []


def test_interactive_complexity_alone_or_with_an_em_alone_fails():
    claim = claim_with("90785")
    assert "has no primary service" in run_rule(p.InteractiveComplexity, claim)[0].message
    claim = add_line(claim_with("99213"), "90785")
    [finding] = run_rule(p.InteractiveComplexity, claim)
    assert "(an E/M alone does not qualify)" in finding.message and finding.path == "Claim.item[1].productOrService"


@pytest.mark.parametrize("excluded", ["90839", "90846", "90847", "90849"])
def test_interactive_complexity_never_with_crisis_or_family(excluded):
    claim = add_line(claim_with(excluded, 50), "90785")
    [finding] = run_rule(p.InteractiveComplexity, claim)
    assert f"line 2 (90785) may not be billed with {excluded}" in finding.message


# ----------------------------------------------------------------------------------------------- crisis


def crisis(minutes: int, addon_units: int = 0) -> dict:
    claim = claim_with("90839", minutes)
    if addon_units:
        add_line(claim, "90840", units=addon_units, minutes=minutes)
    return claim


def test_crisis_addon_needs_90839():
    assert run_rule(p.CrisisAddon, crisis(80, 1)) == []
    claim = add_line(demo_claim("enc-002"), "90840")
    [finding] = run_rule(p.CrisisAddon, claim)
    assert "line 2 (90840) is billed without 90839" in finding.message


@pytest.mark.parametrize(("minutes", "units", "severity", "expected"), [
    (29, 0, Severity.ERROR, "needs at least 30 minutes; the session lasted 29 minutes, which is 90832"),
    (12, 0, Severity.ERROR, "not billable as psychotherapy"),
    (30, 0, None, None), (74, 0, None, None),
    (75, 0, Severity.WARNING, "75 minutes of crisis psychotherapy on"),
    (75, 1, None, None), (104, 1, None, None),
    (74, 1, Severity.ERROR, "90840 × 1 billed on"),
    (105, 1, Severity.WARNING, "support 90840 × 2; 1 billed"),
    (105, 2, None, None), (134, 2, None, None),
    (80, 2, Severity.ERROR, "80 minutes of crisis psychotherapy support 1 (one per 30 minutes beyond 74)"),
])
def test_crisis_time(minutes, units, severity, expected):
    findings = run_rule(p.CrisisTime, crisis(minutes, units))
    if severity is None:
        assert findings == []
    else:
        [finding] = findings
        assert finding.severity is severity and expected in finding.message, finding.message


def test_crisis_minutes_per_unit_comes_from_the_profile():
    assert p.crisis_addon_units(90, 30) == 1 and p.crisis_addon_units(90, 15) == 2
    assert run_rule(p.CrisisTime, crisis(90, 2), crisis_minutes_per_90840=15) == []
    assert run_rule(p.CrisisTime, crisis(90, 2))[0].severity is Severity.ERROR


# ----------------------------------------------------------------------------------------------- family


@pytest.mark.parametrize(("code", "minutes", "held"), [("90847", 25, True), ("90847", 26, False),
                                                       ("90846", 25, True), ("90846", 50, False)])
def test_family_time(code, minutes, held):
    findings = run_rule(p.FamilyTime, claim_with(code, minutes, "enc-016"))
    assert bool(findings) is held
    if held:
        assert f"needs at least 26 minutes; the session lasted {minutes} minutes" in findings[0].message


# ------------------------------------------------------------------------------------------------ 96127


def test_assessment_units_within_the_cap():
    claim = demo_claim("enc-007")  # 90834 + 96127 × 2
    assert run_rule(p.AssessmentUnits, claim) == []
    assert run_rule(p.AssessmentUnits, claim, max_96127_units=2) == []
    set_units(claim, 1, 5)
    [finding] = run_rule(p.AssessmentUnits, claim)
    assert "96127 × 5 on" in finding.message and "allows at most 4 units per day" in finding.message
    assert finding.path == "Claim.item[1].quantity"


def test_assessment_units_add_up_across_lines_of_a_day():
    claim = add_line(demo_claim("enc-007"), "96127", units=1, modifiers=("59",))
    [finding] = run_rule(p.AssessmentUnits, claim, max_96127_units=2)
    assert "96127 × 3" in finding.message


# ------------------------------------------------------------------------------------------------ group


def test_group_modifier_follows_the_profile():
    claim = demo_claim("enc-010")  # 90853 with HQ, Medicaid
    assert run_rule(p.GroupModifier, claim, group_modifier="HQ") == []
    set_modifiers(claim, 0)
    assert run_rule(p.GroupModifier, claim) == []  # default: no group modifier
    [finding] = run_rule(p.GroupModifier, claim, group_modifier="HQ")
    assert "line 1 (90853) lacks modifier HQ, which payer profile test requires" in finding.message
    assert finding.path == "Claim.item[0].modifier"
    set_code(claim, 0, "90849")
    assert len(run_rule(p.GroupModifier, claim, group_modifier="HQ")) == 1


def test_rule_metadata_is_complete():
    for rule in p.RULES:
        assert rule.id.startswith("psychotherapy.") and rule.title and rule.fix and rule.source and rule.__doc__
    assert len({rule.id for rule in p.RULES}) == len(p.RULES)


def test_messages_never_carry_patient_names_birth_dates_or_member_ids():
    claim = add_line(claim_with("90833", 12), "90785")
    add_line(claim, "96127", units=9)
    add_line(claim, "90840", units=3)
    item(claim, 0)["servicedDate"] = item(claim, 1)["servicedDate"]
    patient, coverage = contained(claim, "patient"), contained(claim, "coverage")
    secrets = [patient["name"][0]["family"], patient["birthDate"], coverage["subscriberId"]]
    found = [f for rule in p.RULES for f in run_rule(rule, claim)]
    text = " ".join(f.message + f.fix for f in found)
    assert len(found) >= 4 and not any(s in text for s in secrets)
