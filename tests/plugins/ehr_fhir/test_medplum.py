"""The ``fhir`` source against Medplum's FHIR router (a real FHIR server that pages without links)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from claimbridge import BadRecord, Record
from claimbridge.claims.systems import NPI
from claimbridge.plugins.ehr_fhir.bundler import references_outside
from claimbridge.plugins.ehr_fhir.demo_data import demo_code_map
from claimbridge.plugins.ehr_fhir.source import FhirSource
from tests.fixtures.fhir_server import demo_resources_for_tests, put_resources

pytestmark = pytest.mark.fhir_server

DEMO_ENCOUNTERS = {f"Encounter/{r['id']}" for r in demo_resources_for_tests() if r["resourceType"] == "Encounter"}


def now() -> datetime:
    return datetime.now(UTC)


def source_for(base_url: str, **settings) -> FhirSource:
    return FhirSource("medplum", {"base_url": base_url, "procedure_code_map": demo_code_map(), **settings})


def spy_searches(source: FhirSource) -> list[tuple[str, list | None]]:
    """Record the searches the source makes (the HTTP traffic itself is real)."""
    calls: list[tuple[str, list | None]] = []
    search = source.client.search

    def recording(url, params=None):
        calls.append((url, params))
        return search(url, params)

    source.client.search = recording
    return calls


def test_incremental_pull_reads_everything_then_nothing_then_only_the_update(medplum_server):
    with source_for(medplum_server, page_size=5) as source:
        stream = source.streams()[0]
        first_run = now()
        first = list(stream.read(None, first_run))
        assert not [r for r in first if isinstance(r, BadRecord)]
        assert {r.key for r in first} >= DEMO_ENCOUNTERS
        cursors = [r.cursor for r in first]
        assert cursors == sorted(cursors, key=lambda c: datetime.fromisoformat(c.replace("Z", "+00:00")))

        second_run = now()
        assert list(stream.read(first_run, second_run)) == []

        time.sleep(0.01)  # the update lands after the second run's bookmark, as it would in real life
        encounter = requests.get(f"{medplum_server}/Encounter/enc-005", timeout=10).json()
        encounter["length"] = {"value": 55, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"}
        put_resources(medplum_server, [encounter])
        third = list(stream.read(second_run, now()))
        assert [r.key for r in third] == ["Encounter/enc-005"]
        assert third[0].data["entry"][0]["resource"]["length"]["value"] == 55


def test_offset_paging_without_links_reads_every_encounter_once(medplum_server):
    with source_for(medplum_server, page_size=3) as source:
        calls = spy_searches(source)
        records = list(source.streams()[0].read(None, now()))
    keys = [r.key for r in records]
    assert len(keys) == len(set(keys))
    assert set(keys) >= DEMO_ENCOUNTERS
    encounter_searches = [params for url, params in calls if url == "Encounter"]
    assert len(encounter_searches) >= len(DEMO_ENCOUNTERS) // 3
    assert any(("_offset" in dict(p)) for p in encounter_searches[1:]), "pages after the first use _offset"
    assert all(url == "Encounter" for url, _ in calls), "Medplum gives no next links to follow"


def test_bundles_hold_what_the_claim_builder_reads(medplum_server):
    with source_for(medplum_server) as source:
        records = {r.key: r for r in source.streams()[0].read(None, now())}
    bundle = records["Encounter/enc-007"].data
    keys = [e["fullUrl"] for e in bundle["entry"]]
    assert keys[0] == "Encounter/enc-007"
    for expected in ("Patient/", "Coverage/", "Organization/payer-", "Practitioner/", "PractitionerRole/",
                     "Condition/", "Location/", "ChargeItem/chg-007-1", "ChargeItem/chg-007-2"):
        assert any(k.startswith(expected) for k in keys), expected
    assert references_outside(bundle) == []
    assert any(k == "Procedure/proc-004" for k in (e["fullUrl"] for e in records["Encounter/enc-004"].data["entry"]))
    mapped = records["Encounter/enc-019"].data["entry"][0]["resource"]["type"][0]["coding"]
    assert any(c["system"] == "http://www.ama-assn.org/go/cpt" for c in mapped)


def test_conditional_and_absolute_references_are_resolved(medplum_server):
    since = now()
    time.sleep(0.01)
    practitioner = {"resourceType": "Practitioner", "id": "prac-conditional",
                    "identifier": [{"system": NPI, "value": "1972846350"}],
                    "name": [{"family": "Okafor", "given": ["Ada"]}]}
    encounter = {
        "resourceType": "Encounter", "id": "enc-conditional", "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/pat-02"},
        "participant": [{"individual": {"reference": f"Practitioner?identifier={NPI}|1972846350"}}],
        "serviceProvider": {"reference": f"{medplum_server}/Organization/org-practice"},
        "location": [{"location": {"reference": f"{medplum_server}/Location/loc-main/_history/1"}}],
        "period": {"start": "2026-11-02T10:00:00-06:00", "end": "2026-11-02T10:50:00-06:00"},
    }
    put_resources(medplum_server, [practitioner, encounter])
    with source_for(medplum_server) as source:
        records = list(source.streams()[0].read(since, now()))
    assert [r.key for r in records] == ["Encounter/enc-conditional"]
    assert isinstance(records[0], Record)
    bundle = records[0].data
    resources = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    enc = resources["Encounter/enc-conditional"]
    assert enc["participant"][0]["individual"]["reference"] == "Practitioner/prac-conditional"
    assert enc["serviceProvider"]["reference"] == "Organization/org-practice"
    assert enc["location"][0]["location"]["reference"] == "Location/loc-main"
    assert {"Practitioner/prac-conditional", "Organization/org-practice", "Location/loc-main",
            "Patient/pat-02"} <= set(resources)
    assert references_outside(bundle) == []


def test_check_reads_the_capability_statement(medplum_server):
    with source_for(medplum_server) as source:
        source.check()
