"""The ``simplepractice`` source, read stream by stream from real export files in a folder (or an SFTP inbox)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from claimbridge import BadRecord, Record
from claimbridge.claims.systems import EXT_ATTENDANCE, POS, V2_0203
from claimbridge.plugins.ehr_simplepractice.demo_export import demo_reports, write_demo_export
from claimbridge.plugins.ehr_simplepractice.source import SimplePracticeSource

pytest_plugins = ["claimbridge.testing"]

TODAY = dt.date(2026, 3, 15)
# billing report positions
DATE, CLIENT, CLINICIAN, CODE = range(4)
RATE, TOTAL_FEE, INSURANCE_CHARGE = 6, 8, 15
# insurance report positions
INS_CLIENT_ID, INS_PAYER_ID, INS_MEMBER_ID = 0, 5, 6


# ------------------------------------------------------------------------------------------------ helpers


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([v.strftime("%m/%d/%Y") if isinstance(v, dt.date) else v for v in row])
    return out.getvalue().encode("utf-8")


def write_reports(folder: Path, reports: dict[str, tuple[list[str], list[list[Any]]]], suffix: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for kind, (header, rows) in reports.items():
        (folder / f"{kind}{suffix}.csv").write_bytes(_csv(header, rows))


def settings_for(folder: Path, **extra: Any) -> dict[str, Any]:
    settings = write_demo_export(folder.parent / "_settings_only", TODAY).source_settings
    shutil.rmtree(folder.parent / "_settings_only")
    return {**settings, "folder": str(folder), **extra}


def read(settings: dict[str, Any], since: datetime | None = None, stream: str = "encounters",
         until: datetime | None = None) -> list[Record | BadRecord]:
    with SimplePracticeSource("sp", settings) as source:
        chosen = next(s for s in source.streams() if s.name == stream)
        return list(chosen.read(since, until or datetime.now(UTC) + timedelta(seconds=1)))


def records(results) -> dict[str, dict]:
    return {r.key: r.data for r in results if isinstance(r, Record)}


def bad(results) -> list[BadRecord]:
    return [r for r in results if isinstance(r, BadRecord)]


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def encounter(bundle: dict) -> dict:
    return resources(bundle, "Encounter")[0]


def patient_name(bundle: dict) -> str:
    name = resources(bundle, "Patient")[0]["name"][0]
    return f"{name['given'][0]} {name['family']}"


def find(found: dict[str, dict], client: str, *, codes: tuple[str, ...] | None = None,
         location: str | None = None, status: str | None = None) -> list[dict]:
    out = []
    for bundle in found.values():
        if patient_name(bundle) != client:
            continue
        if codes is not None and tuple(c["code"]["coding"][0]["code"]
                                       for c in resources(bundle, "ChargeItem")) != codes:
            continue
        enc = encounter(bundle)
        if location == "VR" and enc["class"]["code"] != "VR":
            continue
        if location == "office" and "location" not in enc:
            continue
        if status is not None and enc["status"] != status:
            continue
        out.append(bundle)
    return out


def max_cursor(results) -> datetime:
    return max(datetime.fromisoformat(r.cursor) for r in results if isinstance(r, Record))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[dict[str, Any], dict[str, dict]]:
    export = write_demo_export(tmp_path_factory.mktemp("sp-demo"), TODAY)
    results = read(export.source_settings)
    assert not bad(results)
    return export.source_settings, records(results)


# ------------------------------------------------------------------------------------------------ the demo


def test_every_form_of_the_demo_export_yields_the_same_encounters(tmp_path, demo):
    _, from_csv = demo
    assert len(from_csv) == 33
    for form in ("xlsx", "zip"):
        export = write_demo_export(tmp_path / form, TODAY, form=form)
        results = read(export.source_settings)
        assert not bad(results), form
        found = records(results)
        assert set(found) == set(from_csv), form
        assert all(json.dumps(found[k], sort_keys=True) == json.dumps(from_csv[k], sort_keys=True)
                   for k in found), form


def test_bundle_of_a_supervised_office_session(demo):
    _, found = demo
    # Samuel Thistlewood sees Tobias Renwick (pre-licensed, supervised by Ingrid Solvang) at the office
    bundle = find(found, "Samuel Thistlewood", codes=("90834",), location="office", status="finished")[0]
    enc = encounter(bundle)
    assert enc["status"] == "finished"
    assert enc["class"]["code"] == "AMB"
    assert enc["length"]["value"] in (42, 45) and enc["length"]["unit"] == "min"
    roles = [p["type"][0]["coding"][0]["code"] for p in enc["participant"]]
    assert roles == ["PPRF", "SPRF"]
    practitioners = {p["id"]: p for p in resources(bundle, "Practitioner")}
    people = [practitioners[p["individual"]["reference"].split("/")[1]] for p in enc["participant"]]
    assert [(p["name"][0]["given"][0], p["name"][0]["family"]) for p in people] == [
        ("Tobias", "Renwick"), ("Ingrid", "Solvang")]
    assert all(p["identifier"][0]["value"].isdigit() and len(p["identifier"][0]["value"]) == 10 for p in people)
    [location] = resources(bundle, "Location")
    assert enc["location"][0]["location"]["reference"] == f"Location/{location['id']}"
    assert location["type"][0]["coding"] == [{"system": POS, "code": "11"}]
    assert location["address"]["state"] == "IL"
    [coverage] = resources(bundle, "Coverage")
    assert coverage["order"] == 1 and coverage["subscriberId"] == "LKH40388105"
    assert [c["code"]["coding"][0]["code"] for c in resources(bundle, "Condition")] == ["F43.23"]


def test_bundle_charges_with_several_codes_and_units(demo):
    _, found = demo
    [bundle] = find(found, "Rafael Okonkwo-Brandt", codes=("90834", "96127"))
    charges = resources(bundle, "ChargeItem")
    assert [c["code"]["coding"][0]["code"] for c in charges] == ["90834", "96127"]
    assert [c["quantity"]["value"] for c in charges] == [1, 2]
    assert [c["priceOverride"] for c in charges] == [{"value": 140, "currency": "USD"},
                                                     {"value": 30, "currency": "USD"}]
    enc = encounter(bundle)
    assert all(c["context"]["reference"] == f"Encounter/{enc['id']}" for c in charges)
    assert enc["length"]["value"] == 45
    # a Prairie State Medicaid member with a prior authorization on the plan
    [coverage] = resources(bundle, "Coverage")
    [payer] = resources(bundle, "Organization")
    assert payer["identifier"] == [{"type": {"coding": [{"system": V2_0203, "code": "NIIP"}]}, "value": "PSMCD"}]
    assert coverage["payor"][0]["reference"] == f"Organization/{payer['id']}"


def test_bundle_of_a_video_session_with_two_plans(demo):
    _, found = demo
    bundle = find(found, "Corinne Vasquez-Lindqvist", codes=("90837",), location="VR")[0]
    enc = encounter(bundle)
    assert enc["class"]["code"] == "VR" and "location" not in enc
    assert not resources(bundle, "Location")
    coverages = sorted(resources(bundle, "Coverage"), key=lambda c: c["order"])
    assert [(c["order"], c["subscriberId"]) for c in coverages] == [(1, "LKH40777361"), (2, "IL8830199020")]
    payers = {f"Organization/{o['id']}": o for o in resources(bundle, "Organization")}
    assert [payers[c["payor"][0]["reference"]]["identifier"][0]["value"] for c in coverages] == ["LKSHP", "PSMCD"]
    conditions = {f"Condition/{c['id']}": c["code"]["coding"][0]["code"] for c in resources(bundle, "Condition")}
    ranked = sorted(enc["diagnosis"], key=lambda d: d["rank"])
    assert [conditions[d["condition"]["reference"]] for d in ranked] == ["F33.1", "F41.1"]
    assert [d["rank"] for d in ranked] == [1, 2]
    [charge] = resources(bundle, "ChargeItem")
    assert charge["priceOverride"] == {"value": 185, "currency": "USD"}


def test_payer_id_comes_from_the_billing_reports_name_and_id_cell(tmp_path):
    """An insurance export without a Payer ID column: the billing row's ``Name (PayerID)`` names it."""
    reports = demo_reports(TODAY)
    header, rows = reports["insurance"]
    reports["insurance"] = ([h for i, h in enumerate(header) if i != INS_PAYER_ID],
                            [[v for i, v in enumerate(row) if i != INS_PAYER_ID] for row in rows])
    folder = tmp_path / "import"
    write_reports(folder, reports)
    found = records(read(settings_for(folder)))
    assert len(found) == 33
    # Corinne's primary payer cell has a trailing space: "Lakeshore Health Plan (LKSHP) "
    bundle = find(found, "Corinne Vasquez-Lindqvist", codes=("90837",), location="VR")[0]
    coverages = sorted(resources(bundle, "Coverage"), key=lambda c: c["order"])
    payers = {f"Organization/{o['id']}": o for o in resources(bundle, "Organization")}
    named = [payers[c["payor"][0]["reference"]] for c in coverages]
    assert [(o["name"], o["identifier"][0]["value"]) for o in named] == [
        ("Lakeshore Health Plan", "LKSHP"), ("Prairie State Medicaid", "PSMCD")]
    assert all(o["identifier"][0]["type"]["coding"][0]["code"] == "NIIP" for o in named)


# ---------------------------------------------------------------------------------------- what is billable


def test_no_charge_rows_and_cancellations_never_become_encounters_late_cancels_do(tmp_path, demo):
    _, found = demo
    # the free ($0.00, NO CHARGE) phone check-in of Corinne is nowhere
    assert not [b for b in found.values() if any(c["priceOverride"]["value"] == 0
                                                  for c in resources(b, "ChargeItem"))]
    reports = demo_reports(TODAY)
    free = next(r for r in reports["billing"][1] if r[TOTAL_FEE] == "$0.00")
    free_day = dt.datetime.strptime(free[DATE], "%m/%d/%Y").date().isoformat()
    assert not [b for b in found.values() if encounter(b)["period"]["start"] == free_day
                and patient_name(b) == free[CLIENT].strip()]
    # the two late cancels with a fee: cancelled Encounters marked late_cancel, charged the fee
    late = [b for b in found.values() if encounter(b)["status"] == "cancelled"]
    assert sorted(patient_name(b) for b in late) == ["Noemi Thistlewood", "Samuel Thistlewood"]
    for bundle in late:
        enc = encounter(bundle)
        assert {"url": EXT_ATTENDANCE, "valueCode": "late_cancel"} in enc["extension"]
        assert [c["priceOverride"]["value"] for c in resources(bundle, "ChargeItem")] == [75]
    # a Cancelled appointment stays out even when the billing report carries a fee for it
    cancelled = next(r for r in reports["appointments"][1] if r[8] == "Cancelled")
    header, rows = reports["billing"]
    template = next(r for r in rows if r[CLIENT].strip() == cancelled[4] and r[CLINICIAN] == cancelled[6])
    fee_row = [cancelled[0], *template[1:3], "90834", *template[4:6], "$75.00", "1", "$75.00", *template[9:]]
    reports["billing"] = (header, [*rows, fee_row])
    folder = tmp_path / "import"
    write_reports(folder, reports)
    results = read(settings_for(folder))
    assert not bad(results)
    again = records(results)
    assert set(again) == set(found)
    cancelled_day = dt.datetime.strptime(cancelled[0], "%m/%d/%Y").date().isoformat()
    assert not [b for b in again.values() if encounter(b)["period"]["start"] == cancelled_day
                and patient_name(b) == cancelled[4]]


# ------------------------------------------------------------------------------------------- unusable rows


def test_a_bad_row_is_a_bad_record_and_the_rest_of_the_file_goes_on(tmp_path):
    reports = demo_reports(TODAY)
    header, rows = reports["billing"]
    rows = [list(r) for r in rows]
    rows[2][DATE] = "13/45/2026"   # file row 4
    rows[5][TOTAL_FEE] = "$14O.00"  # file row 7: a letter O for a zero
    reports["billing"] = (header, rows)
    folder = tmp_path / "import"
    write_reports(folder, reports)
    results = read(settings_for(folder))
    problems = sorted(bad(results), key=lambda b: b.key)
    assert [b.key for b in problems] == ["billing.csv:row 4", "billing.csv:row 7"]
    date_problem, money_problem = problems
    assert date_problem.field == "date_of_service"
    assert "Date of Service" in date_problem.reason and "13/45/2026" in date_problem.reason
    assert date_problem.payload["file"] == "billing.csv" and date_problem.payload["row"] == 4
    assert date_problem.payload["cells"][DATE] == "13/45/2026"
    assert money_problem.field == "total_fee"
    assert "Total Fee" in money_problem.reason and "money" in money_problem.reason
    assert money_problem.payload["row"] == 7 and money_problem.payload["cells"][TOTAL_FEE] == "$14O.00"
    # every other row still yields (the two bad rows were sessions of their own)
    assert len(records(results)) == 33 - 2


def test_a_missing_required_column_names_the_file_the_column_and_the_mapping_key(tmp_path, demo):
    _, expected = demo
    reports = demo_reports(TODAY)
    header, rows = reports["billing"]
    reports["billing"] = (["Provider" if h == "Clinician" else h for h in header], rows)
    folder = tmp_path / "import"
    write_reports(folder, reports)
    results = read(settings_for(folder))
    [problem] = bad(results)
    assert problem.key == "billing.csv"
    assert "billing.csv" in problem.reason and "'Clinician'" in problem.reason
    assert "columns.billing.clinician" in problem.reason
    assert problem.field == "columns.billing.clinician"
    assert not records(results)
    # mapped in the settings, the renamed header works
    mapped = read(settings_for(folder, columns={"billing": {"clinician": "Provider"}}))
    assert not bad(mapped)
    found = records(mapped)
    assert set(found) == set(expected)
    assert all(json.dumps(found[k], sort_keys=True) == json.dumps(expected[k], sort_keys=True) for k in found)


# -------------------------------------------------------------------------------------- two of one name


def _namesakes() -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Two clients called Avery Quillfeather (ids SP-90001 and SP-90002), each with a session."""
    reports = demo_reports(TODAY)
    c_header, c_rows = reports["clients"]
    i_header, i_rows = reports["insurance"]
    a_header, a_rows = reports["appointments"]
    b_header, b_rows = reports["billing"]
    base_client = c_rows[0]
    clients = [["SP-90001", "Avery", "Quillfeather", "02/03/1984", "Female", *base_client[5:]],
               ["SP-90002", "Avery", "Quillfeather", "09/10/2001", "Male", *base_client[5:]]]
    lakeshore = next(r for r in i_rows if r[INS_PAYER_ID] == "LKSHP")
    plans = []
    for client_id, member in (("SP-90001", "LKHQ0000001"), ("SP-90002", "LKHQ0000002")):
        plan = list(lakeshore)
        plan[INS_CLIENT_ID], plan[1], plan[INS_MEMBER_ID] = client_id, "Avery Quillfeather", member
        plan[2] = dt.date(1984, 2, 3) if client_id == "SP-90001" else dt.date(2001, 9, 10)
        plan[-1] = ""
        plans.append(plan)
    appointment = next(r for r in a_rows if r[8] == "Show" and r[7] == "90834")
    billing = next(r for r in b_rows if r[CODE].strip() == "90834" and r[4].startswith("Lakeshore")
                   and not r[5])
    appointments, charges = [], []
    for client_id, day, clinician in (("SP-90001", "03/02/2026", "Priya Halloran"),
                                      ("SP-90002", "03/02/2026", "Desmond Achterberg")):
        appointments.append([day, *appointment[1:4], "Avery Quillfeather", client_id, clinician,
                             *appointment[7:]])
        charges.append([day, "Avery Quillfeather", clinician, *billing[3:]])
    return {"clients": (c_header, clients), "insurance": (i_header, plans),
            "appointments": (a_header, appointments), "billing": (b_header, charges)}


def test_two_clients_of_one_name_are_told_apart_by_the_appointments_client_id(tmp_path):
    folder = tmp_path / "import"
    write_reports(folder, _namesakes())
    results = read(settings_for(folder))
    assert not bad(results)
    found = records(results)
    assert len(found) == 2
    by_member = {}
    for bundle in found.values():
        [patient] = resources(bundle, "Patient")
        [coverage] = resources(bundle, "Coverage")
        clinician = resources(bundle, "Practitioner")[0]["name"][0]["family"]
        by_member[patient["identifier"][0]["value"]] = (patient["birthDate"], coverage["subscriberId"], clinician)
    assert by_member == {"SP-90001": ("1984-02-03", "LKHQ0000001", "Halloran"),
                         "SP-90002": ("2001-09-10", "LKHQ0000002", "Achterberg")}


def test_two_clients_of_one_name_without_the_appointments_export_is_a_bad_record_saying_how_to_fix(tmp_path):
    reports = _namesakes()
    del reports["appointments"]
    folder = tmp_path / "import"
    write_reports(folder, reports)
    results = read(settings_for(folder))
    assert not records(results)
    problems = sorted(bad(results), key=lambda b: b.key)
    assert [b.key for b in problems] == ["billing.csv:row 2", "billing.csv:row 3"]
    for problem in problems:
        assert problem.field == "client"
        assert "share" in problem.reason
        assert "columns.billing.client_id" in problem.reason and "appointments" in problem.reason
        for text in (problem.key, problem.reason):
            assert "avery" not in text.lower() and "quillfeather" not in text.lower()


# ------------------------------------------------------------------------------------------- incremental


def test_reading_since_the_files_arrived_yields_only_what_came_later(tmp_path):
    export = write_demo_export(tmp_path / "import", TODAY)
    settings = export.source_settings
    folder = Path(settings["folder"])
    first = read(settings)
    everything = records(first)
    bookmark = max_cursor(first)
    assert all(datetime.fromisoformat(r.cursor).tzinfo is not None for r in first if isinstance(r, Record))
    assert read(settings, since=bookmark) == []
    payments = read(settings, stream="insurance_payments")
    assert len(payments) == 9 and not bad(payments)
    assert read(settings, since=max_cursor(payments), stream="insurance_payments") == []

    # a new billing export: the same session of Lena, with a corrected fee
    reports = demo_reports(TODAY)
    header, rows = reports["billing"]
    row = list(next(r for r in rows if r[CLIENT] == "Lena Marchetti-Oyelaran" and r[CODE].strip() == "90791"))
    row[RATE] = row[TOTAL_FEE] = "$210.00"
    row[INSURANCE_CHARGE] = "$185.00"
    time.sleep(0.01)
    (folder / "appointment-status-corrected.csv").write_bytes(_csv(header, [row]))
    changed = read(settings, since=bookmark)
    assert not bad(changed)
    [(key, bundle)] = records(changed).items()
    assert key in everything
    assert [c["priceOverride"]["value"] for c in resources(bundle, "ChargeItem")] == [210]
    assert [c["priceOverride"]["value"] for c in resources(everything[key], "ChargeItem")] == [200]
    second_bookmark = max_cursor(changed)
    assert second_bookmark > bookmark

    # a corrected insurance export for Juniper: every session of hers comes again, nobody else's
    i_header, i_rows = reports["insurance"]
    plans = [list(r) for r in i_rows if r[1] == "Juniper Aldana-Fitch"]
    assert plans
    for plan in plans:
        plan[INS_MEMBER_ID] = "LKH40612299"
    time.sleep(0.01)
    (folder / "client-insurance-corrected.csv").write_bytes(_csv(i_header, plans))
    corrected = records(read(settings, since=second_bookmark))
    juniper = {k for k, b in everything.items() if patient_name(b) == "Juniper Aldana-Fitch"}
    assert juniper and set(corrected) == juniper
    assert all(resources(b, "Coverage")[0]["subscriberId"] == "LKH40612299" for b in corrected.values())
    # whatever arrived after ``until`` waits for the next pull
    assert records(read(settings, since=bookmark, until=second_bookmark)).keys() == {key}


# ------------------------------------------------------------------------------------------- conformance


def test_conformance(tmp_path):
    from claimbridge.testing import check_source

    before = datetime.now(UTC) - timedelta(seconds=1)
    export = write_demo_export(tmp_path / "import", TODAY)
    reports = demo_reports(TODAY)
    header, rows = reports["billing"]
    rows = [list(r) for r in rows]
    rows[3][DATE] = "02/30/2026"
    reports["billing"] = (header, rows)
    write_reports(tmp_path / "bad", reports)
    bad_settings = {**export.source_settings, "folder": str(tmp_path / "bad")}
    check_source(lambda: SimplePracticeSource("sp", export.source_settings), since=before,
                 bad_records_factory=lambda: SimplePracticeSource("sp-bad", bad_settings))


# ------------------------------------------------------------------------------------------- SFTP inbox


def test_sftp_inbox_downloads_the_exports_and_reads_them_like_a_folder(tmp_path, demo,
                                                                        claimbridge_sandbox_clearinghouse):
    sandbox = claimbridge_sandbox_clearinghouse
    demo_settings, expected = demo
    write_demo_export(sandbox.root / "exports" / "simplepractice", TODAY)
    inbox = {**sandbox.settings().model_dump(mode="json", exclude_none=True), "password": sandbox.password,
             "remote_folder": "exports/simplepractice"}
    local = tmp_path / "downloaded"
    settings = {**demo_settings, "folder": str(local), "sftp": inbox}
    results = read(settings)
    assert not bad(results)
    found = records(results)
    assert set(found) == set(expected)
    assert all(json.dumps(found[k], sort_keys=True) == json.dumps(expected[k], sort_keys=True) for k in found)
    remote = sorted(p.name for p in (sandbox.root / "exports" / "simplepractice").iterdir())
    assert sorted(n for n in os.listdir(local) if not n.startswith(".")) == remote
    stamps = {p.name: p.stat().st_ctime_ns for p in local.iterdir() if not p.name.startswith(".")}
    bookmark = max_cursor(results)
    # a second read (a new pull): nothing is downloaded again, nothing new comes
    time.sleep(0.01)
    assert read(settings, since=bookmark) == []
    assert {p.name: p.stat().st_ctime_ns for p in local.iterdir() if not p.name.startswith(".")} == stamps


def test_a_no_show_with_a_fee_becomes_a_cancelled_encounter_marked_no_show(tmp_path):
    reports = demo_reports(TODAY)
    no_show = next(r for r in reports["appointments"][1] if r[8] == "No Show")
    header, rows = reports["billing"]
    template = next(r for r in rows if r[CLIENT].strip() == no_show[4] and r[CLINICIAN] == no_show[6])
    fee_row = [no_show[0], *template[1:3], no_show[7], *template[4:6], "$60.00", "1", "$60.00", *template[9:]]
    reports["billing"] = (header, [*rows, fee_row])
    folder = tmp_path / "import"
    write_reports(folder, reports)
    found = records(read(settings_for(folder)))
    assert len(found) == 34
    day = dt.datetime.strptime(no_show[0], "%m/%d/%Y").date().isoformat()
    [bundle] = [b for b in found.values() if encounter(b)["period"]["start"] == day and patient_name(b) == no_show[4]]
    enc = encounter(bundle)
    assert enc["status"] == "cancelled" and enc["class"]["code"] == "VR"
    assert enc["extension"] == [{"url": EXT_ATTENDANCE, "valueCode": "no_show"}]
    assert [c["priceOverride"]["value"] for c in resources(bundle, "ChargeItem")] == [60]


def test_a_corrected_insurance_export_ending_the_coverage_re_yields_the_sessions(tmp_path):
    export = write_demo_export(tmp_path / "import", TODAY)
    settings = export.source_settings
    first = read(settings)
    bookmark = max_cursor(first)
    i_header, i_rows = demo_reports(TODAY)["insurance"]
    plans = [list(r) for r in i_rows if r[1] == "Juniper Aldana-Fitch"]
    for plan in plans:
        plan[14] = dt.date(2026, 1, 31)  # Coverage End: before every session of hers
    time.sleep(0.01)
    (Path(settings["folder"]) / "client-insurance-corrected.csv").write_bytes(_csv(i_header, plans))
    now = records(read(settings))
    juniper = {k for k, b in now.items() if patient_name(b) == "Juniper Aldana-Fitch"}
    assert juniper and all(not resources(now[k], "Coverage") for k in juniper)  # the bundles did change
    assert set(records(read(settings, since=bookmark))) == juniper


def test_sftp_inbox_downloads_a_corrected_file_of_the_same_size(tmp_path, demo, claimbridge_sandbox_clearinghouse):
    sandbox = claimbridge_sandbox_clearinghouse
    demo_settings, _ = demo
    export = write_demo_export(sandbox.root / "exports", TODAY)
    inbox = {**sandbox.settings().model_dump(mode="json", exclude_none=True), "password": sandbox.password,
             "remote_folder": "exports"}
    settings = {**demo_settings, "folder": str(tmp_path / "downloaded"), "sftp": inbox}
    bookmark = max_cursor(read(settings))
    remote = export.files["billing"]
    content = remote.read_bytes()
    corrected = content.replace(b"$200.00", b"$210.00", 2)  # Rate per Unit and Total Fee of the first row
    assert corrected != content and len(corrected) == len(content)
    time.sleep(0.01)
    remote.write_bytes(corrected)
    changed = records(read(settings, since=bookmark))
    assert (tmp_path / "downloaded" / remote.name).read_bytes() == corrected
    assert [c["priceOverride"]["value"] for b in changed.values() for c in resources(b, "ChargeItem")
            if c["priceOverride"]["value"] == 210] == [210]
