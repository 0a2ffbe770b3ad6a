"""The small pieces: settings, references, the code map, the in-memory index, registration."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from claimbridge import ConfigError, Secret
from claimbridge.claims.systems import CPT, HCPCS, SNOMED
from claimbridge.plugin_host import create_plugin_host
from claimbridge.plugins.ehr_fhir.bulk import FhirBulkSource
from claimbridge.plugins.ehr_fhir.codes import ProcedureCodeMap
from claimbridge.plugins.ehr_fhir.index import ResourceIndex
from claimbridge.plugins.ehr_fhir.references import parse_reference, rewrite_references
from claimbridge.plugins.ehr_fhir.settings import BearerAuth, FhirSourceSettings, NoAuth
from claimbridge.plugins.ehr_fhir.source import FhirSource, fhir_instant


def test_both_sources_are_registered_through_the_entry_point():
    host = create_plugin_host()
    assert host.source_class("fhir") is FhirSource
    assert host.source_class("fhir_bulk") is FhirBulkSource
    info = {i.name: i for i in host.describe()}["ehr_fhir"]
    assert info.sources == ["fhir", "fhir_bulk"]


def test_settings_defaults_and_validation():
    settings = FhirSourceSettings.model_validate({"base_url": "https://ehr.example/fhir/R4/"})
    assert settings.base_url == "https://ehr.example/fhir/R4"
    assert isinstance(settings.auth, NoAuth)
    assert settings.encounter_statuses == ["finished"]
    assert settings.verify_tls and settings.ca_bundle is None
    with pytest.raises(ValidationError) as caught:
        FhirSourceSettings.model_validate({"base_url": "ftp://x", "page_sise": 5, "auth": {"type": "basic"},
                                           "procedure_code_map": {"SNOMED|1": "abc"}})
    text = str(caught.value)
    for problem in ("base_url", "page_sise", "auth", "procedure_code_map"):
        assert problem in text
    bearer = FhirSourceSettings.model_validate({"base_url": "https://x", "auth": {"type": "bearer",
                                                                                   "token": "tok-123"}})
    assert isinstance(bearer.auth, BearerAuth) and isinstance(bearer.auth.token, Secret)
    assert "tok-123" not in repr(bearer) and "tok-123" not in bearer.model_dump_json()


def test_a_missing_ca_bundle_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="ca_bundle"):
        FhirSource("s", {"base_url": "https://x", "ca_bundle": str(tmp_path / "none.pem")})


def test_the_stream_takes_its_lookback_from_settings():
    source = FhirSource("s", {"base_url": "https://x", "lookback_minutes": 45})
    stream = source.streams()[0]
    assert stream.name == "encounters" and stream.is_sorted and stream.cursor_field == "meta.lastUpdated"
    assert stream.lookback == timedelta(minutes=45)


def test_fhir_instant_is_utc_milliseconds_truncated():
    moment = datetime(2026, 11, 27, 6, 30, 1, 999_999, tzinfo=timezone(timedelta(hours=-6)))
    assert fhir_instant(moment) == "2026-11-27T12:30:01.999Z"
    assert fhir_instant(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("text, expected", [
    ("Patient/123", ("Patient", "123", None, None)),
    ("https://ehr.example/fhir/Patient/123/_history/4", ("Patient", "123", None, "https://ehr.example/fhir")),
    ("Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|9999974493",
     ("Practitioner", None, (("identifier", "http://hl7.org/fhir/sid/us-npi|9999974493"),), None)),
    ("#contained", None),
    ("urn:uuid:1234", None),
    ("not a reference", None),
])
def test_parse_reference(text, expected):
    parsed = parse_reference(text)
    assert (parsed and (parsed.type, parsed.id, parsed.query, parsed.base)) == expected


def test_rewrite_keeps_contained_and_narrative_alone():
    resource = {"resourceType": "X", "a": {"reference": "Old/1"}, "contained": [{"b": {"reference": "Old/1"}}],
                "text": {"div": "<div/>", "status": "generated"}}
    rewrite_references(resource, lambda ref, path: "New/1")
    assert resource["a"]["reference"] == "New/1"
    assert resource["contained"][0]["b"]["reference"] == "Old/1"


def test_code_map_prefers_system_and_code_and_never_duplicates_cpt():
    code_map = ProcedureCodeMap({f"{SNOMED}|1": "90834", "1": "90837", "LOCAL": "H0004"})
    concept = {"coding": [{"system": SNOMED, "code": "1"}]}
    assert code_map.apply_to_concept(concept)
    assert concept["coding"][-1] == {"system": CPT, "code": "90834"}
    assert not code_map.apply_to_concept(concept)  # it has a CPT coding now
    other = {"coding": [{"system": "urn:other", "code": "1"}]}
    code_map.apply_to_concept(other)
    assert other["coding"][-1] == {"system": CPT, "code": "90837"}
    hcpcs = {"coding": [{"system": "urn:local", "code": "LOCAL "}]}
    code_map.apply_to_concept(hcpcs)
    assert hcpcs["coding"][-1] == {"system": HCPCS, "code": "H0004"}
    procedure = {"resourceType": "Procedure", "code": {"coding": [{"system": SNOMED, "code": "1"}]}}
    code_map.apply(procedure)
    assert procedure["code"]["coding"][-1]["code"] == "90834"
    assert not code_map.apply_to_concept({"coding": [{"system": SNOMED, "code": "2"}]})


def test_index_search_and_logical_references():
    index = ResourceIndex()
    index.add({"resourceType": "Practitioner", "id": "pr1", "identifier": [{"system": "npi", "value": "1"}]})
    index.add({"resourceType": "PractitionerRole", "id": "role1", "practitioner": {"identifier": {
        "system": "npi", "value": "1"}}})
    index.add({"resourceType": "PractitionerRole", "id": "role2", "practitioner": {
        "reference": "Practitioner?identifier=npi|1"}})
    index.add({"resourceType": "Encounter", "id": "e1", "status": "finished",
               "meta": {"lastUpdated": "2026-11-27T10:00:00Z"}})
    index.add({"resourceType": "Encounter", "id": "e2", "status": "cancelled",
               "meta": {"lastUpdated": "2026-11-27T09:00:00Z"}})
    roles = index.search("PractitionerRole", [("practitioner", "Practitioner/pr1")])
    assert sorted(r["id"] for r in roles) == ["role1", "role2"]
    assert [r["id"] for r in index.search("Encounter", [("_sort", "_lastUpdated")])] == ["e2", "e1"]
    assert [r["id"] for r in index.search("Encounter", [("status", "finished,planned")])] == ["e1"]
    assert [r["id"] for r in index.search("Encounter", [("_lastUpdated", "gt2026-11-27T09:30:00Z")])] == ["e1"]
    assert index.search("Encounter", [("unknown-param", "x")]) == []
    assert index.resolve({"identifier": {"system": "npi", "value": "1"}}, "Practitioner") == "Practitioner/pr1"
    assert index.resolve({"reference": "Practitioner/none"}) is None
