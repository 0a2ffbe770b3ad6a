"""Real published FHIR samples: the builder refuses them with a clear ClaimBuildError and never crashes.

Synthea data (the patient bundles and the bulk-data export) codes encounters in SNOMED, keeps Coverage only
inside ExplanationOfBenefit and uses conditional references; the FHIR spec examples are a mixed bag. None of
it is a clean mental-health claim, and each encounter must say why in words a biller can act on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimbridge.claims import systems
from claimbridge.claims.build import build_claim
from claimbridge.errors import ClaimBuildError

from .conftest import TODAY

KNOWN_FIELDS = {"Coverage", "Encounter.type", "Encounter.diagnosis", "Encounter.participant.individual",
                "Encounter.subject", "Encounter.serviceProvider", "Encounter.location.location",
                "Encounter.status", "Encounter.participant", "Patient.birthDate", "Practitioner.identifier"}


@pytest.fixture
def fhir_corpus(corpus) -> Path:
    folder = corpus / "fhir"
    if not folder.is_dir():
        pytest.skip(f"no FHIR samples in {folder}")
    return folder


def build(bundle, claim_settings, practice):
    return build_claim(bundle, source="corpus", pcn="CB0000000101", version=1, claim_settings=claim_settings,
                       practice=practice, created=TODAY)


def phi_of(resources) -> set[str]:
    """Names and birth dates of the people in ``resources`` (they must never appear in a message)."""
    out = set()
    for r in resources:
        if r.get("resourceType") in ("Patient", "RelatedPerson"):
            if r.get("birthDate"):
                out.add(r["birthDate"])
            for name in r.get("name", []):
                out.update(n for n in [name.get("family"), *name.get("given", [])] if n and len(n) > 2)
    return out


def assert_refused(bundle, claim_settings, practice, phi) -> ClaimBuildError:
    with pytest.raises(ClaimBuildError) as caught:
        build(bundle, claim_settings, practice)
    err = caught.value
    assert err.record == f"Encounter/{bundle['entry'][0]['resource']['id']}"
    assert err.field and err.reason
    message = str(err)
    assert not [p for p in phi if p in message], message
    return err


def synthea_bundles(folder: Path):
    shared = []
    patients = []
    for path in sorted(folder.glob("NimbusInformatics__bdcat-fhir-azure-prototype/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data.get("entry", [])
        if any(e["resource"]["resourceType"] == "Patient" for e in entries):
            patients.append(entries)
        else:
            shared.extend(entries)
    for entries in patients:
        others = [e for e in entries if e["resource"]["resourceType"] != "Encounter"] + shared
        for entry in entries:
            if entry["resource"]["resourceType"] == "Encounter":
                yield {"resourceType": "Bundle", "type": "collection", "entry": [entry, *others]}


def test_synthea_patient_bundles(fhir_corpus, claim_settings, practice):
    bundles = list(synthea_bundles(fhir_corpus))
    if not bundles:
        pytest.skip("no Synthea patient bundles in the corpus")
    fields = set()
    for bundle in bundles:
        phi = phi_of(e["resource"] for e in bundle["entry"])
        err = assert_refused(bundle, claim_settings, practice, phi)
        fields.add(err.field)
    assert fields <= KNOWN_FIELDS, fields
    assert "Coverage" in fields  # Synthea has no Coverage resources outside ExplanationOfBenefit


def test_synthea_with_coverage_added_fails_on_its_snomed_codes(fhir_corpus, claim_settings, practice):
    """Give each Synthea encounter a coverage and an ICD-10-CM reason: left are its NPIs, then its SNOMED code."""
    bundles = list(synthea_bundles(fhir_corpus))
    if not bundles:
        pytest.skip("no Synthea patient bundles in the corpus")
    payer = {"resourceType": "Organization", "id": "payer", "name": "Test Plan",
             "identifier": [{"type": {"coding": [{"system": systems.V2_0203, "code": "NIIP"}]}, "value": "TST01"}]}
    for bundle in bundles:
        bundle = json.loads(json.dumps(bundle))  # the resources are shared between the bundles
        encounter = bundle["entry"][0]["resource"]
        patient = encounter["subject"]["reference"]
        coverage = {"resourceType": "Coverage", "id": "added", "status": "active", "subscriberId": "M1",
                    "beneficiary": {"reference": patient}, "payor": [{"reference": "Organization/payer"}]}
        encounter["reasonCode"] = [{"coding": [{"system": systems.ICD10CM, "code": "F41.1"}]}]
        bundle["entry"] += [{"fullUrl": "Coverage/added", "resource": coverage},
                            {"fullUrl": "Organization/payer", "resource": payer}]
        phi = phi_of(e["resource"] for e in bundle["entry"])
        err = assert_refused(bundle, claim_settings, practice, phi)
        assert err.field == "Practitioner.identifier", str(err)  # Synthea's 9999… NPIs fail the check digit
        assert "check digit" in err.reason
        for entry in bundle["entry"]:
            if entry["resource"]["resourceType"] == "Practitioner":
                for identifier in entry["resource"].get("identifier", []):
                    if identifier.get("system") == systems.NPI:
                        identifier["value"] = "1234567893"
        err = assert_refused(bundle, claim_settings, practice, phi)
        assert err.field == "Encounter.type", str(err)
        snomed = encounter["type"][0]["coding"][0]["code"]
        assert snomed in err.reason and "code_map" in err.reason


def _ndjson(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _resolve_conditional(node, by_identifier):
    """Rewrite ``Type?identifier=system|value`` to ``Type/id`` as a FHIR source does (in place)."""
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and "?identifier=" in ref:
            kind, token = ref.split("?identifier=", 1)
            target = by_identifier.get((kind, token))
            if target:
                node["reference"] = f"{kind}/{target}"
        for value in node.values():
            _resolve_conditional(value, by_identifier)
    elif isinstance(node, list):
        for value in node:
            _resolve_conditional(value, by_identifier)


@pytest.mark.parametrize("resolve", [False, True], ids=["as-exported", "references-resolved"])
def test_bulk_data_export(fhir_corpus, claim_settings, practice, resolve):
    folder = fhir_corpus / "smart-on-fhir__sample-bulk-fhir-datasets"
    encounters = _ndjson(folder / "Encounter.000.ndjson")
    if not encounters:
        pytest.skip("no bulk-data Encounter export in the corpus")
    others = [r for kind in ("Patient", "Practitioner", "PractitionerRole", "Organization", "Location")
              for r in _ndjson(folder / f"{kind}.000.ndjson")]
    index = {f"{r['resourceType']}/{r['id']}": r for r in others}
    by_identifier = {(r["resourceType"], f"{i.get('system')}|{i.get('value')}"): r["id"]
                     for r in others for i in r.get("identifier", [])}
    phi = phi_of(others)
    fields = {}
    for encounter in encounters[::4]:  # every fourth: enough variety, quick
        encounter = json.loads(json.dumps(encounter))
        if resolve:
            _resolve_conditional(encounter, by_identifier)
        entries = [{"fullUrl": f"Encounter/{encounter['id']}", "resource": encounter}]
        refs = {encounter.get("subject", {}).get("reference"), encounter.get("serviceProvider", {}).get("reference")}
        refs |= {p.get("individual", {}).get("reference") for p in encounter.get("participant", [])}
        refs |= {loc.get("location", {}).get("reference") for loc in encounter.get("location", [])}
        entries += [{"fullUrl": ref, "resource": index[ref]} for ref in sorted(r for r in refs if r in index)]
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": entries}
        err = assert_refused(bundle, claim_settings, practice, phi)
        fields[err.field] = fields.get(err.field, 0) + 1
    assert set(fields) <= KNOWN_FIELDS, fields
    if resolve:
        assert "Coverage" in fields
    else:  # the export's practitioner and location references are conditional: reported, not followed
        assert "Encounter.participant.individual" in fields or "Coverage" in fields


def test_fhir_specification_examples(fhir_corpus, claim_settings, practice):
    folder = fhir_corpus / "google__fhir"
    resources = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("resourceType") and data.get("id"):
            resources.append(data)
    encounters = [r for r in resources if r["resourceType"] == "Encounter"]
    if not encounters:
        pytest.skip("no FHIR example Encounters in the corpus")
    others = [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources
              if r["resourceType"] != "Encounter"]
    phi = phi_of(resources)
    for encounter in encounters:
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "entry": [{"fullUrl": f"Encounter/{encounter['id']}", "resource": encounter}, *others]}
        assert_refused(bundle, claim_settings, practice, phi)
