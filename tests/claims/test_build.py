"""build_claim against docs/claim-profile.md, row by row, using the demo practice's encounter bundles."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fhir.resources.R4B.claim import Claim

from claimbridge.claims import systems
from claimbridge.claims.build import (
    build_claim,
    claim_from_json,
    claim_to_json,
    npi_check_digit_ok,
    validate_claim,
)
from claimbridge.claims.identifiers import make_pcn
from claimbridge.config import ClaimSettings, PayerSettings
from claimbridge.errors import ClaimBuildError, RecordError
from claimbridge.plugins.ehr_fhir import demo_data

from .conftest import CLEAN_IDS, TODAY, contained, drop, resource


def ext(node: dict, url: str):
    return next((e for e in node.get("extension", []) if e["url"] == url), None)


def item_codes(claim):
    return [i["productOrService"]["coding"][0]["code"] for i in claim["item"]]


def modifiers(item):
    return [m["coding"][0]["code"] for m in item.get("modifier", [])]


def pos(item):
    return item["locationCodeableConcept"]["coding"][0]["code"]


# ------------------------------------------------------------------------------------------ the demo set


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_every_clean_demo_encounter_builds(bundle_of, build, encounter_id):
    pcn = make_pcn("CB", int(encounter_id[-3:]), 1)
    claim = build(bundle_of(encounter_id), pcn=pcn)
    Claim.model_validate(claim)  # the whole Claim, contained resources included
    assert claim["resourceType"] == "Claim" and claim["status"] == "active" and claim["use"] == "claim"
    assert claim["type"]["coding"][0] == {"system": systems.CLAIM_TYPE, "code": "professional"}
    assert claim["identifier"] == [{"system": systems.PCN_SYSTEM, "value": pcn},
                                   {"system": systems.ENCOUNTER_KEY_SYSTEM,
                                    "value": f"demo/Encounter/{encounter_id}"}]
    assert ext(claim, systems.EXT_FREQUENCY)["valueCode"] == "1" and "related" not in claim
    assert claim["created"] == TODAY.isoformat()
    assert (claim["patient"], claim["provider"]) == ({"reference": "#patient"}, {"reference": "#billing"})
    ids = [r["id"] for r in claim["contained"]]
    assert {"patient", "coverage", "payer", "billing", "rendering", "encounter"} <= set(ids)
    assert len(ids) == len(set(ids))
    insurance = claim["insurance"][0]
    assert insurance["sequence"] == 1 and insurance["focal"] and insurance["coverage"] == {"reference": "#coverage"}
    assert claim["careTeam"][0]["role"]["coding"][0]["code"] == "primary"
    assert claim["careTeam"][0]["qualification"]["coding"][0]["system"] == systems.NUCC
    assert 1 <= len(claim["diagnosis"]) <= 12
    assert all("." in d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"])

    total = Decimal("0")
    controls = set()
    for seq, item in enumerate(claim["item"], start=1):
        assert item["sequence"] == seq and item["careTeamSequence"] == [1]
        assert 1 <= len(item["diagnosisSequence"]) <= 4
        assert item["productOrService"]["coding"][0]["system"] == systems.CPT
        assert item["servicedDate"] == claim["billablePeriod"]["start"] == claim["billablePeriod"]["end"]
        for money in (item["unitPrice"], item["net"]):
            assert isinstance(money["value"], Decimal) and money["value"].as_tuple().exponent == -2
            assert money["currency"] == "USD"
        assert item["net"]["value"] == (item["unitPrice"]["value"] * item["quantity"]["value"]).quantize(
            Decimal("0.01")) or ext(item, systems.EXT_MINUTES) is None
        assert item["encounter"] == [{"reference": "#encounter"}]
        control = ext(item, systems.EXT_LINE_CONTROL)["valueString"]
        assert control == f"{pcn}{seq:03d}" and len(control) <= 30
        controls.add(control)
        total += item["net"]["value"]
    assert len(controls) == len(claim["item"])
    assert claim["total"] == {"value": total, "currency": "USD"}

    text = claim_to_json(claim)
    assert claim_from_json(text) == claim_from_json(claim_to_json(claim_from_json(text)))
    assert claim_from_json(text)["total"]["value"] == total


def test_building_is_deterministic(bundle_of, build):
    assert claim_to_json(build(bundle_of("enc-015"))) == claim_to_json(build(bundle_of("enc-015")))


def test_demo_encounter_without_coverage_is_held(bundle_of, build):
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle_of("enc-026"))
    err = caught.value
    assert isinstance(err, RecordError)
    assert err.record == "Encounter/enc-026" and err.field == "Coverage"
    assert "insurance" in err.reason
    assert_no_phi(str(err), bundle_of("enc-026"))


def test_demo_encounter_with_unknown_code_is_held(bundle_of, build):
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle_of("enc-027"))
    err = caught.value
    assert err.record == "Encounter/enc-027" and err.field == "Encounter.type"
    assert "ADMIN15" in err.reason and "code_map" in err.reason
    assert_no_phi(str(err), bundle_of("enc-027"))


@pytest.mark.parametrize("encounter_id", demo_data.MAPPED_CODE_ENCOUNTERS)
def test_snomed_and_local_codes_need_the_code_map(bundle_of, build, encounter_id):
    assert item_codes(build(bundle_of(encounter_id))) in (["90837"], ["90791"], ["90834"])
    with pytest.raises(ClaimBuildError, match="no CPT or HCPCS") as caught:
        build(bundle_of(encounter_id, code_map={}))
    assert caught.value.field == "Encounter.type"


def assert_no_phi(message: str, bundle: dict) -> None:
    for entry in bundle["entry"]:
        r = entry["resource"]
        if r["resourceType"] in ("Patient", "RelatedPerson"):
            assert r["birthDate"] not in message
            for name in r.get("name", []):
                assert name["family"] not in message
                assert all(g not in message for g in name.get("given", []))
        if r["resourceType"] == "Coverage":
            assert r["subscriberId"] not in message


# ------------------------------------------------------------------------------------- people and payers


def test_self_subscriber(bundle_of, build):
    claim = build(bundle_of("enc-001"))
    coverage = contained(claim, "coverage")
    assert coverage["subscriber"] == {"reference": "#patient"}
    assert coverage["beneficiary"] == {"reference": "#patient"} and coverage["payor"] == [{"reference": "#payer"}]
    assert coverage["relationship"]["coding"][0] == {"system": systems.SUBSCRIBER_RELATIONSHIP, "code": "self"}
    assert coverage["type"]["coding"][0] == {"system": systems.CLAIM_FILING_INDICATOR, "code": "CI"}
    assert coverage["subscriberId"] == "LKH40917723"
    assert contained(claim, "subscriber") is None
    payer = contained(claim, "payer")
    assert payer["name"] == "Lakeshore Health Plan"
    assert payer["identifier"] == [{"type": {"coding": [{"system": systems.V2_0203, "code": "NIIP"}]},
                                    "value": "LKSHP"}]
    patient = contained(claim, "patient")
    assert patient["birthDate"] == "1988-04-17" and patient["gender"] == "female"
    assert patient["address"][0]["postalCode"] == "627041188"


def test_child_of_a_related_person(bundle_of, build):
    claim = build(bundle_of("enc-015"))
    coverage = contained(claim, "coverage")
    assert coverage["relationship"]["coding"][0]["code"] == "child"
    assert coverage["subscriber"] == {"reference": "#subscriber"}
    subscriber = contained(claim, "subscriber")
    assert subscriber["resourceType"] == "RelatedPerson" and subscriber["patient"] == {"reference": "#patient"}
    assert subscriber["name"][0]["given"] == ["Rosalind"]


def test_spouse_subscribed_as_a_patient(bundle_of, build):
    claim = build(bundle_of("enc-022"))
    assert contained(claim, "coverage")["relationship"]["coding"][0]["code"] == "spouse"
    subscriber = contained(claim, "subscriber")
    assert subscriber["resourceType"] == "Patient" and subscriber["name"][0]["given"] == ["Samuel"]


def test_primary_coverage_by_order_and_inactive_ones_ignored(bundle_of, build):
    assert contained(build(bundle_of("enc-020")), "payer")["identifier"][0]["value"] == "LKSHP"
    bundle = bundle_of("enc-020")
    resource(bundle, "Coverage/cov-05")["order"] = 3
    assert contained(build(bundle), "payer")["identifier"][0]["value"] == "PSMCD"
    assert contained(build(bundle), "coverage")["type"]["coding"][0]["code"] == "MC"
    bundle = bundle_of("enc-001")  # pat-01 also has a cancelled plan
    assert contained(build(bundle), "payer")["identifier"][0]["value"] == "LKSHP"


@pytest.mark.parametrize("change", ["cancelled", "expired", "future"])
def test_coverage_must_be_active_on_the_service_date(bundle_of, build, change):
    bundle = bundle_of("enc-005")
    cov = resource(bundle, "Coverage/cov-01")
    if change == "cancelled":
        cov["status"] = "cancelled"
    elif change == "expired":
        cov["period"] = {"start": "2020-01-01", "end": "2025-12-31"}
    else:
        cov["period"] = {"start": "2027-01-01"}
    with pytest.raises(ClaimBuildError, match="no active Coverage") as caught:
        build(bundle)
    assert caught.value.field == "Coverage"


def test_partial_coverage_dates_are_compared_by_precision(bundle_of, build):
    bundle = bundle_of("enc-005")
    resource(bundle, "Coverage/cov-01")["period"] = {"start": "2026", "end": "2026-11"}
    build(bundle)


def test_filing_indicator_from_payer_settings_when_coverage_has_no_type(bundle_of, build):
    bundle = bundle_of("enc-006")
    del resource(bundle, "Coverage/cov-02")["type"]
    assert contained(build(bundle), "coverage")["type"]["coding"][0]["code"] == "MC"
    bundle = bundle_of("enc-001")
    del resource(bundle, "Coverage/cov-01")["type"]
    assert contained(build(bundle), "coverage")["type"]["coding"][0]["code"] == "CI"  # default_payer


def test_payer_id_falls_back_to_first_identifier(bundle_of, build):
    bundle = bundle_of("enc-001")
    resource(bundle, "Organization/payer-lakeshore")["identifier"] = [{"value": "LK999"}]
    assert contained(build(bundle), "payer")["identifier"][0]["value"] == "LK999"


def test_payer_without_id(bundle_of, build):
    bundle = bundle_of("enc-001")
    del resource(bundle, "Organization/payer-lakeshore")["identifier"]
    with pytest.raises(ClaimBuildError, match="NIIP") as caught:
        build(bundle)
    assert caught.value.field == "Organization.identifier"


def test_coverage_without_member_id(bundle_of, build):
    bundle = bundle_of("enc-001")
    del resource(bundle, "Coverage/cov-01")["subscriberId"]
    with pytest.raises(ClaimBuildError, match="member id") as caught:
        build(bundle)
    assert caught.value.field == "Coverage.subscriberId"


def test_dependent_without_subscriber(bundle_of, build):
    bundle = bundle_of("enc-015")
    del resource(bundle, "Coverage/cov-04")["subscriber"]
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle)
    assert caught.value.field == "Coverage.subscriber"


def test_patient_without_birth_date(bundle_of, build):
    bundle = bundle_of("enc-002")
    del resource(bundle, "Patient/pat-01")["birthDate"]
    with pytest.raises(ClaimBuildError, match="birth date") as caught:
        build(bundle)
    assert (caught.value.record, caught.value.field) == ("Encounter/enc-002", "Patient.birthDate")


def test_invalid_birth_date_is_named_without_its_value(bundle_of, build):
    bundle = bundle_of("enc-002")
    resource(bundle, "Patient/pat-01")["birthDate"] = "1988-13-45"
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle)
    assert caught.value.field == "Patient.birthDate"
    assert "1988-13-45" not in str(caught.value)


# --------------------------------------------------------------------------------------------- providers


def test_billing_provider_from_service_provider(bundle_of, build, practice):
    billing = contained(build(bundle_of("enc-001")), "billing")
    assert billing["identifier"] == [{"system": systems.NPI, "value": demo_data.PRACTICE_NPI},
                                     {"system": systems.TIN, "value": demo_data.PRACTICE_TIN},
                                     {"system": systems.NUCC, "value": demo_data.PRACTICE_TAXONOMY}]
    assert billing["name"] == "Riverbend Counseling Group PLLC"
    assert billing["address"][0]["line"][0] == "410 Harbor Street"
    assert billing["telecom"][0]["value"] == "2175550100"


def test_billing_provider_of_another_group(bundle_of, build):
    bundle = bundle_of("enc-001")
    org = resource(bundle, "Organization/org-practice")
    org["identifier"] = [{"system": systems.NPI, "value": "1234567893"}, {"system": systems.TIN, "value": "12-3456789"}]
    billing = contained(build(bundle), "billing")
    assert billing["identifier"] == [{"system": systems.NPI, "value": "1234567893"},
                                     {"system": systems.TIN, "value": "123456789"}]
    del org["address"]
    with pytest.raises(ClaimBuildError, match="street address") as caught:
        build(bundle)
    assert caught.value.field == "Organization.address"
    org["identifier"] = [{"system": systems.NPI, "value": "1234567893"}]
    with pytest.raises(ClaimBuildError, match="tax id"):
        build(bundle)


@pytest.mark.parametrize("how", ["absent", "no NPI"])
def test_billing_provider_falls_back_to_the_practice(bundle_of, build, claim_settings, practice, how):
    bundle = bundle_of("enc-001")
    if how == "absent":
        del resource(bundle, "Encounter/enc-001")["serviceProvider"]
    else:
        org = resource(bundle, "Organization/org-practice")
        org["identifier"] = [i for i in org["identifier"] if i.get("system") != systems.NPI]
    billing = contained(build(bundle), "billing")
    assert billing["identifier"][0] == {"system": systems.NPI, "value": practice.npi}
    assert billing["identifier"][1] == {"system": systems.TIN, "value": practice.tax_id}
    assert billing["address"][0]["postalCode"] == practice.address.postal_code
    assert billing["name"] == practice.name


def test_rendering_and_taxonomy_from_practitioner_role(bundle_of, build):
    claim = build(bundle_of("enc-001"))
    rendering = contained(claim, "rendering")
    assert rendering["identifier"] == [{"system": systems.NPI, "value": "1540388620"}]
    assert rendering["name"][0]["family"] == "Quintero-Vale"
    assert claim["careTeam"] == [{"sequence": 1, "provider": {"reference": "#rendering"}, "responsible": True,
                                  "role": {"coding": [{"system": systems.CARE_TEAM_ROLE, "code": "primary"}]},
                                  "qualification": {"coding": [{"system": systems.NUCC, "code": "103TC0700X"}]}}]


def test_taxonomy_from_qualification_or_none(bundle_of, build):
    bundle = bundle_of("enc-001")
    drop(bundle, "PractitionerRole/role-psychologist")
    resource(bundle, "Practitioner/prac-psychologist")["qualification"] = [
        {"code": {"coding": [{"system": systems.NUCC, "code": "103T00000X"}]}}]
    assert build(bundle)["careTeam"][0]["qualification"]["coding"][0]["code"] == "103T00000X"
    del resource(bundle, "Practitioner/prac-psychologist")["qualification"]
    assert "qualification" not in build(bundle)["careTeam"][0]


def test_supervised_associate(bundle_of, build):
    claim = build(bundle_of("enc-011"))
    assert contained(claim, "rendering")["identifier"][0]["value"] == "1436219871"
    assert contained(claim, "supervisor")["identifier"][0]["value"] == "1983371067"
    assert claim["careTeam"][0]["qualification"]["coding"][0]["code"] == "101YM0800X"
    assert claim["careTeam"][1] == {"sequence": 2, "provider": {"reference": "#supervisor"},
                                    "role": {"coding": [{"system": systems.CARE_TEAM_ROLE, "code": "supervisor"}]}}


def test_rendering_falls_back_to_attender_then_first_participant(bundle_of, build):
    bundle = bundle_of("enc-011")
    enc = resource(bundle, "Encounter/enc-011")
    enc["participant"][0]["type"][0]["coding"][0]["code"] = "ATND"
    enc["participant"].reverse()
    claim = build(bundle)
    assert contained(claim, "rendering")["identifier"][0]["value"] == "1436219871"
    for p in enc["participant"]:
        del p["type"]
    claim = build(bundle)
    assert contained(claim, "rendering")["identifier"][0]["value"] == "1983371067"  # now the first one
    assert contained(claim, "supervisor") is None


def test_participant_may_be_a_practitioner_role(bundle_of, build):
    bundle = bundle_of("enc-001")
    resource(bundle, "Encounter/enc-001")["participant"][0]["individual"] = {
        "reference": "PractitionerRole/role-psychologist"}
    claim = build(bundle)
    assert contained(claim, "rendering")["identifier"][0]["value"] == "1540388620"
    assert claim["careTeam"][0]["qualification"]["coding"][0]["code"] == "103TC0700X"


def test_practitioner_without_npi(bundle_of, build):
    bundle = bundle_of("enc-011")
    resource(bundle, "Practitioner/prac-lpc")["identifier"] = []
    with pytest.raises(ClaimBuildError, match="supervising clinician Practitioner/prac-lpc has no NPI") as caught:
        build(bundle)
    assert caught.value.field == "Practitioner.identifier"
    resource(bundle, "Practitioner/prac-associate")["identifier"] = []
    with pytest.raises(ClaimBuildError, match="rendering clinician Practitioner/prac-associate has no NPI"):
        build(bundle)


def test_encounter_without_participants(bundle_of, build):
    bundle = bundle_of("enc-001")
    del resource(bundle, "Encounter/enc-001")["participant"]
    with pytest.raises(ClaimBuildError, match="no rendering clinician") as caught:
        build(bundle)
    assert caught.value.field == "Encounter.participant"


def test_unresolved_reference(bundle_of, build):
    bundle = bundle_of("enc-001")
    drop(bundle, "Practitioner/prac-psychologist")
    with pytest.raises(ClaimBuildError, match="not in the encounter bundle") as caught:
        build(bundle)
    assert caught.value.field == "Encounter.participant.individual"
    assert "Practitioner/prac-psychologist" in caught.value.reason


def test_unresolved_conditional_reference_hides_its_identifier(bundle_of, build):
    bundle = bundle_of("enc-001")
    resource(bundle, "Encounter/enc-001")["subject"] = {
        "reference": "Patient?identifier=http://hl7.org/fhir/sid/us-ssn|999001234"}
    with pytest.raises(ClaimBuildError, match="conditional Patient reference") as caught:
        build(bundle)
    assert "999001234" not in str(caught.value)
    assert caught.value.field == "Encounter.subject"


# -------------------------------------------------------------------------------------------- diagnoses


def test_diagnoses_by_rank(bundle_of, build):
    def codes(claim):
        return [d["diagnosisCodeableConcept"]["coding"][0]["code"] for d in claim["diagnosis"]]
    assert codes(build(bundle_of("enc-016"))) == ["F90.0", "Z62.820"]
    assert codes(build(bundle_of("enc-025"))) == ["F41.1", "Z63.0"]
    bundle = bundle_of("enc-016")
    for d in resource(bundle, "Encounter/enc-016")["diagnosis"]:
        d["rank"] = 3 - d["rank"]
    claim = build(bundle)
    assert codes(claim) == ["Z62.820", "F90.0"]
    assert claim["item"][0]["diagnosisSequence"] == [1, 2]
    assert [d["sequence"] for d in claim["diagnosis"]] == [1, 2]


def test_diagnosis_codes_get_their_dot(bundle_of, build):
    bundle = bundle_of("enc-011")
    resource(bundle, "Condition/cond-03-f4323")["code"]["coding"][0]["code"] = "f4323"
    assert build(bundle)["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "F43.23"


def test_reason_code_when_no_diagnosis(bundle_of, build):
    bundle = bundle_of("enc-002")
    enc = resource(bundle, "Encounter/enc-002")
    del enc["diagnosis"]
    enc["reasonCode"] = [{"coding": [{"system": "http://snomed.info/sct", "code": "21897009"},
                                     {"system": systems.ICD10CM, "code": "F41.1"}]}]
    assert build(bundle)["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] == "F41.1"


def test_missing_diagnosis(bundle_of, build):
    bundle = bundle_of("enc-002")
    resource(bundle, "Condition/cond-01-f411")["code"] = {"coding": [{"system": "http://snomed.info/sct",
                                                                      "code": "21897009"}]}
    with pytest.raises(ClaimBuildError, match="no ICD-10-CM diagnosis .found 21897009") as caught:
        build(bundle)
    assert caught.value.field == "Encounter.diagnosis"
    del resource(bundle, "Encounter/enc-002")["diagnosis"]
    with pytest.raises(ClaimBuildError, match="no ICD-10-CM diagnosis"):
        build(bundle)


def test_at_most_four_pointers_and_twelve_diagnoses(bundle_of, build):
    bundle = bundle_of("enc-002")
    enc = resource(bundle, "Encounter/enc-002")
    codes = [f"F{40 + n}.{n % 10}" for n in range(14)]
    for n, code in enumerate(codes):
        bundle["entry"].append({"fullUrl": f"Condition/x{n}", "resource": {
            "resourceType": "Condition", "id": f"x{n}", "subject": {"reference": "Patient/pat-01"},
            "code": {"coding": [{"system": systems.ICD10CM, "code": code}]}}})
        enc["diagnosis"].append({"condition": {"reference": f"Condition/x{n}"}, "rank": n + 2})
    claim = build(bundle)
    assert len(claim["diagnosis"]) == 12 and claim["item"][0]["diagnosisSequence"] == [1, 2, 3, 4]


# ------------------------------------------------------------------------------------- lines and charges


def test_lines_from_charge_items(bundle_of, build):
    claim = build(bundle_of("enc-007"))
    assert item_codes(claim) == ["90834", "96127"]
    first, second = claim["item"]
    assert second["quantity"] == {"value": Decimal(2)}
    assert second["unitPrice"]["value"] == Decimal("15.00") and second["net"]["value"] == Decimal("30.00")
    assert ext(first, systems.EXT_MINUTES)["valueDecimal"] == Decimal(45)
    assert ext(second, systems.EXT_MINUTES) is None  # 96127 is not time-based
    assert claim["total"]["value"] == Decimal("170.00")


def test_charge_item_price_override_is_the_line_total(bundle_of, build):
    claim = build(bundle_of("enc-021"))
    assert claim["item"][0]["net"]["value"] == Decimal("45.00")
    bundle = bundle_of("enc-021")
    charge = resource(bundle, "ChargeItem/chg-021-1")
    charge["quantity"] = {"value": 3}
    charge["priceOverride"] = {"value": 100, "currency": "USD"}
    item = build(bundle)["item"][0]
    assert item["net"]["value"] == Decimal("100.00") and item["unitPrice"]["value"] == Decimal("33.33")


def test_charge_item_without_cpt(bundle_of, build):
    bundle = bundle_of("enc-007")
    resource(bundle, "ChargeItem/chg-007-2")["code"] = {"coding": [{"system": "urn:local", "code": "SCREEN"}]}
    with pytest.raises(ClaimBuildError, match="ChargeItem/chg-007-2 has no CPT or HCPCS code .SCREEN") as caught:
        build(bundle)
    assert caught.value.field == "ChargeItem.code"


def test_cancelled_charge_items_are_skipped(bundle_of, build):
    bundle = bundle_of("enc-007")
    resource(bundle, "ChargeItem/chg-007-2")["status"] = "entered-in-error"
    assert item_codes(build(bundle)) == ["90834"]


def test_lines_from_procedures_before_encounter_type(bundle_of, build):
    bundle = bundle_of("enc-004")
    resource(bundle, "Procedure/proc-004")["code"]["coding"][0]["code"] = "90832"
    assert item_codes(build(bundle)) == ["90832"]  # the Procedure wins over Encounter.type (90834)
    resource(bundle, "Procedure/proc-004")["code"] = {"coding": [{"system": "http://snomed.info/sct",
                                                                  "code": "75516001"}]}
    assert item_codes(build(bundle)) == ["90834"]  # a SNOMED-only procedure: Encounter.type is used


def test_hcpcs_codes_are_billed(bundle_of, build, claim_settings, practice):
    bundle = bundle_of("enc-006")
    resource(bundle, "Encounter/enc-006")["type"] = [{"coding": [{"system": systems.HCPCS, "code": "H0031"}]}]
    settings = claim_settings.model_copy(update={"fee_schedule": {"H0031": Decimal("80.00")}})
    claim = build(bundle, claim_settings=settings)
    assert claim["item"][0]["productOrService"]["coding"][0] == {"system": systems.HCPCS, "code": "H0031"}


def test_no_price_anywhere(bundle_of, build, claim_settings):
    settings = claim_settings.model_copy(update={"fee_schedule": {"90791": Decimal("200.00")}})
    with pytest.raises(ClaimBuildError, match="no price for 90837.*claims.fee_schedule") as caught:
        build(bundle_of("enc-002"), claim_settings=settings)
    assert caught.value.field == "ChargeItem.priceOverride"


def test_modifiers_from_extension(bundle_of, build):
    assert modifiers(build(bundle_of("enc-010"))["item"][0]) == ["HQ"]


def test_too_many_modifiers(bundle_of, build):
    bundle = bundle_of("enc-003")
    resource(bundle, "Encounter/enc-003")["type"][0]["extension"] = [
        {"url": systems.EXT_MODIFIER, "valueString": m} for m in ("HO", "HN", "59", "XE")]
    with pytest.raises(ClaimBuildError, match="at most 4"):
        build(bundle)


# ---------------------------------------------------------------------------------------- place and time


def test_telehealth_per_payer(bundle_of, build):
    commercial = build(bundle_of("enc-003"))["item"][0]
    assert (modifiers(commercial), pos(commercial)) == (["95"], "10")
    medicaid = build(bundle_of("enc-009"))["item"][0]
    assert (modifiers(medicaid), pos(medicaid)) == (["GT"], "02")
    in_person = build(bundle_of("enc-002"))["item"][0]
    assert (modifiers(in_person), pos(in_person)) == ([], "11")


def test_telehealth_modifier_none(bundle_of, build, claim_settings):
    settings = claim_settings.model_copy(update={"payers": {
        "LKSHP": PayerSettings(telehealth_modifier="none", telehealth_pos="02")}})
    item = build(bundle_of("enc-003"), claim_settings=settings)["item"][0]
    assert (modifiers(item), pos(item)) == ([], "02")
    default = ClaimSettings(fee_schedule=demo_data.demo_fee_schedule())
    item = build(bundle_of("enc-003"), claim_settings=default)["item"][0]
    assert (modifiers(item), pos(item)) == (["95"], "10")


def test_place_of_service_from_location(bundle_of, build):
    bundle = bundle_of("enc-002")
    resource(bundle, "Location/loc-main")["type"][0]["coding"][0]["code"] = "53"
    assert pos(build(bundle)["item"][0]) == "53"
    del resource(bundle, "Location/loc-main")["type"]
    assert pos(build(bundle)["item"][0]) == "11"
    del resource(bundle, "Encounter/enc-002")["location"]
    assert pos(build(bundle)["item"][0]) == "11"


def test_service_facility_only_when_elsewhere_and_in_person(bundle_of, build):
    claim = build(bundle_of("enc-012"))
    facility = contained(claim, "facility")
    assert facility["address"]["line"] == ["88 Elm Avenue"] and facility["name"].endswith("Annex")
    assert contained(build(bundle_of("enc-011")), "facility") is None  # at the billing address
    bundle = bundle_of("enc-012")
    resource(bundle, "Encounter/enc-012")["class"]["code"] = "VR"
    assert contained(build(bundle), "facility") is None


def test_minutes_from_length_else_period(bundle_of, build):
    assert ext(build(bundle_of("enc-003"))["item"][0], systems.EXT_MINUTES)["valueDecimal"] == 57
    assert ext(build(bundle_of("enc-005"))["item"][0], systems.EXT_MINUTES)["valueDecimal"] == 48
    bundle = bundle_of("enc-003")
    resource(bundle, "Encounter/enc-003")["length"] = {"value": 1, "unit": "h"}
    assert ext(build(bundle)["item"][0], systems.EXT_MINUTES)["valueDecimal"] == 60
    assert ext(build(bundle_of("enc-001"))["item"][0], systems.EXT_MINUTES) is None  # 90791 is not time-based
    enc_claim = contained(build(bundle_of("enc-003")), "encounter")
    assert enc_claim["class"]["code"] == "VR" and enc_claim["length"]["value"] == 57 and "period" in enc_claim


def test_encounter_must_be_finished_and_dated(bundle_of, build):
    bundle = bundle_of("enc-002")
    resource(bundle, "Encounter/enc-002")["status"] = "in-progress"
    with pytest.raises(ClaimBuildError, match="only finished"):
        build(bundle)
    bundle = bundle_of("enc-002")
    del resource(bundle, "Encounter/enc-002")["period"]
    with pytest.raises(ClaimBuildError, match="no start date") as caught:
        build(bundle)
    assert caught.value.field == "Encounter.period.start"


def test_prior_authorization(bundle_of, build):
    assert build(bundle_of("enc-008"))["insurance"][0]["preAuthRef"] == ["PA26-0048812"]
    assert "preAuthRef" not in build(bundle_of("enc-007"))["insurance"][0]


# --------------------------------------------------------------------------------- frequency and checks


@pytest.mark.parametrize("frequency", ["7", "8"])
def test_replacement_and_void(bundle_of, build, frequency):
    claim = build(bundle_of("enc-002"), frequency=frequency, payer_claim_number=" 2026331000123 ",
                  pcn=make_pcn("CB", 41, 2), version=2)
    assert ext(claim, systems.EXT_FREQUENCY)["valueCode"] == frequency
    assert claim["related"] == [{
        "relationship": {"coding": [{"system": systems.RELATED_CLAIM_RELATIONSHIP, "code": "prior"}]},
        "reference": {"value": "2026331000123"}}]
    with pytest.raises(ClaimBuildError, match="payer's claim number") as caught:
        build(bundle_of("enc-002"), frequency=frequency)
    assert caught.value.field == "Claim.related.reference"


def test_caller_mistakes_are_value_errors(bundle_of, build):
    with pytest.raises(ValueError):
        build(bundle_of("enc-002"), frequency="2")
    with pytest.raises(ValueError):
        build(bundle_of("enc-002"), pcn="cb-1")
    with pytest.raises(ValueError):
        build(bundle_of("enc-002"), version=0)


def test_not_an_encounter_bundle(build):
    with pytest.raises(ClaimBuildError, match="not a FHIR Bundle"):
        build({"resourceType": "Encounter"})
    with pytest.raises(ClaimBuildError, match="start with an Encounter"):
        build({"resourceType": "Bundle", "type": "collection", "entry": []})


def test_validate_claim_names_the_field(bundle_of, build):
    claim = build(bundle_of("enc-007"))
    validate_claim(claim, record="demo/Encounter/enc-007")
    claim["item"][1]["servicedDate"] = "yesterday"
    with pytest.raises(ClaimBuildError) as caught:
        validate_claim(claim, record="demo/Encounter/enc-007")
    assert caught.value.field == "Claim.item[1].servicedDate"
    assert caught.value.record == "demo/Encounter/enc-007"
    claim = build(bundle_of("enc-007"))
    contained(claim, "patient")["birthDate"] = "not a date"
    with pytest.raises(ClaimBuildError) as caught:
        validate_claim(claim)
    assert caught.value.field == "Patient.birthDate"


def test_remembered_validation_does_not_hide_new_errors(bundle_of, build):
    build(bundle_of("enc-002"))
    bundle = bundle_of("enc-002")
    resource(bundle, "Encounter/enc-002")["period"]["start"] = "2026-02-30T09:00:00-06:00"
    with pytest.raises(ClaimBuildError, match="not a calendar date"):
        build(bundle)
    bundle = bundle_of("enc-002")
    resource(bundle, "Encounter/enc-002")["type"][0]["coding"][0]["code"] = "908  37 "
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle, claim_settings=ClaimSettings(fee_schedule={"908  37": Decimal(1)}))
    assert caught.value.field.startswith("Claim.item[0].productOrService")


def test_input_bundle_is_not_changed(bundle_of, build):
    bundle = bundle_of("enc-015")
    before = claim_to_json(bundle)
    claim = build(bundle)
    assert claim_to_json(bundle) == before
    contained(claim, "patient")["name"][0]["family"] = "changed"
    assert claim_to_json(bundle) == before


def test_build_claim_signature(bundle_of, claim_settings, practice):
    claim = build_claim(bundle_of("enc-001"), source="demo", pcn="CB0000001501", version=1,
                        claim_settings=claim_settings, practice=practice, created=TODAY)
    assert claim["identifier"][0]["value"] == "CB0000001501"


def test_relationship_missing(bundle_of, build):
    bundle = bundle_of("enc-001")
    del resource(bundle, "Coverage/cov-01")["relationship"]
    assert contained(build(bundle), "coverage")["relationship"]["coding"][0]["code"] == "self"
    bundle = bundle_of("enc-015")
    del resource(bundle, "Coverage/cov-04")["relationship"]
    with pytest.raises(ClaimBuildError, match="no relationship") as caught:
        build(bundle)
    assert caught.value.field == "Coverage.relationship"


def test_unusual_relationship_codes_become_other(bundle_of, build):
    bundle = bundle_of("enc-015")
    resource(bundle, "Coverage/cov-04")["relationship"]["coding"][0]["code"] = "parent"
    assert contained(build(bundle), "coverage")["relationship"]["coding"][0]["code"] == "other"


def test_self_with_another_subscriber_is_contradictory(bundle_of, build):
    bundle = bundle_of("enc-015")
    resource(bundle, "Coverage/cov-04")["relationship"]["coding"][0]["code"] = "self"
    with pytest.raises(ClaimBuildError, match="relationship 'self'") as caught:
        build(bundle)
    assert caught.value.field == "Coverage.relationship"


def test_npi_check_digit(bundle_of, build, claim_settings, practice):
    assert npi_check_digit_ok("1234567893") and not npi_check_digit_ok("1234567890")
    assert not npi_check_digit_ok("123456789") and not npi_check_digit_ok("12345678 3")
    bundle = bundle_of("enc-001")
    resource(bundle, "Practitioner/prac-psychologist")["identifier"][0]["value"] = "1234567890"
    with pytest.raises(ClaimBuildError, match="rendering NPI 1234567890 of Practitioner/prac-psychologist is not "
                                              "10 digits with a valid check digit") as caught:
        build(bundle)
    assert caught.value.field == "Practitioner.identifier"
    bundle = bundle_of("enc-001")
    resource(bundle, "Organization/org-practice")["identifier"][0]["value"] = "1234567890"
    with pytest.raises(ClaimBuildError, match="billing NPI 1234567890"):
        build(bundle)
    bad_practice = practice.model_copy(update={"npi": "1234567890"})
    bundle = bundle_of("enc-001")
    del resource(bundle, "Encounter/enc-001")["serviceProvider"]
    with pytest.raises(ClaimBuildError, match="practice.npi"):
        build(bundle, practice=bad_practice)


def test_an_audio_only_session_gets_the_audio_only_modifier_and_keeps_the_marker(bundle_of, build):
    from claimbridge.claims.scrub.facts import facts_from_claim
    from claimbridge.claims.systems import EXT_AUDIO_ONLY

    bundle = bundle_of("enc-002")
    encounter = bundle["entry"][0]["resource"]
    encounter["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"}
    encounter["extension"] = [{"url": EXT_AUDIO_ONLY, "valueBoolean": True}]
    claim = build(bundle)
    modifiers = [m["coding"][0]["code"] for m in claim["item"][0].get("modifier", [])]
    assert "93" in modifiers and "95" not in modifiers and "GT" not in modifiers
    facts = facts_from_claim(claim)
    assert facts.telehealth and facts.audio_only
