"""The embedded FHIR sandbox (``claimbridge demo``), and the ``fhir`` source paging through its next links."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime

import requests

from claimbridge import Record
from claimbridge.plugins.ehr_fhir.bundler import references_outside
from claimbridge.plugins.ehr_fhir.demo_data import demo_code_map, encounter_bundle
from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox
from claimbridge.plugins.ehr_fhir.source import FhirSource
from tests.fixtures.fhir_server import demo_resources_for_tests


def now() -> datetime:
    return datetime.now(UTC)


def test_the_source_follows_next_links(fhir_sandbox):
    with FhirSource("sandbox", {"base_url": fhir_sandbox.base_url, "page_size": 4}) as source:
        records = list(source.streams()[0].read(None, now()))
    encounters = [r for r in demo_resources_for_tests() if r["resourceType"] == "Encounter"]
    assert sorted(r.key for r in records) == sorted(f"Encounter/{e['id']}" for e in encounters)
    searches = [line for line in fhir_sandbox.requests if line.startswith("GET /fhir/R4/Encounter?")]
    assert len(searches) == math.ceil(len(encounters) / 4)
    # pages after the first are the server's own links (its _offset form), not the source's keyset queries
    assert all("_offset=" in line and "ge20" not in line for line in searches[1:])


def test_bundles_match_the_demo_data_sets_bundles(fhir_sandbox):
    resources = demo_resources_for_tests()
    settings = {"base_url": fhir_sandbox.base_url, "procedure_code_map": demo_code_map()}
    with FhirSource("sandbox", settings) as source:
        records = list(source.streams()[0].read(None, now()))
    assert records and all(isinstance(r, Record) for r in records)
    inactive = {f"Coverage/{r['id']}" for r in resources if r["resourceType"] == "Coverage" and r["status"] != "active"}
    for record in records:
        expected = encounter_bundle(resources, record.key.split("/", 1)[1])
        wanted = {e["fullUrl"]: e["resource"] for e in expected["entry"] if e["fullUrl"] not in inactive}
        got = {e["fullUrl"]: {k: v for k, v in e["resource"].items() if k != "meta"} for e in record.data["entry"]}
        # a payer only an inactive coverage names is not in our bundle: the source reads active coverage only
        only_inactive = {key for key in set(wanted) - set(got) if key.startswith("Organization/")}
        assert set(got) == set(wanted) - only_inactive, record.key
        for key, resource in got.items():
            assert resource == wanted[key], (record.key, key)
        assert record.data["entry"][0]["fullUrl"] == record.key
        assert references_outside(record.data) == []
        assert record.cursor == fhir_sandbox.get("Encounter", record.key.split("/")[1])["meta"]["lastUpdated"]


def test_sandbox_read_create_update_and_search():
    with FhirSandbox() as sandbox:
        base = sandbox.base_url
        patient = {"resourceType": "Patient", "id": "p1",
                   "identifier": [{"system": "urn:mrn", "value": "M1"}]}
        created = requests.put(f"{base}/Patient/p1", json=patient, timeout=5)
        assert created.status_code == 201
        assert created.json()["meta"]["versionId"] == "1"
        patient["gender"] = "female"
        updated = requests.put(f"{base}/Patient/p1", json=patient, timeout=5)
        assert updated.status_code == 200
        assert updated.json()["meta"]["versionId"] == "2"
        assert updated.json()["meta"]["lastUpdated"] >= created.json()["meta"]["lastUpdated"]

        assert requests.get(f"{base}/Patient/p1", timeout=5).json()["gender"] == "female"
        missing = requests.get(f"{base}/Patient/nope", timeout=5)
        assert missing.status_code == 404
        assert missing.json()["resourceType"] == "OperationOutcome"
        assert missing.headers["Content-Type"].startswith("application/fhir+json")

        posted = requests.post(f"{base}/Coverage", timeout=5, json={
            "resourceType": "Coverage", "status": "active", "beneficiary": {"reference": "Patient/p1"}})
        assert posted.status_code == 201
        found = requests.get(f"{base}/Coverage", params={"beneficiary": "Patient/p1"}, timeout=5).json()
        assert [e["resource"]["id"] for e in found["entry"]] == [posted.json()["id"]]
        by_patient = requests.get(f"{base}/Coverage", params={"patient": "Patient/p1", "status": "active"}, timeout=5)
        assert by_patient.json()["total"] == 1
        by_identifier = requests.get(f"{base}/Patient", params={"identifier": "urn:mrn|M1"}, timeout=5).json()
        assert by_identifier["total"] == 1
        assert requests.get(f"{base}/Patient", params={"identifier": "urn:mrn|nope"}, timeout=5).json()["total"] == 0
        later = requests.get(f"{base}/Patient", params={"_lastUpdated": "gt2999-01-01T00:00:00Z"}, timeout=5)
        assert later.json()["total"] == 0
        assert requests.get(f"{base}/metadata", timeout=5).json()["resourceType"] == "CapabilityStatement"
        bad = requests.put(f"{base}/Patient/p2", json={"resourceType": "Patient", "id": "p3"}, timeout=5)
        assert bad.status_code == 400


def test_load_keeps_a_saved_last_updated_and_a_new_sandbox_reads_the_same():
    resources = copy.deepcopy(demo_resources_for_tests())
    for resource in resources:
        resource["meta"] = {"lastUpdated": "2026-01-02T03:04:05.678Z"}
    with FhirSandbox(resources) as sandbox:
        stored = sandbox.get("Encounter", "enc-001")
        assert stored["meta"]["lastUpdated"] == "2026-01-02T03:04:05.678Z"
        with FhirSource("sandbox", {"base_url": sandbox.base_url}) as source:
            since = datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)
            assert list(source.streams()[0].read(since, now())) == []
            source.check()


def test_sandbox_ports_are_free_ports_and_stop_releases_them():
    first, second = FhirSandbox().start(), FhirSandbox().start()
    try:
        assert first.base_url != second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
        port = int(first.base_url.split(":")[2].split("/")[0])
    finally:
        first.stop()
        second.stop()
    with FhirSandbox(port=port) as again:
        assert again.base_url == f"http://127.0.0.1:{port}/fhir/R4"


def test_related_resources_are_fetched_once_per_run(fhir_sandbox):
    with FhirSource("sandbox", {"base_url": fhir_sandbox.base_url}) as source:
        stream = source.streams()[0]
        list(stream.read(None, now()))
        reads = [line for line in fhir_sandbox.requests if line.startswith("GET /fhir/R4/Organization/org-practice")]
        assert len(reads) == 1
        coverage_searches = [line for line in fhir_sandbox.requests if "Coverage?beneficiary=Patient%2Fpat-01" in line]
        assert len(coverage_searches) == 1
        list(stream.read(None, now()))  # a new run starts with an empty cache
    reads = [line for line in fhir_sandbox.requests if line.startswith("GET /fhir/R4/Organization/org-practice")]
    assert len(reads) == 2
