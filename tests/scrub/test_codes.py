"""codes.* rules: ICD-10-CM validity and billability, the ICD-10 era, CPT/HCPCS and modifier format, Z-codes first."""

from __future__ import annotations

import importlib.metadata
import time
from datetime import date
from pathlib import Path

import pytest

from claimbridge.claims import systems
from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.engine import Scrubber
from claimbridge.claims.scrub.profiles import PayerProfile, ProfileSet, builtin_profiles, load_profile_file
from claimbridge.claims.scrub.rules import ALL_RULES, codes
from claimbridge.plugins.ehr_fhir import demo_data

from .conftest import CLEAN_IDS, context, demo_claim, facts_of, item, run_rule, set_code, set_modifiers


def demo_profile(claim) -> PayerProfile:
    """The demo practice's profile for the claim's payer (demo_payer_profiles), as the demo configuration has it."""
    payer_id = facts_of(claim).payer_id
    for name, fields in demo_data.demo_payer_profiles().items():
        if payer_id in fields["payer_ids"]:
            return PayerProfile(name=name, **fields)
    return PayerProfile(name="default")


def set_diagnoses(claim: dict, *icd10: str) -> dict:
    claim["diagnosis"] = [{"sequence": n, "diagnosisCodeableConcept": {"coding": [
        {"system": systems.ICD10CM, "code": code}]}} for n, code in enumerate(icd10, start=1)]
    for it in claim["item"]:
        it["diagnosisSequence"] = list(range(1, min(len(icd10), 4) + 1))
    return claim


def set_date(claim: dict, day: str) -> dict:
    for it in claim["item"]:
        it["servicedDate"] = day
    return claim


def demo_scrubber() -> Scrubber:
    demo = [PayerProfile(name=name, **fields) for name, fields in demo_data.demo_payer_profiles().items()]
    return Scrubber(ALL_RULES, ProfileSet([*builtin_profiles().values(), *demo]))


@pytest.mark.parametrize("encounter_id", [*CLEAN_IDS, *demo_data.SCRUB_HELD_ENCOUNTERS])
def test_demo_data_scrubs_as_documented_under_every_rule(encounter_id):
    """enc-001…enc-025 are clean under every built-in rule; each SCRUB_HELD_ENCOUNTERS one trips its rule only."""
    result = demo_scrubber().scrub(demo_claim(encounter_id), context=context())
    expected = demo_data.SCRUB_HELD_ENCOUNTERS.get(encounter_id)
    assert [f.rule for f in result.findings] == ([expected] if expected else []), result.findings
    assert result.held is bool(expected)


def test_demo_payer_profiles_match_the_examples_in_config_payers():
    folder = Path(__file__).resolve().parents[2] / "config" / "payers"
    for name, fields in demo_data.demo_payer_profiles().items():
        if (folder / f"{name}.yaml").exists():
            assert load_profile_file(folder / f"{name}.yaml") == PayerProfile(name=name, **fields), name


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_clean_demo_claims_pass_every_code_rule(encounter_id):
    claim = demo_claim(encounter_id)
    for rule in codes.RULES:
        assert run_rule(rule, claim, profile=demo_profile(claim)) == [], rule.id


def test_demo_encounter_with_a_category_code_is_held_by_icd10_billable():
    claim = demo_claim("enc-030")
    assert demo_data.SCRUB_HELD_ENCOUNTERS["enc-030"] == "codes.icd10_billable"
    [finding] = [f for rule in codes.RULES for f in run_rule(rule, claim)]
    assert finding.rule == "codes.icd10_billable" and finding.severity is Severity.ERROR
    assert "(F41) is an ICD-10-CM category" in finding.message and "F41.1" in finding.message


# ------------------------------------------------------------------------------------------- ICD-10-CM


@pytest.mark.parametrize(("code", "status"), [
    ("F41.1", codes.BILLABLE), ("F411", codes.BILLABLE), ("Z63.0", codes.BILLABLE), ("F32.A", codes.BILLABLE),
    ("T74.11XA", codes.BILLABLE), ("F43.81", codes.BILLABLE), ("F99", codes.BILLABLE),
    ("F41", codes.NOT_BILLABLE), ("F43.8", codes.NOT_BILLABLE), ("Z63", codes.NOT_BILLABLE),
    ("F41.X", codes.UNKNOWN), ("F40-F48", codes.UNKNOWN), ("5", codes.UNKNOWN), ("296.32", codes.UNKNOWN),
    ("T74.11X", codes.UNKNOWN), ("", codes.UNKNOWN),
])
def test_icd10_status(code, status):
    assert codes.icd10_status(code)[0] == status


def test_icd10_lookups_are_memoized():
    first = codes.icd10_status("F33.1")
    assert codes.icd10_status("F33.1") is first and "F33.1" in codes._STATUS


def test_icd10_valid_passes_codes_of_the_release_and_fails_others():
    claim = set_diagnoses(demo_claim("enc-002"), "F41.1", "Z63.0")
    assert run_rule(codes.Icd10Valid, claim) == []
    set_diagnoses(claim, "F41.1", "F41.X", "F40-F48")
    findings = run_rule(codes.Icd10Valid, claim)
    assert [f.path for f in findings] == ["Claim.diagnosis[1].diagnosisCodeableConcept",
                                          "Claim.diagnosis[2].diagnosisCodeableConcept"]
    assert "diagnosis 2 (F41.X) is not a code of ICD-10-CM FY" in findings[0].message
    assert all(f.severity is Severity.ERROR for f in findings)


def test_icd10_valid_names_a_diagnosis_without_code():
    claim = demo_claim("enc-002")
    claim["diagnosis"][0]["diagnosisCodeableConcept"] = {"text": "anxiety"}
    [finding] = run_rule(codes.Icd10Valid, claim)
    assert finding.message == "diagnosis 1 has no ICD-10-CM code"


def test_icd10_billable_fails_categories_and_lists_the_codes_below():
    claim = set_diagnoses(demo_claim("enc-002"), "F43.8")
    [finding] = run_rule(codes.Icd10Billable, claim)
    assert "diagnosis 1 (F43.8) is an ICD-10-CM category, not a billable code" in finding.message
    assert "F43.81" in finding.message
    assert run_rule(codes.Icd10Billable, set_diagnoses(claim, "F43.81")) == []
    # an unknown code is Icd10Valid's finding, not this rule's
    assert run_rule(codes.Icd10Billable, set_diagnoses(claim, "F41.X")) == []


def test_the_release_checked_is_named_and_dates_outside_it_are_flagged_in_the_message():
    version = importlib.metadata.version("simple-icd-10-cm")
    assert version in codes.ICD10CM_RELEASE and codes.ICD10CM_RELEASE in codes.Icd10Valid.source
    assert codes.RELEASE_FIRST_DAY and codes.RELEASE_LAST_DAY and codes.RELEASE_FIRST_DAY < codes.RELEASE_LAST_DAY
    inside = codes.RELEASE_FIRST_DAY.isoformat()
    claim = set_date(set_diagnoses(demo_claim("enc-002"), "F41.X"), inside)
    [finding] = run_rule(codes.Icd10Valid, claim)
    assert finding.message == f"diagnosis 1 (F41.X) is not a code of {codes.ICD10CM_RELEASE}"
    after = date(codes.RELEASE_LAST_DAY.year, 12, 1).isoformat()
    [finding] = run_rule(codes.Icd10Valid, set_date(claim, after))
    assert finding.message.endswith(f"the date of service {after} is not: check the code against the code set "
                                    "of that date")


@pytest.mark.parametrize(("day", "held"), [("2015-09-30", True), ("2015-10-01", False), ("2010-01-04", True)])
def test_icd10_date(day, held):
    findings = run_rule(codes.Icd10Era, set_date(demo_claim("enc-002"), day))
    assert bool(findings) is held
    if held:
        assert f"date of service {day} is before 2015-10-01" in findings[0].message
        assert findings[0].path == "Claim.item[0].servicedDate"


# ---------------------------------------------------------------------------------------- CPT / HCPCS


@pytest.mark.parametrize(("code", "system"), [
    ("90834", systems.CPT), ("3008F", systems.CPT), ("0591T", systems.CPT), ("H0004", systems.HCPCS),
    ("G0444", systems.HCPCS),
])
def test_procedure_format_passes_cpt_and_hcpcs(code, system):
    claim = set_code(demo_claim("enc-002"), 0, code, system)
    assert run_rule(codes.ProcedureFormat, claim) == []
    assert run_rule(codes.ProcedureSystem, claim) == []


@pytest.mark.parametrize("code", ["9083", "908340", "9O834", "90834-95", "h0004", "IND45"])
def test_procedure_format_fails_malformed_codes(code):
    [finding] = run_rule(codes.ProcedureFormat, set_code(demo_claim("enc-002"), 0, code))
    assert f"procedure code {code!r} is neither a CPT code" in finding.message
    assert finding.path == "Claim.item[0].productOrService" and finding.severity is Severity.ERROR


@pytest.mark.parametrize(("code", "system", "expected"), [
    ("H0004", systems.CPT, "H0004 is a HCPCS code but is coded in the CPT system"),
    ("90834", systems.HCPCS, "90834 is a CPT code but is coded in the HCPCS system"),
])
def test_procedure_system_mismatch_is_a_warning(code, system, expected):
    [finding] = run_rule(codes.ProcedureSystem, set_code(demo_claim("enc-002"), 0, code, system))
    assert expected in finding.message and finding.severity is Severity.WARNING


def test_modifier_format():
    claim = set_modifiers(demo_claim("enc-010"), 0, "HQ", "95", "X5")
    assert run_rule(codes.ModifierFormat, claim) == []
    set_modifiers(claim, 0, "HQ", "9", "gt", "95X")
    findings = run_rule(codes.ModifierFormat, claim)
    assert [f.path for f in findings] == ["Claim.item[0].modifier[1]", "Claim.item[0].modifier[2]",
                                          "Claim.item[0].modifier[3]"]
    assert findings[0].message == "line 1 (90853): modifier '9' is not two upper-case letters or digits"


# --------------------------------------------------------------------------------------------- Z-codes


@pytest.mark.parametrize(("policy", "severity"), [("allow", None), ("warning", Severity.WARNING),
                                                  ("error", Severity.ERROR)])
def test_z_code_primary_follows_the_profile(policy, severity):
    claim = demo_claim("enc-022")  # F41.1 then Z63.0
    assert run_rule(codes.ZCodePrimary, claim, z_code_primary=policy) == []
    set_diagnoses(claim, "Z63.0", "F41.1")
    findings = run_rule(codes.ZCodePrimary, claim, z_code_primary=policy)
    if severity is None:
        assert findings == []
    else:
        [finding] = findings
        assert finding.severity is severity and finding.path == "Claim.diagnosis[0].diagnosisCodeableConcept"
        assert "the primary diagnosis Z63.0 is a Z-code; payer profile test" in finding.message


def test_z_code_primary_path_follows_the_sequence_not_the_array_order():
    claim = set_diagnoses(demo_claim("enc-022"), "F41.1", "Z63.0")
    claim["diagnosis"][0]["sequence"], claim["diagnosis"][1]["sequence"] = 2, 1
    [finding] = run_rule(codes.ZCodePrimary, claim, z_code_primary="error")
    assert finding.path == "Claim.diagnosis[1].diagnosisCodeableConcept"


def test_default_profile_warns_on_a_z_code_first():
    claim = set_diagnoses(demo_claim("enc-022"), "Z63.0")
    [finding] = run_rule(codes.ZCodePrimary, claim)
    assert finding.severity is Severity.WARNING


# ------------------------------------------------------------------------------------------ performance


def test_code_rules_are_fast_once_warm():
    claim = set_diagnoses(demo_claim("enc-002"), "F41.1", "Z63.0", "F32.A")
    facts = facts_of(claim)
    codes.warm_up()
    for rule in codes.RULES:
        run_rule(rule, facts)
    rules = [rule() for rule in codes.RULES]
    profile = PayerProfile(name="default")
    ctx = context()
    start = time.perf_counter()
    for _ in range(5000):
        for rule in rules:
            list(rule.check(facts, profile, ctx))
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"5,000 claims through codes.* took {elapsed:.2f} s"


def test_messages_never_carry_patient_names_birth_dates_or_member_ids():
    claim = set_diagnoses(demo_claim("enc-022"), "Z63.0", "F41", "F41.X")
    set_code(claim, 0, "9O834")
    set_modifiers(claim, 0, "9")
    item(claim, 0)["servicedDate"] = "2014-05-01"
    patient = next(r for r in claim["contained"] if r["id"] == "patient")
    coverage = next(r for r in claim["contained"] if r["id"] == "coverage")
    secrets = [patient["name"][0]["family"], patient["birthDate"], coverage["subscriberId"]]
    messages = " ".join(f.message + f.fix for rule in codes.RULES for f in run_rule(rule, claim))
    assert len(messages) > 200 and not any(s in messages for s in secrets)
