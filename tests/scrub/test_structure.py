"""structure.* rules: each passes on every clean demo claim and fails on a claim broken the way it checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from claimbridge.claims import systems
from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.rules import structure
from claimbridge.claims.scrub.rules.authorizations import RULES as AUTHORIZATION_RULES
from claimbridge.claims.scrub.rules.dates import RULES as DATE_RULES
from claimbridge.claims.scrub.rules.duplicates import RULES as DUPLICATE_RULES
from claimbridge.claims.scrub.rules.identity import RULES as IDENTITY_RULES
from claimbridge.claims.scrub.rules.replacement import RULES as REPLACEMENT_RULES

from .conftest import CLEAN_IDS, contained, demo_claim, item, run_rule, set_modifiers, set_pos, set_units

MINE = [*structure.RULES, *IDENTITY_RULES, *DATE_RULES, *AUTHORIZATION_RULES, *DUPLICATE_RULES,
        *REPLACEMENT_RULES]


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_clean_demo_claims_pass_every_structural_and_administrative_rule(encounter_id):
    claim = demo_claim(encounter_id)
    for rule in MINE:
        assert run_rule(rule, claim) == [], rule.id


def _identifiers(claim, local_id, keep):
    res = contained(claim, local_id)
    res["identifier"] = [i for i in res.get("identifier", []) if keep(i)]


def drop_billing_npi(c):
    _identifiers(c, "billing", lambda i: i.get("system") != systems.NPI)


def drop_tin(c):
    _identifiers(c, "billing", lambda i: i.get("system") != systems.TIN)


def short_tin(c):
    next(i for i in contained(c, "billing")["identifier"] if i["system"] == systems.TIN)["value"] = "36482917"


def po_box(c):
    contained(c, "billing")["address"][0]["line"] = ["P.O. Box 4410"]


def no_street(c):
    contained(c, "billing")["address"] = []


def no_city(c):
    del contained(c, "billing")["address"][0]["city"]


def zip5(c):
    contained(c, "billing")["address"][0]["postalCode"] = "62701"


def no_billing_name(c):
    del contained(c, "billing")["name"]


def no_member_id(c):
    del contained(c, "coverage")["subscriberId"]


def no_payer_id(c):
    contained(c, "payer")["identifier"] = []


def no_family(c):
    contained(c, "patient")["name"] = [{"given": ["A"]}]


def no_birth(c):
    del contained(c, "patient")["birthDate"]


def bad_birth(c):
    contained(c, "patient")["birthDate"] = "1988-02-30"


def no_sex(c):
    del contained(c, "patient")["gender"]


def no_care_team(c):
    c["careTeam"] = []


def rendering_without_npi(c):
    contained(c, "rendering")["identifier"] = []


def no_diagnosis(c):
    c["diagnosis"] = []


def thirteen_diagnoses(c):
    c["diagnosis"] = [{"sequence": n, "diagnosisCodeableConcept": {"coding": [
        {"system": systems.ICD10CM, "code": f"F4{n % 10}.1"}]}} for n in range(1, 14)]


def no_items(c):
    c["item"] = []


def snomed_only(c):
    item(c)["productOrService"] = {"coding": [{"system": systems.SNOMED, "code": "75516001"}]}


def no_date(c):
    del item(c)["servicedDate"]


def no_pos(c):
    del item(c)["locationCodeableConcept"]


def bad_pos(c):
    set_pos(c, 0, "1")


def total_off(c):
    c["total"]["value"] += Decimal("1.00")


def no_total(c):
    del c["total"]


def zero_charge(c):
    item(c)["net"]["value"] = Decimal("0.00")
    c["total"]["value"] = Decimal("0.00")


def no_charge(c):
    del item(c)["net"]


def zero_units(c):
    set_units(c, 0, 0)


def five_modifiers(c):
    set_modifiers(c, 0, "95", "GT", "HQ", "59", "XE")


def no_pointers(c):
    item(c)["diagnosisSequence"] = []


def five_pointers(c):
    item(c)["diagnosisSequence"] = [1, 1, 1, 1, 1]


def dangling_pointer(c):
    item(c)["diagnosisSequence"] = [1, 3]


BROKEN = [
    (structure.BillingNpi, drop_billing_npi, "no NPI"),
    (structure.BillingTaxId, drop_tin, "no tax id"),
    (structure.BillingTaxId, short_tin, "not 9 digits"),
    (structure.BillingAddress, po_box, "PO box"),
    (structure.BillingAddress, no_street, "no street address"),
    (structure.BillingAddress, no_city, "lacks city"),
    (structure.BillingAddress, zip5, "62701 is not a 9-digit"),
    (structure.BillingName, no_billing_name, "no name"),
    (structure.SubscriberMemberId, no_member_id, "no member id"),
    (structure.PayerId, no_payer_id, "no payer id"),
    (structure.PatientName, no_family, "no family name"),
    (structure.PatientBirthDate, no_birth, "no (valid) birth date"),
    (structure.PatientBirthDate, bad_birth, "no (valid) birth date"),
    (structure.PatientSex, no_sex, "not recorded"),
    (structure.RenderingProvider, no_care_team, "no rendering provider"),
    (structure.RenderingProvider, rendering_without_npi, "rendering provider has no NPI"),
    (structure.DiagnosisPresent, no_diagnosis, "no diagnosis"),
    (structure.DiagnosisCount, thirteen_diagnoses, "13 diagnoses"),
    (structure.LinePresent, no_items, "no service line"),
    (structure.LineCode, snomed_only, "line 1 has no CPT or HCPCS code"),
    (structure.LineServiceDate, no_date, "line 1 (90837) has no date of service"),
    (structure.LinePlaceOfService, no_pos, "no place of service"),
    (structure.LinePlaceOfService, bad_pos, "'1' is not a two-digit code"),
    (structure.TotalCharge, total_off, "total charge 186.00 is not the sum of the line charges (185.00)"),
    (structure.TotalCharge, no_total, "no total charge"),
    (structure.LineCharge, zero_charge, "charge 0.00"),
    (structure.LineCharge, no_charge, "has no charge"),
    (structure.LineUnits, zero_units, "0 units"),
    (structure.ModifierCount, five_modifiers, "5 modifiers (95, GT, HQ, 59, XE)"),
    (structure.PointerCount, no_pointers, "points at no diagnosis"),
    (structure.PointerCount, five_pointers, "points at 5 diagnoses"),
    (structure.PointerTarget, dangling_pointer, "points at diagnosis 3, which is not on the claim"),
]


@pytest.mark.parametrize(("rule", "break_claim", "expected"), BROKEN,
                         ids=[f"{r.id}-{f.__name__}" for r, f, _ in BROKEN])
def test_a_broken_claim_fails_the_rule(rule, break_claim, expected):
    claim = demo_claim("enc-002")  # 90837, one diagnosis, LKSHP
    assert run_rule(rule, claim) == []
    break_claim(claim)
    findings = run_rule(rule, claim)
    assert findings, f"{rule.id} found nothing"
    assert all(f.rule == rule.id for f in findings)
    assert any(expected in f.message for f in findings), [f.message for f in findings]
    assert all(f.fix and f.path.startswith("Claim") for f in findings)


def test_unknown_sex_is_only_a_warning():
    claim = demo_claim("enc-002")
    contained(claim, "patient")["gender"] = "unknown"
    [finding] = run_rule(structure.PatientSex, claim)
    assert finding.severity is Severity.WARNING and "U (unknown)" in finding.message


def test_line_findings_point_at_the_line():
    claim = demo_claim("enc-007")  # two lines
    set_units(claim, 1, 0)
    [finding] = run_rule(structure.LineUnits, claim)
    assert finding.path == "Claim.item[1].quantity" and "line 2 (96127)" in finding.message


def test_messages_never_carry_patient_names_birth_dates_or_member_ids():
    claim = demo_claim("enc-002")
    for breaker in (no_member_id, no_family, no_birth, bad_birth, no_sex, total_off, dangling_pointer):
        breaker(claim)
    patient = contained(demo_claim("enc-002"), "patient")
    secrets = [patient["name"][0]["family"], patient["birthDate"],
               contained(demo_claim("enc-002"), "coverage")["subscriberId"]]
    messages = " ".join(f.message + f.fix for rule in MINE for f in run_rule(rule, claim))
    assert messages and not any(s in messages for s in secrets)
