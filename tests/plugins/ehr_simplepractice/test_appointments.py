"""The ``appointments`` stream of the SimplePractice source: upcoming appointments of the appointments export as
appointment bundles (the window, the bundle, stable keys, cancellations, unusable rows, conformance)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fhir.resources.R4B import get_fhir_model_class

from claimbridge import BadRecord, Record
from claimbridge.claims.systems import NPI, SUBSCRIBER_RELATIONSHIP, V2_0203
from claimbridge.plugins.ehr_simplepractice.appointments import appointment_id
from claimbridge.plugins.ehr_simplepractice.demo_export import PRACTICE_TIMEZONE, write_demo_export
from claimbridge.plugins.ehr_simplepractice.layouts import APPOINTMENTS
from claimbridge.plugins.ehr_simplepractice.source import SimplePracticeSource
from claimbridge.testing import check_source

KEY = re.compile(r"^Appointment/sp-SP-\d{5}-\d{12}-[a-z0-9-]+$")
HEADER = [c.header for c in APPOINTMENTS.columns]


def today_in(zone: str = "UTC") -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(zone)).date()


def read(settings: dict[str, Any], stream: str = "appointments") -> list[Record | BadRecord]:
    with SimplePracticeSource("sp", settings) as source:
        chosen = next(s for s in source.streams() if s.name == stream)
        if stream == "appointments":
            assert chosen.cursor_field is None
        return list(chosen.read(None, datetime.now(UTC) + timedelta(seconds=1)))


def records(results) -> dict[str, dict]:
    assert not [r for r in results if isinstance(r, BadRecord)], results
    return {r.key: r.data for r in results}


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_client(found: dict[str, dict]) -> dict[str, dict]:
    """Client ID → the bundle of that client's (one) upcoming appointment."""
    out = {}
    for key, bundle in found.items():
        client_id = re.match(r"Appointment/sp-(SP-\d+)-", key).group(1)
        assert client_id not in out, f"{client_id} has two appointments"
        out[client_id] = bundle
    return out


def write_appointments(folder: Path, name: str, rows: list[list[str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    (folder / name).write_bytes(out.getvalue().encode())


def row(day: date, start: str, client: str = "Lena Marchetti-Oyelaran", client_id: str = "SP-10001",
        status: str = "", clinician: str = "Marisol Quintero-Vale") -> list[str]:
    return [day.strftime("%m/%d/%Y"), start, "", "45", client, client_id, clinician, "90834", status,
            "Video Office"]


@pytest.fixture
def demo(tmp_path: Path):
    today = today_in()
    export = write_demo_export(tmp_path / "import", today)
    return export, today


# ------------------------------------------------------------------------------------------------- window


def test_the_upcoming_demo_appointments_in_the_window(demo):
    export, _today = demo
    found = records(read(export.source_settings))
    assert len(found) == 12  # appt-01 … appt-12 of the FHIR demo; appt-13 is 4 days ahead, the rest past
    assert all(KEY.match(key) for key in found)
    statuses = sorted(bundle["entry"][0]["resource"]["status"] for bundle in found.values())
    assert statuses == ["booked"] * 11 + ["cancelled"]
    for bundle in found.values():
        get_fhir_model_class("Bundle").model_validate(bundle)
        start = datetime.fromisoformat(bundle["entry"][0]["resource"]["start"])
        assert start.tzinfo is not None


def test_the_window_edges_in_the_practice_time_zone(tmp_path: Path):
    today = today_in(PRACTICE_TIMEZONE)
    export = write_demo_export(tmp_path / "import", today)
    (tmp_path / "import" / f"appointments-upcoming-{today}.csv").unlink()
    write_appointments(tmp_path / "import", "calendar.csv", [
        row(today - timedelta(days=1), "11:59 PM"), row(today, "12:00 AM"),
        row(today + timedelta(days=3), "11:59 PM", clinician="Ingrid Solvang"),
        row(today + timedelta(days=4), "12:00 AM", clinician="Ingrid Solvang"),
    ])
    settings = {**export.source_settings, "appointments": {"timezone": PRACTICE_TIMEZONE}}
    found = records(read(settings))
    days = sorted(key.split("-")[3] for key in found)
    assert days == [f"{today:%Y%m%d}0000", f"{today + timedelta(days=3):%Y%m%d}2359"]
    starts = sorted(b["entry"][0]["resource"]["start"] for b in found.values())
    assert starts[0] == datetime.combine(today, datetime.min.time(), ZoneInfo(PRACTICE_TIMEZONE)).isoformat()


def test_the_stream_can_be_switched_off(demo):
    export, _ = demo
    with SimplePracticeSource("sp", {**export.source_settings, "appointments": {"enabled": False}}) as source:
        assert [s.name for s in source.streams()] == ["encounters", "insurance_payments"]


# ------------------------------------------------------------------------------------------------- bundles


def test_bundles_hold_patient_coverages_primary_first_payers_and_clinician(demo):
    export, _ = demo
    clients = by_client(records(read(export.source_settings)))
    two_plans = clients["SP-10005"]  # Corinne: Lakeshore primary, Medicaid secondary
    kinds = [e["resource"]["resourceType"] for e in two_plans["entry"]]
    assert kinds[:6] == ["Appointment", "Patient", "Coverage", "Organization", "Coverage", "Organization"]
    coverages = resources(two_plans, "Coverage")
    assert [c["order"] for c in coverages] == [1, 2]
    payers = resources(two_plans, "Organization")
    assert [i["value"] for p in payers for i in p["identifier"]
            if i["type"]["coding"][0] == {"system": V2_0203, "code": "NIIP"}] == ["LKSHP", "PSMCD"]
    [practitioner] = resources(two_plans, "Practitioner")
    assert practitioner["identifier"] == [{"system": NPI, "value": "1672503947"}]
    appointment = two_plans["entry"][0]["resource"]
    assert appointment["serviceType"][0]["coding"][0]["code"] == "90837"
    assert {p["actor"]["reference"].split("/")[0] for p in appointment["participant"]} == \
        {"Patient", "Practitioner", "Location"}
    for bundle in clients.values():
        urls = {e["fullUrl"] for e in bundle["entry"]}
        refs = set(re.findall(r'"reference": "([^"]+)"', json.dumps(bundle)))
        assert refs <= urls


def test_a_dependent_brings_the_subscriber_and_scenarios_keep_their_member_ids(demo):
    export, _ = demo
    clients = by_client(records(read(export.source_settings)))
    child = clients["SP-10004"]  # Juniper, on her mother's plan
    [coverage] = resources(child, "Coverage")
    assert coverage["relationship"]["coding"] == [{"system": SUBSCRIBER_RELATIONSHIP, "code": "child"}]
    [mother] = resources(child, "RelatedPerson")
    assert coverage["subscriber"] == {"reference": f"RelatedPerson/{mother['id']}"}
    assert mother["birthDate"] == "1984-06-21" and mother["gender"] == "female" and mother["name"][0]["family"]
    member_ids = {cid: [c["subscriberId"] for c in resources(b, "Coverage")] for cid, b in clients.items()}
    assert member_ids["SP-10008"] == ["LKH4081INACTIVE"]
    assert member_ids["SP-10009"] == ["LKH4082CARVEOUT"]
    assert member_ids["SP-10010"] == ["LKH4083NOVISITS"]
    assert member_ids["SP-10011"] == ["IL8830AUTH"]
    assert member_ids["SP-10012"] == ["LKH4085HIGHDED"]  # the plan that ended last year is left out
    assert member_ids["SP-10006"] == []  # no plan on file
    cancelled = clients["SP-10003"]["entry"][0]["resource"]
    assert cancelled["status"] == "cancelled"


def test_the_appointment_id_is_short_and_safe():
    start = datetime(2026, 11, 27, 9, 0)
    assert appointment_id("SP-10001", start, "Marisol Quintero-Vale") == "sp-SP-10001-202611270900-marisol-quintero-vale"
    long_name = appointment_id("SP-10001", start, "Dr. Anna-Maria von Hohenzollern-Sigmaringen of Springfield")
    assert len(long_name) <= 64 and re.fullmatch(r"[A-Za-z0-9.\-]+", long_name)


# ----------------------------------------------------------------------------------- keys, cancellations


def test_keys_are_stable_across_reads_and_a_repeated_export(demo):
    export, today = demo
    first = records(read(export.source_settings))
    time.sleep(0.01)
    upcoming = export.folder / f"appointments-upcoming-{today}.csv"
    shutil.copy(upcoming, export.folder / "calendar-again.csv")  # the same calendar exported once more
    second = records(read(export.source_settings))
    assert {k: json.dumps(v, sort_keys=True) for k, v in first.items()} == \
        {k: json.dumps(v, sort_keys=True) for k, v in second.items()}


def test_a_newer_export_cancelling_an_appointment_replaces_it(demo):
    export, today = demo
    first = by_client(records(read(export.source_settings)))
    booked = first["SP-10008"]["entry"][0]["resource"]
    assert booked["status"] == "booked"
    start = datetime.fromisoformat(booked["start"])
    time.sleep(0.01)
    write_appointments(export.folder, "calendar-newer.csv", [
        row(start.date(), f"{start:%I:%M %p}".lstrip("0"), "Tomasz Ellingboe", "SP-10008", "Cancelled",
            "Ingrid Solvang")])
    again = records(read(export.source_settings))
    key = f"Appointment/{booked['id']}"
    assert again[key]["entry"][0]["resource"]["status"] == "cancelled"
    assert len(again) == 12


# ------------------------------------------------------------------------------------------ unusable rows


def test_unusable_rows_are_bad_records_naming_the_field(demo):
    export, today = demo
    tomorrow = today + timedelta(days=1)
    write_appointments(export.folder, "calendar-broken.csv", [
        row(tomorrow, "10:00 AM", "Nobody Known", "SP-99999"),
        row(tomorrow, "", "Lena Marchetti-Oyelaran", "SP-10001"),
        ["13/45/2026", "10:00 AM", "", "45", "Lena Marchetti-Oyelaran", "SP-10001", "Marisol Quintero-Vale",
         "90834", "", "Video Office"],
        row(tomorrow, "10:00 AM", status="Rescheduled twice"),
    ])
    results = read(export.source_settings)
    bad = sorted((r.key, r.field) for r in results if isinstance(r, BadRecord))
    assert bad == [("calendar-broken.csv:row 2", "client"), ("calendar-broken.csv:row 3", "start_time"),
                   ("calendar-broken.csv:row 4", "date"), ("calendar-broken.csv:row 5", "status")]
    assert all("Nobody" not in r.reason and "Marchetti" not in r.reason for r in results if isinstance(r, BadRecord))
    assert len([r for r in results if isinstance(r, Record)]) == 12  # the rest is read


# ------------------------------------------------------------------------------- the encounters stay put


def test_upcoming_appointments_change_no_session(demo):
    export, today = demo
    with_upcoming = {r.key: r.data for r in read(export.source_settings, "encounters") if isinstance(r, Record)}
    (export.folder / f"appointments-upcoming-{today}.csv").unlink()
    without = {r.key: r.data for r in read(export.source_settings, "encounters") if isinstance(r, Record)}
    assert with_upcoming == without and len(without) >= 31


def test_a_past_appointment_left_without_a_status_bills_like_a_show(demo):
    export, today = demo
    path = export.folder / f"appointments-{today}.csv"
    before = {r.key: r.data for r in read(export.source_settings, "encounters") if isinstance(r, Record)}
    rows = list(csv.reader(io.StringIO(path.read_text())))
    status = HEADER.index("Status")
    rows = [rows[0], *([*r[:status], "" if r[status] == "Show" else r[status], *r[status + 1:]] for r in rows[1:])]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.unlink()
    (export.folder / "appointments-unmarked.csv").write_text(out.getvalue())
    after = {r.key: r.data for r in read(export.source_settings, "encounters") if isinstance(r, Record)}
    assert after == before


# ------------------------------------------------------------------------------------------- conformance


def test_conformance_of_the_appointments_stream(tmp_path: Path):
    today = today_in()
    good = write_demo_export(tmp_path / "good", today)
    broken = write_demo_export(tmp_path / "broken", today)
    write_appointments(broken.folder, "calendar-broken.csv",
                       [row(today + timedelta(days=1), "10:00 AM", "Nobody Known", "SP-99999")])
    check_source(lambda: SimplePracticeSource("sp", good.source_settings), since=datetime.now(UTC) - timedelta(days=1),
                 streams=["appointments"],
                 bad_records_factory=lambda: SimplePracticeSource("sp-bad", broken.source_settings))
