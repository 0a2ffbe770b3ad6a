"""The ``fhir_bulk`` source: the SMART sample export (Synthea, conditional references) and broken ndjson."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from claimbridge import BadRecord, Record, SourceError
from claimbridge.claims.systems import CPT, NPI, SNOMED
from claimbridge.plugins.ehr_fhir.bulk import FhirBulkSource
from claimbridge.plugins.ehr_fhir.bundler import references_outside

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
CODE_MAP = {f"{SNOMED}|185347001": "90834", "162673000": "90791"}


@pytest.fixture(scope="module")
def sample_records(bulk_sample):
    """The sample export read once for the module (about a second), with a code map."""
    source = FhirBulkSource("backfill", {"folder": str(bulk_sample), "procedure_code_map": CODE_MAP})
    return list(source.streams()[0].read(None, FAR_FUTURE))


def test_the_sample_export_becomes_bundles_with_every_conditional_reference_resolved(bulk_sample,
                                                                                     sample_records):
    lines = (bulk_sample / "Encounter.000.ndjson").read_text().splitlines()
    records = sample_records
    assert all(isinstance(r, Record) for r in records)
    assert len(records) == len(lines)

    for record in records:
        assert references_outside(record.data) == [], record.key
        assert all("?" not in e["fullUrl"] for e in record.data["entry"])

    first_line = json.loads(lines[0])
    conditional = first_line["participant"][0]["individual"]["reference"]
    assert conditional.startswith(f"Practitioner?identifier={NPI}|")
    record = next(r for r in records if r.key == f"Encounter/{first_line['id']}")
    resources = {e["fullUrl"]: e["resource"] for e in record.data["entry"]}
    encounter = resources[record.key]
    practitioner = resources[encounter["participant"][0]["individual"]["reference"]]
    assert practitioner["resourceType"] == "Practitioner"
    assert {"system": NPI, "value": conditional.rsplit("|", 1)[1]} in practitioner["identifier"]
    assert encounter["serviceProvider"]["reference"].startswith("Organization/")
    assert encounter["location"][0]["location"]["reference"].startswith("Location/")
    roles = [r for k, r in resources.items() if k.startswith("PractitionerRole/")]
    assert roles and roles[0]["practitioner"]["reference"] == f"Practitioner/{practitioner['id']}"
    mtime = datetime.fromtimestamp((bulk_sample / "Encounter.000.ndjson").stat().st_mtime, UTC)
    assert datetime.fromisoformat(record.cursor) == mtime  # the sample carries no meta.lastUpdated


def test_the_code_map_adds_cpt_to_snomed_encounter_types(sample_records):
    mapped = {}
    for record in sample_records:
        for concept in record.data["entry"][0]["resource"].get("type", []):
            cpt = [c["code"] for c in concept["coding"] if c["system"] == CPT]
            snomed = [c["code"] for c in concept["coding"] if c["system"] == SNOMED]
            if cpt:
                mapped.setdefault(snomed[0], set()).update(cpt)
    assert mapped.get("185347001") == {"90834"}
    assert set(mapped) <= {"185347001", "162673000"}


def test_since_and_until_filter_by_the_file_time(bulk_sample):
    mtime = datetime.fromtimestamp((bulk_sample / "Encounter.000.ndjson").stat().st_mtime, UTC)
    stream = FhirBulkSource("backfill", {"folder": str(bulk_sample)}).streams()[0]
    assert list(stream.read(mtime, FAR_FUTURE)) == []
    assert list(stream.read(None, mtime - timedelta(seconds=1))) == []


def write_ndjson(path, lines):
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")


def test_malformed_lines_are_bad_records_naming_file_and_line(tmp_path):
    patient = {"resourceType": "Patient", "id": "p1"}
    good = {"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": {"reference": "Patient/p1"},
            "meta": {"lastUpdated": "2026-11-20T10:00:00Z"}}
    write_ndjson(tmp_path / "Patient.000.ndjson", [patient, '{"resourceType": "Patient", "id": '])
    write_ndjson(tmp_path / "Encounter.000.ndjson", [
        good,
        "{this is not json",
        "",
        '["a", "list"]',
        {"resourceType": "Encounter", "status": "finished"},
        {**good, "id": "e2", "subject": {"reference": "Patient/nobody"}},
        {**good, "id": "e3", "status": "cancelled"},
        {"resourceType": "Observation", "id": "o1"},
    ])
    write_ndjson(tmp_path / "Observation.000.ndjson", ["not even looked at"])
    results = list(FhirBulkSource("b", {"folder": str(tmp_path)}).streams()[0].read(None, FAR_FUTURE))
    records = [r for r in results if isinstance(r, Record)]
    bad = {r.key: r for r in results if isinstance(r, BadRecord)}
    assert [r.key for r in records] == ["Encounter/e1"]
    assert records[0].cursor == "2026-11-20T10:00:00Z"
    assert set(bad) == {"Patient.000.ndjson:2", "Encounter.000.ndjson:2", "Encounter.000.ndjson:4",
                        "Encounter.000.ndjson:5", "Encounter/e2", "Encounter.000.ndjson:8"}
    assert "Encounter.000.ndjson line 2" in bad["Encounter.000.ndjson:2"].reason
    assert "not valid JSON" in bad["Encounter.000.ndjson:2"].reason
    assert bad["Encounter.000.ndjson:2"].payload == "{this is not json"
    assert "missing or malformed id" in bad["Encounter.000.ndjson:5"].reason
    assert bad["Encounter/e2"].field == "Encounter.subject"
    assert "line 6" in bad["Encounter/e2"].reason


def test_check_names_a_missing_folder_or_export(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        FhirBulkSource("b", {"folder": str(tmp_path / "nope")}).check()
    with pytest.raises(SourceError, match="no Encounter"):
        FhirBulkSource("b", {"folder": str(tmp_path)}).check()
    write_ndjson(tmp_path / "Encounter.ndjson", [])
    FhirBulkSource("b", {"folder": str(tmp_path)}).check()


def test_the_file_time_is_the_cursor_without_last_updated(tmp_path):
    write_ndjson(tmp_path / "Patient.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    write_ndjson(tmp_path / "Encounter.ndjson", [{"resourceType": "Encounter", "id": "e1", "status": "finished",
                                                  "subject": {"reference": "Patient/p1"}}])
    stamp = datetime(2026, 11, 1, 8, 0, tzinfo=UTC).timestamp()
    os.utime(tmp_path / "Encounter.ndjson", (stamp, stamp))
    [record] = FhirBulkSource("b", {"folder": str(tmp_path)}).streams()[0].read(None, FAR_FUTURE)
    assert record.cursor == "2026-11-01T08:00:00+00:00"
