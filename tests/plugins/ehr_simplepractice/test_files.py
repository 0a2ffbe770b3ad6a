"""Reading SimplePractice downloads: real CSV, XLSX and ZIP files written to a temporary folder."""

from __future__ import annotations

import hashlib
import zipfile
from datetime import date, datetime, time
from pathlib import Path

import pytest
from openpyxl import Workbook

from claimbridge.plugins.ehr_simplepractice.files import (
    FileProblem,
    Table,
    excel_cell_text,
    file_digest,
    read_tables,
)

BILLING_HEADER = (
    "Date of Service,Client,Clinician,Billing Code,Primary Insurance,Secondary Insurance,Rate per Unit,Units,"
    "Total Fee,Client Payment Status,Charge,Uninvoiced,Paid,Unpaid,Insurance Payment Status,Charge,Paid,Unpaid"
)
BILLING_CSV = (
    BILLING_HEADER + "\r\n"
    '11/05/2026,"Doe, Jane",Dr. Amy Lee,"90837 ",Lakeshore Health Plan (LKSHP),,$185.00,1,$185.00,'
    'PAID,$30.00,$0.00,$30.00,$0.00,UNPAID,$155.00,$0.00,$155.00\r\n'
    ",,,,,,,,,,,,,,,,,\r\n"
    '11/06/2026,John Roe,Dr. Amy Lee,90791,,,"$1,200.00",1,"$1,200.00",NO CHARGE,$0.00,$0.00,$0.00,$0.00,'
    "PAID,$0.00,$0.00,$0.00\r\n"
    '11/07/2026,"Roe,\nJohn",Dr. Amy Lee,90834,Aetna,,$120.00,1,$120.00,OVER,$20.00,$0.00,$45.00,($25.00),'
    "UNPAID,$100.00,$0.00,$100.00\r\n"
)


def only(items: list) -> object:
    assert len(items) == 1, items
    return items[0]


def test_billing_csv_keeps_duplicate_columns_by_position(tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    path.write_bytes(BILLING_CSV.encode())

    table = only(list(read_tables(path)))

    assert isinstance(table, Table)
    assert table.name == "billing.csv"
    assert table.header == tuple(BILLING_HEADER.split(","))
    assert table.header.count("Paid") == 2
    numbers = [number for number, _ in table.rows]
    assert numbers == [2, 4, 5]  # the blank row 3 is skipped; row 5's cell spans two lines but is one row
    first = table.rows[0][1]
    assert first[1] == "Doe, Jane"
    assert first[3] == "90837"  # trailing space trimmed
    assert first[12] == "$30.00" and first[16] == "$0.00"  # client Paid, then insurance Paid
    assert table.rows[2][1][1] == "Roe,\nJohn"
    assert table.rows[2][1][13] == "($25.00)"


def test_blank_lines_before_the_header_count_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_text("\n\nFirst Name,Last Name,Date of Birth\nJane,Doe,01/02/1990\nJohn,Roe\n", encoding="utf-8")

    table = only(list(read_tables(path)))

    assert table.header == ("First Name", "Last Name", "Date of Birth")
    assert table.rows == ((4, ("Jane", "Doe", "01/02/1990")), (5, ("John", "Roe")))  # short row kept short


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes("First Name,Last Name\nRené,Doe\n".encode("utf-8-sig"))

    table = only(list(read_tables(path)))

    assert table.header[0] == "First Name"
    assert table.rows[0][1] == ("René", "Doe")


def test_cp1252_saved_by_excel(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes("First Name,Last Name\r\nRené,Doe\r\nZoë,“Q”\r\n".encode("cp1252"))

    table = only(list(read_tables(path)))

    assert [cells for _, cells in table.rows] == [("René", "Doe"), ("Zoë", "“Q”")]


def test_undecodable_text_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"First Name,Last Name\n\x81\x8d,\x9d\n")

    problem = only(list(read_tables(path)))

    assert problem == FileProblem("odd.csv", problem.reason)
    assert "encoding" in problem.reason


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"\n  \n,,\n", "no header row"),
        ("notes.txt", b"just some notes\nno columns here\n", "without comma-separated columns"),
        ("report.pdf", b"%PDF-1.4", "not a CSV, XLSX or ZIP file"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ".xls"),
        ("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "password-protected workbook"),
        ("broken.xlsx", b"PK\x03\x04 not really", "not a readable XLSX"),
        ("unicode.csv", "a\tb\n".encode("utf-16"), "UTF-16"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)

    problem = only(list(read_tables(path)))

    assert isinstance(problem, FileProblem)
    assert problem.name == name
    assert reason in problem.reason


def test_txt_with_commas_is_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("Payer,Member ID\nAetna,W123\n", encoding="utf-8")

    assert only(list(read_tables(path))) == Table("export.txt", ("Payer", "Member ID"), ((2, ("Aetna", "W123")),))


def test_missing_file_is_a_problem(tmp_path: Path) -> None:
    problem = only(list(read_tables(tmp_path / "gone.csv")))

    assert isinstance(problem, FileProblem) and "cannot be read" in problem.reason


def write_workbook(path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Billing"
    sheet.append(["Date of Service", "Client", "Billing Code", "Total Fee", "Units", "Start", "Paid", "Flag"])
    sheet.append([datetime(2026, 11, 5), "Doe, Jane", "90837 ", 185.0, 1, time(10, 0), 45.5, True])
    sheet.append([])
    sheet.append([date(2026, 11, 6), "José Roe", 90791, 1234.56, 1.0, datetime(2026, 11, 6, 14, 30), None, False])
    workbook.create_sheet("Empty")
    other = workbook.create_sheet("Clients")
    other.append(["First Name", "Last Name", "Date of Birth"])
    other.append(["Jane", "Doe", datetime(1990, 1, 2)])
    workbook.save(path)


def test_xlsx_sheets_become_tables_with_canonical_text(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    write_workbook(path)

    tables = list(read_tables(path))

    assert [table.name for table in tables] == ["export.xlsx[Billing]", "export.xlsx[Clients]"]  # Empty skipped
    billing = tables[0]
    assert billing.header[3] == "Total Fee"
    assert billing.rows == (
        (2, ("2026-11-05", "Doe, Jane", "90837", "185", "1", "10:00", "45.5", "TRUE")),
        (4, ("2026-11-06", "José Roe", "90791", "1234.56", "1", "2026-11-06 14:30", "", "FALSE")),
    )
    assert tables[1].rows == ((2, ("Jane", "Doe", "1990-01-02")),)


def test_xlsx_with_only_empty_sheets_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "blank.xlsx"
    Workbook().save(path)

    problem = only(list(read_tables(path)))

    assert isinstance(problem, FileProblem) and "no header row" in problem.reason


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "TRUE"),
        (False, "FALSE"),
        (185, "185"),
        (185.0, "185"),
        (45.5, "45.5"),
        (0.1, "0.1"),
        (1e-05, "0.00001"),
        (date(2026, 11, 5), "2026-11-05"),
        (datetime(2026, 11, 5, 0, 0), "2026-11-05"),
        (datetime(2026, 11, 5, 9, 5, 30), "2026-11-05 09:05"),
        (time(14, 30), "14:30"),
        ("  text ", "  text "),  # trimming is the table's job
    ],
)
def test_excel_cell_text(value: object, text: str) -> None:
    assert excel_cell_text(value) == text


def test_zip_members_in_folders(tmp_path: Path) -> None:
    workbook = tmp_path / "clients.xlsx"
    write_workbook(workbook)
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("reports/billing.csv", BILLING_CSV)
        archive.write(workbook, "reports/clients.xlsx")
        archive.writestr("__MACOSX/reports/._billing.csv", b"\0\x05\x16\x07 resource fork")
        archive.writestr("reports/.DS_Store", b"\0\0\0\1Bud1")
        archive.writestr("reports/", b"")
        archive.writestr("documents/intake.pdf", b"%PDF-1.4")
        archive.writestr("README.txt", "Your SimplePractice export\n")
        archive.writestr("old/inner.zip", b"PK\x05\x06" + b"\0" * 18)

    results = list(read_tables(path))

    assert [item.name for item in results] == [
        "export.zip:reports/billing.csv",
        "export.zip:reports/clients.xlsx[Billing]",
        "export.zip:reports/clients.xlsx[Clients]",
        "export.zip:old/inner.zip",
    ]
    assert results[0].header == tuple(BILLING_HEADER.split(","))
    assert len(results[0].rows) == 3
    assert results[1].rows[0][1][0] == "2026-11-05"
    assert isinstance(results[3], FileProblem) and "inside the ZIP" in results[3].reason


def test_encrypted_zip_says_it_is_password_protected(tmp_path: Path) -> None:
    path = tmp_path / "full_export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("billing.csv", BILLING_CSV)
    # zipfile cannot encrypt; set the "encrypted" flag in the local and central headers as an encrypting tool does
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x01
    path.write_bytes(bytes(data))

    problem = only(list(read_tables(path)))

    assert problem.name == "full_export.zip:billing.csv"
    assert "password protected" in problem.reason and "SimplePractice full account exports" in problem.reason


def test_corrupt_zip_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(b"PK\x03\x04 this was cut off in the download")

    assert only(list(read_tables(path))) == FileProblem("export.zip", "not a readable ZIP file (damaged, or not a ZIP)")


def test_file_digest(tmp_path: Path) -> None:
    path = tmp_path / "billing.csv"
    path.write_bytes(BILLING_CSV.encode())

    assert file_digest(path) == hashlib.sha256(BILLING_CSV.encode()).hexdigest()
