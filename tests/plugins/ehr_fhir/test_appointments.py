"""The ``appointments`` stream of the FHIR sources: the window, the appointment bundle, cancellations, unusable
appointments, paging and batching on the sandbox, the Bulk Data folder, the conformance kit and Medplum."""

from __future__ import annotations

import datetime as dt
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from claimbridge import BadRecord, Record
from claimbridge.claims.systems import NPI, SUBSCRIBER_RELATIONSHIP, V2_0203
from claimbridge.plugins.ehr_fhir.appointments import (
    AppointmentSettings,
    appointment_window,
    period_covers,
)
from claimbridge.plugins.ehr_fhir.bulk import FhirBulkSource
from claimbridge.plugins.ehr_fhir.bundler import references_outside
from claimbridge.plugins.ehr_fhir.demo_data import APPOINTMENT_SCENARIOS, demo_code_map, demo_resources
from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox
from claimbridge.plugins.ehr_fhir.source import FhirSource
from claimbridge.testing import check_source
from tests.fixtures.fhir_server import DEMO_DAY

TODAY = dt.date(2026, 11, 27)
#: 09:00 in Chicago on TODAY: the run's start
RUN = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
IN_WINDOW = {f"Appointment/appt-{n:02d}" for n in range(1, 13)}  # appt-00 is yesterday, appt-13 in 4 days
CHICAGO = {"timezone": "America/Chicago"}


def source_for(sandbox: FhirSandbox, **settings: Any) -> FhirSource:
    return FhirSource("ehr", {"base_url": sandbox.base_url, "procedure_code_map": demo_code_map(), **settings})


def appointments(source, until: datetime = RUN) -> list[Record | BadRecord]:
    with source:
        stream = next(s for s in source.streams() if s.name == "appointments")
        assert stream.cursor_field is None and not stream.is_sorted
        return list(stream.read(None, until))


def records(results) -> dict[str, Record]:
    assert not [r for r in results if isinstance(r, BadRecord)], results
    return {r.key: r for r in results}


def resources_of(bundle: dict, resource_type: str | None = None) -> list[dict]:
    return [e["resource"] for e in bundle["entry"]
            if resource_type is None or e["resource"]["resourceType"] == resource_type]


def appointment(rid: str, start: str, patient: str | None = "pat-01", **extra: Any) -> dict:
    participants = [{"actor": {"reference": "Practitioner/prac-lcsw"}, "status": "accepted"}]
    if patient:
        participants.insert(0, {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"})
    return {"resourceType": "Appointment", "id": rid, "status": "booked", "start": start,
            "participant": participants, **extra}


@pytest.fixture
def sandbox():
    with FhirSandbox(demo_resources(TODAY)) as server:
        yield server


# ------------------------------------------------------------------------------------------------ window


def test_the_window_is_today_through_three_days_ahead_in_the_practice_zone():
    window = appointment_window(RUN, AppointmentSettings(**CHICAGO))
    assert (window.first_day, window.last_day) == (TODAY, TODAY + timedelta(days=3))
    assert window.start.isoformat() == "2026-11-27T00:00:00-06:00"
    # late evening in Chicago is already tomorrow in UTC: the practice's day counts
    evening = appointment_window(datetime(2026, 11, 28, 3, 0, tzinfo=UTC), AppointmentSettings(**CHICAGO))
    assert evening.first_day == TODAY
    assert appointment_window(RUN, AppointmentSettings(days_ahead=0)).last_day == TODAY
    with pytest.raises(ValueError, match="IANA"):
        AppointmentSettings(timezone="Mars/Olympus")


def test_demo_appointments_in_the_window(sandbox):
    found = records(appointments(source_for(sandbox)))
    assert set(found) == IN_WINDOW
    assert set(APPOINTMENT_SCENARIOS) <= {k.removeprefix("Appointment/") for k in found}


def test_yesterday_and_day_four_are_left_out_to_the_minute(sandbox):
    sandbox.load([
        appointment("edge-yesterday", "2026-11-26T23:59:00-06:00"),
        appointment("edge-today", "2026-11-27T00:00:00-06:00"),
        appointment("edge-day3", "2026-11-30T23:59:00-06:00"),
        appointment("edge-day4", "2026-12-01T00:00:00-06:00"),
    ])
    found = records(appointments(source_for(sandbox, appointments=CHICAGO)))
    edges = {k for k in found if k.startswith("Appointment/edge-")}
    assert edges == {"Appointment/edge-today", "Appointment/edge-day3"}
    # a shorter window
    found = records(appointments(source_for(sandbox, appointments={**CHICAGO, "days_ahead": 1})))
    assert "Appointment/appt-02" in found and "Appointment/appt-04" not in found  # day 1 yes, day 2 no


def test_the_stream_can_be_switched_off(sandbox):
    with source_for(sandbox, appointments={"enabled": False}) as source:
        assert [s.name for s in source.streams()] == ["encounters"]


# ------------------------------------------------------------------------------------------------ bundles


def test_bundle_holds_the_appointment_then_patient_coverages_payers_and_clinician(sandbox):
    found = records(appointments(source_for(sandbox)))
    for key, record in found.items():
        bundle = record.data
        get_fhir_model_class("Bundle").model_validate(bundle)
        assert bundle["type"] == "collection" and references_outside(bundle) == []
        first = bundle["entry"][0]
        assert first["fullUrl"] == key and first["resource"]["resourceType"] == "Appointment"
        assert bundle["entry"][1]["resource"]["resourceType"] == "Patient"
        start = datetime.fromisoformat(first["resource"]["start"])
        assert start.tzinfo is not None
        assert all(e["fullUrl"] == f"{e['resource']['resourceType']}/{e['resource']['id']}"
                   for e in bundle["entry"])

    # two coverages: primary first, each followed by its payer (with the payer id claims use)
    bundle = found["Appointment/appt-04"].data
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert urls[:6] == ["Appointment/appt-04", "Patient/pat-05", "Coverage/cov-05", "Organization/payer-lakeshore",
                        "Coverage/cov-05-mcd", "Organization/payer-prairie-medicaid"]
    payers = {o["id"]: o for o in resources_of(bundle, "Organization")}
    niip = [i["value"] for i in payers["payer-lakeshore"]["identifier"]
            if any(c["code"] == "NIIP" and c["system"] == V2_0203 for c in i["type"]["coding"])]
    assert niip == ["LKSHP"]
    practitioner = next(r for r in resources_of(bundle, "Practitioner"))
    assert [i["value"] for i in practitioner["identifier"] if i["system"] == NPI] == ["1672503947"]
    assert resources_of(bundle, "Location")[0]["id"] == "loc-main"
    assert bundle["entry"][0]["resource"]["serviceType"][0]["coding"][0]["code"] == "90837"


def test_a_dependent_brings_the_subscriber(sandbox):
    found = records(appointments(source_for(sandbox)))
    child = found["Appointment/appt-03"].data
    [coverage] = resources_of(child, "Coverage")
    assert coverage["relationship"]["coding"] == [{"system": SUBSCRIBER_RELATIONSHIP, "code": "child"}]
    assert coverage["subscriber"] == {"reference": "RelatedPerson/rp-04-mother"}
    assert coverage["subscriberId"] == "LKH40612290"
    [mother] = resources_of(child, "RelatedPerson")
    assert mother["name"][0]["family"] and mother["birthDate"] == "1984-06-21" and mother["gender"] == "female"
    # a spouse whose subscriber is another patient
    spouse = found["Appointment/appt-05"].data
    assert [p["id"] for p in resources_of(spouse, "Patient")] == ["pat-07", "pat-03"]
    # an ended plan is left out; no plan at all is an appointment with none
    assert [c["id"] for c in resources_of(found["Appointment/appt-11"].data, "Coverage")] == ["cov-12"]
    assert resources_of(found["Appointment/appt-06"].data, "Coverage") == []


def test_each_scenario_has_its_member_id(sandbox):
    found = records(appointments(source_for(sandbox)))
    member_ids = {key: [c["subscriberId"] for c in resources_of(r.data, "Coverage")] for key, r in found.items()}
    for appt, suffix in (("appt-07", "INACTIVE"), ("appt-08", "CARVEOUT"), ("appt-09", "NOVISITS"),
                         ("appt-10", "AUTH"), ("appt-11", "HIGHDED")):
        assert member_ids[f"Appointment/{appt}"][0].endswith(suffix)
        assert APPOINTMENT_SCENARIOS[appt].startswith(suffix)
    suffixes = ("INACTIVE", "CARVEOUT", "NOVISITS", "AUTH", "HIGHDED")
    plain = [ids for key, ids in member_ids.items() if key.removeprefix("Appointment/") not in
             ("appt-07", "appt-08", "appt-09", "appt-10", "appt-11")]
    assert not any(i.endswith(suffixes) for ids in plain for i in ids)


def test_period_covers_at_the_precision_given():
    day = dt.date(2026, 11, 27)
    assert period_covers(None, day) and period_covers({}, day)
    assert period_covers({"start": "2026"}, day) and period_covers({"end": "2026-11"}, day)
    assert not period_covers({"end": "2026-11-26"}, day) and not period_covers({"start": "2026-11-28"}, day)
    assert period_covers({"start": "2026-11-27T08:00:00-06:00", "end": "2026-11-27T09:00:00-06:00"}, day)


# ------------------------------------------------------------------------------------- cancellations, errors


def test_a_cancellation_replaces_the_booked_record_under_the_same_key(sandbox):
    found = records(appointments(source_for(sandbox)))
    assert found["Appointment/appt-12"].data["entry"][0]["resource"]["status"] == "cancelled"
    booked = sandbox.get("Appointment", "appt-01")
    sandbox.put({**booked, "status": "cancelled"})
    again = records(appointments(source_for(sandbox)))
    assert set(again) == set(found)
    assert again["Appointment/appt-01"].data["entry"][0]["resource"]["status"] == "cancelled"


def test_an_unusable_appointment_is_a_bad_record_naming_the_field(sandbox):
    sandbox.load([
        appointment("no-patient", "2026-11-28T10:00:00-06:00", patient=None),
        appointment("ghost-patient", "2026-11-28T11:00:00-06:00", patient="does-not-exist"),
        appointment("no-zone", "2026-11-28T10:00:00"),
    ])
    results = appointments(source_for(sandbox))
    bad = {r.key: r for r in results if isinstance(r, BadRecord)}
    assert {k: r.field for k, r in bad.items()} == {
        "Appointment/no-patient": "Appointment.participant.actor",
        "Appointment/ghost-patient": "Appointment.participant.actor",
        "Appointment/no-zone": "Appointment.start",
    }
    assert all(r.payload["resourceType"] == "Appointment" for r in bad.values())
    assert {r.key for r in results if isinstance(r, Record)} == IN_WINDOW  # the others are still read


def test_two_reads_give_the_same_keys_and_payloads(sandbox):
    first = records(appointments(source_for(sandbox)))
    second = records(appointments(source_for(sandbox)))
    assert {k: json.dumps(r.data, sort_keys=True) for k, r in first.items()} == \
        {k: json.dumps(r.data, sort_keys=True) for k, r in second.items()}
    assert all(r.cursor is None for r in first.values())


# ------------------------------------------------------------------------------------------- the requests


def test_pages_and_one_coverage_search_for_every_patient(sandbox):
    found = records(appointments(source_for(sandbox, page_size=3)))
    assert set(found) == IN_WINDOW
    searches = [r for r in sandbox.requests if r.startswith("GET /fhir/R4/Appointment?")]
    assert len(searches) == 4 and all("_include=Appointment%3Apatient" in r for r in searches)
    assert all("date=ge" in r and "date=lt" in r for r in searches)
    coverage = [r for r in sandbox.requests if r.startswith("GET /fhir/R4/Coverage?")]
    assert len(coverage) == 5  # one search (12 patients, OR-ed), in pages of 3
    assert all("%2CPatient%2F" in r for r in coverage)
    # patients and practitioners came with the appointments (_include): never read one by one
    assert not [r for r in sandbox.requests if r.startswith(("GET /fhir/R4/Patient/", "GET /fhir/R4/Practitioner/"))]


def test_a_server_without_include_is_read_without_it(sandbox, monkeypatch):
    search = sandbox.search

    def refusing(resource_type, query):
        if any(k == "_include" for k, _ in query):
            raise ValueError("no _include here")  # the handler answers 400
        return search(resource_type, query)

    monkeypatch.setattr(sandbox, "search", refusing)
    assert set(records(appointments(source_for(sandbox)))) == IN_WINDOW


# ------------------------------------------------------------------------------------------- Bulk Data


def _bulk_folder(folder: Path, resources: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for resource_type, lines in by_type.items():
        (folder / f"{resource_type}.000.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def test_bulk_folder_yields_the_same_bundles(tmp_path: Path, sandbox):
    folder = _bulk_folder(tmp_path / "bulk", demo_resources(TODAY))
    bulk = records(appointments(FhirBulkSource("bulk", {"folder": str(folder)})))
    rest = records(appointments(source_for(sandbox)))
    assert set(bulk) == set(rest) == IN_WINDOW
    for key in bulk:
        assert [e["fullUrl"] for e in bulk[key].data["entry"]] == [e["fullUrl"] for e in rest[key].data["entry"]]
        strip = [{k: v for k, v in e["resource"].items() if k != "meta"} for e in rest[key].data["entry"]]
        assert [e["resource"] for e in bulk[key].data["entry"]] == strip


def test_bulk_folder_without_appointments_yields_nothing(tmp_path: Path):
    resources = [r for r in demo_resources(TODAY) if r["resourceType"] != "Appointment"]
    folder = _bulk_folder(tmp_path / "bulk", resources)
    assert appointments(FhirBulkSource("bulk", {"folder": str(folder)})) == []


def test_bulk_folder_quarantines_broken_lines(tmp_path: Path):
    folder = _bulk_folder(tmp_path / "bulk", demo_resources(TODAY))
    with (folder / "Appointment.000.ndjson").open("a") as lines:
        lines.write("{not json\n" + json.dumps(appointment("no-patient", "2026-11-28T10:00:00-06:00",
                                                           patient=None)) + "\n")
    results = appointments(FhirBulkSource("bulk", {"folder": str(folder)}))
    bad = {r.key: r.field for r in results if isinstance(r, BadRecord)}
    assert bad == {"Appointment.000.ndjson:15": None, "Appointment/no-patient": "Appointment.participant.actor"}


# ---------------------------------------------------------------------------------------- conformance


def test_conformance_of_the_appointments_stream(tmp_path: Path):
    now = datetime.now(UTC)
    with FhirSandbox(demo_resources(now.date())) as good, FhirSandbox(demo_resources(now.date())) as broken:
        broken.load([appointment("no-patient", f"{now.date()}T10:00:00+00:00", patient=None)])
        check_source(lambda: source_for(good, page_size=4), since=now - timedelta(days=1), streams=["appointments"],
                     bad_records_factory=lambda: source_for(broken))
    folder = _bulk_folder(tmp_path / "bulk", demo_resources(now.date()))
    check_source(lambda: FhirBulkSource("bulk", {"folder": str(folder)}), since=now - timedelta(days=1),
                 streams=["appointments"])


# --------------------------------------------------------------------------------------------- Medplum


@pytest.mark.fhir_server
def test_appointments_on_medplum(medplum_server):
    now = datetime.now(UTC)
    if now.date() != DEMO_DAY:
        pytest.skip("the test session crossed midnight (UTC)")
    source = FhirSource("medplum", {"base_url": medplum_server, "page_size": 5})
    found = records(appointments(source, until=now))
    assert set(found) == IN_WINDOW
    appt_04 = [e["fullUrl"] for e in found["Appointment/appt-04"].data["entry"]]
    assert appt_04[:6] == ["Appointment/appt-04", "Patient/pat-05", "Coverage/cov-05", "Organization/payer-lakeshore",
                           "Coverage/cov-05-mcd", "Organization/payer-prairie-medicaid"]
    child = found["Appointment/appt-03"].data
    assert "RelatedPerson/rp-04-mother" in [e["fullUrl"] for e in child["entry"]]
    assert all(references_outside(r.data) == [] for r in found.values())
