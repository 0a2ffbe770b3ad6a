"""The demo practice as a SimplePractice export: real files, read back the way the source must read them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from claimbridge.claims.systems import CPT
from claimbridge.plugins.ehr_fhir.demo_data import apply_code_map, demo_code_map, demo_resources
from claimbridge.plugins.ehr_simplepractice import demo_export
from claimbridge.plugins.ehr_simplepractice.demo_export import (
    KINDS,
    DemoExport,
    demo_source_entry,
    write_demo_export,
)
from claimbridge.plugins.ehr_simplepractice.layouts import (
    APPOINTMENTS,
    CLIENTS,
    INSURANCE,
    INSURANCE_PAYMENTS,
)

TODAY = dt.date(2026, 3, 15)
#: the header of the real report (DOMAIN.md "SimplePractice")
REAL_BILLING_HEADER = (
    "Date of Service,Client,Clinician,Billing Code,Primary Insurance,Secondary Insurance,Rate per Unit,Units,"
    "Total Fee,Client Payment Status,Charge,Uninvoiced,Paid,Unpaid,Insurance Payment Status,Charge,Paid,Unpaid"
)
# billing report positions
DATE, CLIENT, CLINICIAN, CODE, PRIMARY, SECONDARY, RATE, UNITS, TOTAL = range(9)
CLIENT_STATUS, CLIENT_CHARGE, UNINVOICED, CLIENT_PAID, CLIENT_UNPAID = range(9, 14)
INSURANCE_STATUS, INSURANCE_CHARGE, INSURANCE_PAID, INSURANCE_UNPAID = range(14, 18)


def money(text: str) -> Decimal:
    text = text.strip()
    negative = text.startswith(("(", "-"))
    value = Decimal(text.strip("()-").replace("$", "").replace(",", ""))
    return -value if negative else value


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> DemoExport:
    return write_demo_export(tmp_path_factory.mktemp("sp-csv"), TODAY)


@pytest.fixture(scope="module")
def billing(export) -> list[list[str]]:
    rows = read_csv(export.files["billing"])
    return rows[1:]


@pytest.fixture(scope="module")
def appointments(export) -> list[list[str]]:
    return read_csv(export.files["appointments"])


def test_determinism_every_form(tmp_path):
    first = {form: write_demo_export(tmp_path / "a" / form, TODAY, form=form) for form in ("csv", "xlsx", "zip")}
    time.sleep(2.1)  # zip entry times have a 2-second resolution; docProps dates one second
    second = {form: write_demo_export(tmp_path / "b" / form, TODAY, form=form) for form in ("csv", "xlsx", "zip")}
    for form in first:
        paths_a = sorted(set(first[form].files.values()))
        paths_b = sorted(set(second[form].files.values()))
        assert [p.name for p in paths_a] == [p.name for p in paths_b]
        for a, b in zip(paths_a, paths_b, strict=True):
            assert a.read_bytes() == b.read_bytes(), (form, a.name)
    other = write_demo_export(tmp_path / "c", TODAY + dt.timedelta(days=1))
    assert other.files["billing"].read_bytes() != first["csv"].files["billing"].read_bytes()


def test_file_list_per_form(tmp_path):
    csv_export = write_demo_export(tmp_path / "csv", TODAY)
    assert set(csv_export.files) == set(KINDS)
    assert {p.suffix for p in csv_export.files.values()} == {".csv"}
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == sorted(p.name for p in csv_export.files.values())
    xlsx_export = write_demo_export(tmp_path / "xlsx", TODAY, form="xlsx")
    assert xlsx_export.files["insurance"].suffix == ".xlsx"
    assert {k for k, p in xlsx_export.files.items() if p.suffix == ".csv"} == set(KINDS) - {"insurance"}
    zip_export = write_demo_export(tmp_path / "zip", TODAY, form="zip")
    assert set(zip_export.files.values()) == {tmp_path / "zip" / "simplepractice-export-2026-03-15.zip"}
    assert list((tmp_path / "zip").iterdir()) == [tmp_path / "zip" / "simplepractice-export-2026-03-15.zip"]
    with pytest.raises(ValueError, match="form"):
        write_demo_export(tmp_path / "bad", TODAY, form="json")


def test_billing_header_is_the_real_one(export):
    first_line = export.files["billing"].read_bytes().split(b"\r\n", 1)[0].decode("utf-8")
    assert first_line == REAL_BILLING_HEADER
    assert "Client ID" not in first_line


def test_duplicate_columns_hold_client_and_insurance_amounts(billing):
    assert billing and all(len(row) == 18 for row in billing)
    for row in billing:
        assert money(row[CLIENT_CHARGE]) + money(row[INSURANCE_CHARGE]) == money(row[TOTAL])
        assert money(row[CLIENT_CHARGE]) - money(row[CLIENT_PAID]) == money(row[CLIENT_UNPAID])
        assert money(row[INSURANCE_CHARGE]) - money(row[INSURANCE_PAID]) == money(row[INSURANCE_UNPAID])
        assert money(row[RATE]) * int(row[UNITS]) == money(row[TOTAL])
    # both sides carry amounts somewhere: a dict reader keyed by header would lose the client side
    assert any(money(row[CLIENT_CHARGE]) and money(row[INSURANCE_CHARGE]) for row in billing)
    assert any(money(row[CLIENT_PAID]) != money(row[INSURANCE_PAID]) for row in billing)


def test_trailing_spaces_and_payer_cells(billing):
    assert any(row[CODE] == "90837 " for row in billing)
    assert any(row[CLIENT] == "Juniper Aldana-Fitch " for row in billing)
    assert any(row[PRIMARY].endswith(") ") for row in billing)
    for row in billing:
        assert row[PRIMARY].strip().endswith((" (LKSHP)", " (PSMCD)"))
        assert row[SECONDARY] in ("", "Prairie State Medicaid (PSMCD)")
        assert all(cell.strip().startswith(("$", "($", "-$")) for cell in row[RATE:RATE + 1] + row[TOTAL:TOTAL + 1])


def _expected_lines() -> Counter:
    """(date, client, code, units, total) of every demo encounter, as the FHIR path would bill it."""
    resources = demo_resources(TODAY)
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    fees = demo_export.demo_fee_schedule()
    out: Counter = Counter()
    for enc in (r for r in resources if r["resourceType"] == "Encounter"):
        name = by_ref[enc["subject"]["reference"]]["name"][0]
        client = f"{name['given'][0]} {name['family']}"
        day = dt.date.fromisoformat(enc["period"]["start"][:10]).strftime("%m/%d/%Y")
        items = [r for r in resources if r["resourceType"] == "ChargeItem"
                 and r["context"]["reference"] == f"Encounter/{enc['id']}"]
        if items:
            for item in items:
                code = item["code"]["coding"][0]["code"]
                units = item["quantity"]["value"]
                total = (Decimal(str(item["priceOverride"]["value"])) if "priceOverride" in item
                         else fees[code] * units)
                out[(day, client, code, units, total.quantize(Decimal("0.01")))] += 1
            continue
        concept = {"coding": list(enc["type"][0]["coding"])}
        apply_code_map(concept, demo_code_map())
        code = next((c["code"] for c in concept["coding"] if c["system"] == CPT), "ADMIN15")
        total = fees.get(code, Decimal("35.00"))
        out[(day, client, code, 1, total)] += 1
    return out


def test_every_attended_demo_session_is_billed(billing, appointments):
    late = {(r[0], r[4]) for r in appointments[1:] if r[8] == "Late Cancelled"}
    attended = Counter(
        (row[DATE], row[CLIENT].strip(), row[CODE].strip(), int(row[UNITS]), money(row[TOTAL]))
        for row in billing if money(row[TOTAL]) and (row[DATE], row[CLIENT].strip()) not in late
    )
    assert attended == _expected_lines()
    assert sum(attended.values()) == 32  # 31 encounters, enc-007 with two billing codes
    enc_007 = [row for row in billing if row[CLIENT] == "Rafael Okonkwo-Brandt" and row[DATE] == "02/22/2026"]
    assert [(r[CODE], r[UNITS], r[RATE], r[TOTAL]) for r in enc_007] == [
        ("90834", "1", "$140.00", "$140.00"), ("96127", "2", "$15.00", "$30.00")]
    # the late-cancel fees are in the billing report too, billed to the client only
    fees = [row for row in billing if (row[DATE], row[CLIENT].strip()) in late]
    assert len(fees) == 2
    assert all(money(r[TOTAL]) == money(r[CLIENT_CHARGE]) == Decimal("75.00") for r in fees)
    assert all(r[INSURANCE_STATUS] == "NO CHARGE" for r in fees)


def test_no_charge_and_over_rows(billing):
    free = [row for row in billing if money(row[TOTAL]) == 0]
    assert len(free) == 1
    assert free[0][TOTAL] == "$0.00"
    assert free[0][CLIENT_STATUS] == free[0][INSURANCE_STATUS] == "NO CHARGE"
    over = [row for row in billing if row[CLIENT_STATUS] == "OVER"]
    assert {row[CLIENT_UNPAID] for row in over} == {"($20.00)", "-$10.00"}
    assert all(money(row[CLIENT_UNPAID]) < 0 for row in over)
    statuses = {row[CLIENT_STATUS] for row in billing} | {row[INSURANCE_STATUS] for row in billing}
    assert statuses == {"PAID", "UNPAID", "NO CHARGE", "OVER"}


def test_money_format():
    assert demo_export._money(Decimal("185")) == "$185.00"
    assert demo_export._money(Decimal("1185")) == "$1,185.00"
    assert demo_export._money(Decimal("-20")) == "($20.00)"
    assert demo_export._money(Decimal("-1020"), "minus") == "-$1,020.00"


def test_appointments(appointments):
    assert appointments[0] == [c.header for c in APPOINTMENTS.columns]
    rows = appointments[1:]
    assert {row[8] for row in rows} == {"Show", "Late Cancelled", "No Show", "Cancelled"}
    assert sum(row[8] == "Show" for row in rows) == 32  # 31 demo encounters and the free phone check-in
    locations = Counter(row[9] for row in rows)
    assert {"Video Office", "Telehealth", "Phone", "Riverbend Counseling - Harbor Street",
            "Riverbend Counseling - Elm Avenue Annex"} == set(locations)
    resources = demo_resources(TODAY)
    video = sum(1 for r in resources if r["resourceType"] == "Encounter" and r["class"]["code"] == "VR")
    assert sum(row[9] == "Video Office" and row[8] == "Show" for row in rows) == video
    # enc-028: 90837 for a 41-minute session (the time band the scrubber holds) stays as it is
    enc_028 = next(row[:4] for row in rows if row[7] == "90837" and row[3] == "41")
    assert enc_028 == ["03/04/2026", "9:00 AM", "9:41 AM", "41"]
    assert all(row[5].startswith("SP-1000") for row in rows)


def test_clients_and_insurance(export):
    clients = read_csv(export.files["clients"])
    assert clients[0] == [c.header for c in CLIENTS.columns]
    assert clients[1][:5] == ["SP-10001", "Lena", "Marchetti-Oyelaran", "04/17/1988", "Female"]
    assert len({(r[1], r[2]) for r in clients[1:]}) == len(clients) - 1  # no two clients share a name
    insurance = read_csv(export.files["insurance"])
    assert insurance[0] == [c.header for c in INSURANCE.columns]
    rows = insurance[1:]
    # enc-026's defect: Wendell Prudhomme (SP-10006) has no insurance row although billed to Lakeshore
    assert "SP-10006" not in {row[0] for row in rows}
    by_client = {}
    for row in rows:
        by_client.setdefault(row[1], []).append(row)
    noemi = by_client["Noemi Thistlewood"][0]
    assert noemi[8:12] == ["Spouse", "Samuel", "Thistlewood", "07/23/1991"]
    assert noemi[15] == "F41.1, Z63.0"
    assert [r[3] for r in by_client["Corinne Vasquez-Lindqvist"]] == ["Primary", "Secondary"]
    assert by_client["Rafael Okonkwo-Brandt"][0][16] == "PA26-0048812"
    assert by_client["Juniper Aldana-Fitch"][0][8] == "Child"
    old = by_client["Lena Marchetti-Oyelaran"][1]
    assert (old[4], old[14]) == ("Old Mutual Benefit Plan", "12/31/2024")
    assert by_client["Samuel Thistlewood"][0][15] == "F43.23"


def test_insurance_payments(export, billing):
    payments = read_csv(export.files["insurance_payments"])
    assert payments[0] == [c.header for c in INSURANCE_PAYMENTS.columns]
    assert len(payments) > 3
    paid = {(r[DATE], r[CLIENT].strip(), r[CODE].strip()): money(r[INSURANCE_PAID]) for r in billing}
    for row in payments[1:]:
        assert row[2].startswith("EFT")
        service = dt.datetime.strptime(row[4], "%m/%d/%Y").date()
        assert (TODAY - service).days > 14
        assert dt.datetime.strptime(row[0], "%m/%d/%Y").date() <= TODAY
        assert paid[(row[4], row[3], row[5])] == money(row[6])


def test_held_encounters_keep_a_defect(export, billing):
    settings = export.source_settings
    admin = [row for row in billing if row[CODE].strip() == "ADMIN15"]
    assert len(admin) == 1  # enc-027: a custom service code, not CPT
    wendell = [row for row in billing if row[CLIENT] == "Wendell Prudhomme"]
    assert len(wendell) == 1 and wendell[0][PRIMARY] == "Lakeshore Health Plan (LKSHP)"
    assert {row[CLINICIAN] for row in billing} <= set(settings["clinicians"])


def test_xlsx_holds_real_dates(tmp_path):
    export = write_demo_export(tmp_path, TODAY, form="xlsx")
    workbook = openpyxl.load_workbook(export.files["insurance"])
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [c.header for c in INSURANCE.columns]
    first = rows[1]
    assert first[0] == "SP-10001"
    assert first[2] == dt.datetime(1988, 4, 17)
    assert isinstance(first[13], dt.datetime)
    assert first[6] == "LKH40917723"
    assert workbook.properties.created == dt.datetime(2026, 3, 15)
    csv_rows = read_csv(write_demo_export(tmp_path / "csv", TODAY).files["insurance"])
    assert len(rows) == len(csv_rows)


def test_zip_holds_reports(tmp_path):
    export = write_demo_export(tmp_path / "zip", TODAY, form="zip")
    plain = write_demo_export(tmp_path / "csv", TODAY)
    archive = export.files["billing"]
    assert archive.name == "simplepractice-export-2026-03-15.zip"
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert all(name.startswith("reports/") for name in names)
        assert sorted(names) == sorted(export.members.values())
        for kind in KINDS:
            assert opened.read(export.members[kind]) == plain.files[kind].read_bytes()
        header = next(csv.reader(io.StringIO(opened.read(export.members["billing"]).decode())))
        assert ",".join(header) == REAL_BILLING_HEADER


def test_source_entry(tmp_path):
    entry = demo_source_entry(tmp_path)
    assert entry["name"] == "simplepractice" and entry["type"] == "simplepractice"
    settings = entry["settings"]
    assert set(settings) == {"folder", "clinicians", "telehealth_locations", "audio_only_locations",
                             "service_locations", "appointments"}
    assert settings["appointments"] == {"timezone": "America/Chicago"}
    assert settings["folder"] == str(tmp_path)
    assert settings["clinicians"]["Tobias Renwick"] == {"npi": "1436219871", "taxonomy": "101YM0800X",
                                                        "supervisor": "Ingrid Solvang"}
    assert "supervisor" not in settings["clinicians"]["Ingrid Solvang"]
    assert settings["telehealth_locations"] == ["Video Office", "Telehealth"]
    assert settings["audio_only_locations"] == ["Phone"]
    assert settings["service_locations"]["Riverbend Counseling - Elm Avenue Annex"] == {
        "pos": "11", "address": {"line": ["88 Elm Avenue"], "city": "Springfield", "state": "IL",
                                 "postal_code": "627031456"}}
    assert write_demo_export(tmp_path, TODAY).source_settings == settings
