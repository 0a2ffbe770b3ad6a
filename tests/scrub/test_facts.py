"""facts_from_claim on every demo claim and on broken ones; claim_from_file on bundles and bare claims."""

from __future__ import annotations

import json
from dataclasses import fields
from decimal import Decimal

import pytest

from claimbridge.claims import systems
from claimbridge.claims.scrub.base import ClaimFacts
from claimbridge.claims.scrub.facts import (
    EXT_AUDIO_ONLY,
    ScrubInputError,
    claim_from_document,
    claim_from_file,
    facts_from_claim,
    patient_key,
)

from .conftest import CLEAN_IDS, claim_bundle, contained, demo_claim, write_json


def _comparable(facts: ClaimFacts) -> dict:
    return {f.name: getattr(facts, f.name) for f in fields(facts) if f.name != "raw"}


@pytest.mark.parametrize("encounter_id", CLEAN_IDS)
def test_facts_of_every_demo_claim(encounter_id):
    claim = demo_claim(encounter_id)
    facts = facts_from_claim(claim)
    assert facts.pcn == claim["identifier"][0]["value"] and facts.frequency == "1"
    assert facts.billing_npi == "1847293010" and facts.billing_tax_id == "364829175"
    assert facts.billing_street == "410 Harbor Street" and facts.billing_address_complete
    assert facts.payer_id in ("LKSHP", "PSMCD") and facts.payer_name
    assert facts.subscriber_member_id and facts.patient_birth_date and facts.patient_name_present
    assert facts.patient_sex in ("male", "female") and facts.relationship in ("self", "spouse", "child")
    assert facts.rendering is not None and facts.rendering.npi and facts.rendering.taxonomy
    assert facts.rendering.path == "Claim.careTeam[0]"
    assert (facts.supervising is not None) == (encounter_id in ("enc-011", "enc-012", "enc-013", "enc-014"))
    assert facts.telehealth == (contained(claim, "encounter")["class"]["code"] == "VR")
    assert facts.diagnoses and all("." in d for d in facts.diagnoses)
    assert facts.diagnosis_sequences == tuple(range(1, len(facts.diagnoses) + 1))
    assert len(facts.lines) == len(claim["item"])
    assert facts.total == sum(line.charge for line in facts.lines)
    for line, item in zip(facts.lines, claim["item"], strict=True):
        assert line.code == item["productOrService"]["coding"][0]["code"] and line.code_system == systems.CPT
        assert line.service_date.isoformat() == item["servicedDate"] and line.pos in ("02", "10", "11")
        assert line.units > 0 and line.charge > 0 and line.diagnosis_pointers
        assert line.line_control_number == f"{facts.pcn}{line.index + 1:03d}"
    assert facts.has_service_facility == (encounter_id in ("enc-012", "enc-014"))
    assert facts.raw is claim


def test_facts_details():
    facts = facts_from_claim(demo_claim("enc-007"))  # 90834 + 96127 × 2, encounter without length
    assert [(line.code, line.units, line.minutes) for line in facts.lines] == [
        ("90834", Decimal(1), Decimal(45)), ("96127", Decimal(2), Decimal(45))]
    assert facts.session_minutes == Decimal(45)
    assert facts_from_claim(demo_claim("enc-008")).prior_authorizations == ("PA26-0048812",)
    assert facts_from_claim(demo_claim("enc-010")).lines[0].modifiers == ("HQ",)
    assert facts_from_claim(demo_claim("enc-008")).lines[0].modifiers == ("GT",)


def test_the_patient_key_is_stable_and_carries_no_phi():
    a, b = facts_from_claim(demo_claim("enc-002")), facts_from_claim(demo_claim("enc-005"))
    assert a.patient_key == b.patient_key and len(a.patient_key) == 20
    assert a.subscriber_member_id not in a.patient_key
    spouse = facts_from_claim(demo_claim("enc-025"))  # same member id as the subscriber, another birth date
    subscriber = facts_from_claim(demo_claim("enc-011"))
    assert spouse.subscriber_member_id == subscriber.subscriber_member_id
    assert spouse.patient_key != subscriber.patient_key
    assert patient_key(None, a.patient_birth_date) is None


def test_money_read_from_plain_json_floats():
    claim = json.loads(json.dumps(demo_claim("enc-021"), default=float))
    facts = facts_from_claim(claim)
    assert facts.total == Decimal("45.0") and facts.lines[0].charge == Decimal("45.0")


def test_audio_only_and_times():
    claim = demo_claim("enc-003")
    encounter = contained(claim, "encounter")
    encounter["extension"] = [{"url": EXT_AUDIO_ONLY, "valueBoolean": True}]
    encounter.pop("length", None)
    encounter["period"] = {"start": "2026-11-12T09:00:00-06:00", "end": "2026-11-12T10:01:40-06:00"}
    facts = facts_from_claim(claim)
    assert facts.audio_only and facts.telehealth and facts.session_minutes == Decimal(62)
    encounter["period"] = {"start": "2026-11-12T23:30:00-06:00", "end": "2026-11-13T00:20:00-06:00"}
    assert facts_from_claim(claim).session_minutes == Decimal(50)
    encounter["period"] = {"start": "2026-11-12T23:30:00", "end": "2026-11-13T00:20:00-06:00"}
    assert facts_from_claim(claim).session_minutes is None
    encounter["length"] = {"value": 1.5, "unit": "h"}
    assert facts_from_claim(claim).session_minutes == Decimal("90.0")


BROKEN = [
    {},
    {"resourceType": "Claim"},
    {"resourceType": "Claim", "contained": "nope", "item": [None, 3, {"productOrService": "x"}],
     "careTeam": [{"provider": {"reference": "#missing"}}], "diagnosis": [{"sequence": "1"}], "total": {"value": "x"},
     "insurance": [{"coverage": {"reference": "Coverage/1"}}], "patient": {"reference": 7}, "created": "2026-13-40"},
    {"resourceType": "Claim", "contained": [None, {"id": 3}, {"resourceType": "Patient", "id": "patient",
                                                                "name": "Smith", "birthDate": 19880101}],
     "patient": {"reference": "#patient"}, "item": [{"servicedDate": "yesterday", "quantity": {"value": True},
                                                    "net": {"value": float("nan")}, "modifier": [{}, "95"],
                                                    "diagnosisSequence": ["1", 2]}]},
]


@pytest.mark.parametrize("claim", BROKEN)
def test_broken_claims_give_empty_facts_not_exceptions(claim):
    facts = facts_from_claim(claim)
    assert facts.billing_npi is None and facts.rendering is None or facts.rendering.npi is None
    for line in facts.lines:
        assert line.units is None and line.charge is None and line.service_date is None


def test_facts_from_a_bundle_equal_the_facts_of_the_claim(tmp_path):
    for encounter_id in ("enc-007", "enc-011", "enc-012", "enc-015"):
        claim = demo_claim(encounter_id)
        for style, kind in (("relative", "collection"), ("urn", "transaction"), ("absolute", "collection")):
            path = write_json(tmp_path / f"{encounter_id}-{style}.json", claim_bundle(claim, style=style,
                                                                                      bundle_type=kind))
            from_file = claim_from_file(path)
            assert _comparable(facts_from_claim(from_file)) == _comparable(facts_from_claim(claim)), (encounter_id,
                                                                                                     style)
            ids = {r["id"] for r in from_file["contained"]}
            assert {"patient", "coverage", "payer", "billing", "rendering", "encounter"} <= ids


def test_a_bare_claim_with_contained_resources_is_accepted_as_is(tmp_path):
    claim = demo_claim("enc-002")
    from_file = claim_from_file(write_json(tmp_path / "claim.json", claim))
    assert from_file == claim


def test_a_care_team_practitioner_role_becomes_its_practitioner_with_its_taxonomy():
    bundle = claim_bundle(demo_claim("enc-002"))
    claim = bundle["entry"][0]["resource"]
    del claim["careTeam"][0]["qualification"]
    practitioner_ref = claim["careTeam"][0]["provider"]["reference"]
    claim["careTeam"][0]["provider"] = {"reference": "PractitionerRole/role-1"}
    bundle["entry"].append({"fullUrl": "PractitionerRole/role-1", "resource": {
        "resourceType": "PractitionerRole", "id": "role-1", "practitioner": {"reference": practitioner_ref},
        "specialty": [{"coding": [{"system": systems.NUCC, "code": "103TC0700X"}]}]}})
    facts = facts_from_claim(claim_from_document(bundle))
    assert facts.rendering.npi == "1540388620" and facts.rendering.taxonomy == "103TC0700X"


def test_an_unresolvable_reference_stays_and_the_structure_rules_see_the_gap():
    bundle = claim_bundle(demo_claim("enc-002"))
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Coverage"]
    claim = claim_from_document(bundle)
    assert claim["insurance"][0]["coverage"]["reference"].startswith("Coverage/")
    facts = facts_from_claim(claim)
    assert facts.subscriber_member_id is None and facts.payer_id == "LKSHP"  # the insurer still names the payer


@pytest.mark.parametrize(("content", "problem"), [
    (b"{not json", "is not JSON (Expecting property name enclosed in double quotes at line 1, column 2)"),
    (b'{"a": "\x80"}', "is not UTF-8 JSON"),
    (b"[1, 2]", "is not a FHIR resource"),
    (b'{"resourceType": "Patient"}', "is a 'Patient' resource, not a Claim or a Bundle holding one"),
    (b'{"a": 1}', "has no resourceType"),
    (b'{"resourceType": "Bundle", "type": "searchset", "entry": []}', "Bundle of type 'searchset'"),
    (b'{"resourceType": "Bundle", "type": "collection", "entry": []}', "holds no Claim"),
    (b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Claim"}}, '
     b'{"resource": {"resourceType": "Claim"}}]}', "holds 2 Claims; put one claim in each file"),
    (b'{"resourceType": "Claim", "status": "active"}', "bare Claim without contained resources"),
])
def test_unusable_files_raise_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "input.json"
    path.write_bytes(content)
    with pytest.raises(ScrubInputError) as error:
        claim_from_file(path)
    assert problem in error.value.reason and error.value.file == str(path)
    assert str(error.value).startswith(str(path))


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(ScrubInputError, match="cannot be read"):
        claim_from_file(tmp_path / "missing.json")
    with pytest.raises(ScrubInputError, match="is a directory"):
        claim_from_file(tmp_path)
