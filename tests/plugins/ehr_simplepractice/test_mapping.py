"""Mapping tables to SimplePractice export kinds: detection, the practice's overrides and missing columns."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from claimbridge.plugins.ehr_simplepractice.files import Table, read_tables
from claimbridge.plugins.ehr_simplepractice.layouts import BILLING, INSURANCE, INSURANCE_PAYMENTS, LAYOUTS
from claimbridge.plugins.ehr_simplepractice.mapping import (
    MappingError,
    Row,
    describe_unknown,
    detect,
    rows,
    validate_overrides,
)
from claimbridge.plugins.ehr_simplepractice.values import parse_money, parse_payer, split_name
from tests.plugins.ehr_simplepractice.test_files import BILLING_CSV, BILLING_HEADER


def table(header: str, *data: str, name: str = "billing.csv") -> Table:
    return Table(name, tuple(header.split(",")), tuple((n, tuple(line.split(","))) for n, line in enumerate(data, 2)))


def read_billing(tmp_path: Path) -> Table:
    path = tmp_path / "billing.csv"
    path.write_bytes(BILLING_CSV.encode())
    (result,) = read_tables(path)
    return result


def test_billing_report_read_end_to_end(tmp_path: Path) -> None:
    billing = read_billing(tmp_path)

    layout, columns = detect(billing)
    first, no_charge, over = rows(billing, layout, columns)

    assert layout is BILLING
    assert columns["client_paid"] == 12 and columns["insurance_paid"] == 16
    assert columns["client_charge"] == 10 and columns["insurance_charge"] == 15
    assert "client_id" not in columns
    assert (first.file, first.number) == ("billing.csv", 2)
    assert split_name(first.get("client")) == ("Jane", "Doe")
    assert first.get("billing_code") == "90837"
    assert parse_payer(first.get("primary_insurance")) == ("Lakeshore Health Plan", "LKSHP")
    assert parse_money(first.get("client_paid")) == Decimal("30.00")
    assert parse_money(first.get("insurance_paid")) == Decimal("0.00")
    assert parse_money(first.get("insurance_unpaid")) == Decimal("155.00")
    assert no_charge.get("client_payment_status") == "NO CHARGE"
    assert parse_money(no_charge.get("total_fee")) == Decimal("1200.00")
    assert over.get("client_payment_status") == "OVER"
    assert parse_money(over.get("client_unpaid")) == Decimal("-25.00")
    assert first.get("client_id") == "" and not first.has("client_id") and first.has("client")


def test_row_short_of_a_column_reads_empty_and_typos_fail() -> None:
    billing = table(BILLING_HEADER, "11/05/2026,Jane Doe,Dr. Amy Lee,90837")
    layout, columns = detect(billing)
    (row,) = rows(billing, layout, columns)

    assert isinstance(row, Row)
    assert row.get("billing_code") == "90837"
    assert row.get("insurance_unpaid") == ""
    with pytest.raises(KeyError):
        row.get("insurence_unpaid")


@pytest.mark.parametrize("kind", list(LAYOUTS))
def test_each_kind_is_detected_from_its_default_headers(kind: str) -> None:
    layout = LAYOUTS[kind]
    header = ",".join(column.header for column in layout.columns)

    detected, columns = detect(table(header, name=f"{kind}.csv"))

    assert detected is layout
    assert columns == {column.key: index for index, column in enumerate(layout.columns)}


def test_headers_compare_without_case_or_extra_spaces() -> None:
    layout, columns = detect(table(" date of SERVICE ,client,Clinician,billing  code,TOTAL FEE"))

    assert layout is BILLING
    assert columns == {"date_of_service": 0, "client": 1, "clinician": 2, "billing_code": 3, "total_fee": 4}


def test_insurance_payments_win_over_insurance_with_the_same_payer_column() -> None:
    payments = table("Payment Date,Payer,Reference Number,Client,Date of Service,Billing Code,Amount,Member ID")
    insurance = table("Client,Date of Birth,Payer,Member ID,Diagnosis Codes")

    assert detect(payments)[0] is INSURANCE_PAYMENTS
    assert detect(insurance)[0] is INSURANCE


def test_override_renames_a_header() -> None:
    fee = table("Date of Service,Client,Clinician,Billing Code,Fee")

    assert detect(fee) is None
    layout, columns = detect(fee, {"billing": {"total_fee": "fee"}})
    assert layout is BILLING and columns["total_fee"] == 4


def test_override_by_occurrence_and_by_position() -> None:
    header = "Date of Service,Client,Clinician,Billing Code,Total Fee,Amount,Amount,Amount,SP Number"
    overrides = {"billing": {
        "client_paid": "Amount",
        "insurance_paid": {"header": "Amount", "occurrence": 3},
        "insurance_charge": {"header": "amount", "occurrence": 2},
        "client_id": {"position": 9},
        "modifiers": {"position": 10},  # past the last column: not found, and not required
    }}

    layout, columns = detect(table(header), overrides)

    assert layout is BILLING
    assert (columns["client_paid"], columns["insurance_charge"], columns["insurance_paid"]) == (5, 6, 7)
    assert columns["client_id"] == 8
    assert "modifiers" not in columns


def test_missing_required_column_names_the_key_to_map() -> None:
    clients = table("Client ID,First Name,Last Name,Date of Birth", name="clients.csv")
    no_clinician = table("Date of Service,Client,Billing Code,Total Fee,Paid")

    with pytest.raises(MappingError) as raised:
        detect(no_clinician)

    error = raised.value
    assert str(error) == (
        "billing.csv: column 'Clinician' not found (mapping key columns.billing.clinician: set it to this "
        "export's header for the rendering clinician's name). Headers found: Date of Service, Client, "
        "Billing Code, Total Fee, Paid"
    )
    assert (error.file, error.kind, error.key, error.header) == ("billing.csv", "billing", "clinician", "Clinician")
    assert isinstance(error, ValueError)
    assert detect(clients)[0].kind == "clients"


def test_missing_overridden_column_is_named_as_mapped() -> None:
    billing = table("Date of Service,Client,Provider,Billing Code,Total Fee", name="export.zip:reports/billing.csv")

    with pytest.raises(MappingError) as raised:
        detect(billing, {"billing": {"clinician": "Therapist"}})
    assert str(raised.value).startswith(
        "export.zip:reports/billing.csv: column 'Therapist' not found (mapping key columns.billing.clinician: "
    )

    with pytest.raises(MappingError) as raised:
        detect(billing, {"billing": {"clinician": {"position": 7}}})
    assert str(raised.value).startswith("export.zip:reports/billing.csv: column 7 not found (mapping key ")
    assert raised.value.header is None

    with pytest.raises(MappingError) as raised:
        detect(billing, {"billing": {"clinician": {"header": "Provider", "occurrence": 2}}})
    assert str(raised.value).startswith("export.zip:reports/billing.csv: column 'Provider' (occurrence 2) not found")

    assert detect(billing, {"billing": {"clinician": {"position": 3}}})[1]["clinician"] == 2


def test_signature_follows_the_overrides() -> None:
    payments = table("Paid On,Payer,Check,Total", name="payments.csv")
    overrides = {"insurance_payments": {"payment_date": "Paid On", "amount": {"position": 4}}}

    assert detect(payments) is None
    layout, columns = detect(payments, overrides)
    assert layout is INSURANCE_PAYMENTS
    assert columns == {"payment_date": 0, "payer": 1, "amount": 3}


def test_unknown_table_is_none_and_described() -> None:
    unknown = table("Invoice,Client,Due", name="invoices.csv")
    near = table("Date of Service,Client,Billing Code,Fee", name="near.csv")

    assert detect(unknown) is None
    message = describe_unknown(unknown)
    assert message.startswith("invoices.csv: not a known SimplePractice export. Headers found: Invoice, Client, Due. ")
    assert "billing (Appointment status / billing report): 'Date of Service', 'Client', 'Billing Code', 'Total Fee'" in message
    assert "insurance_payments (Insurance payments report): 'Payment Date', 'Payer', 'Amount'" in message
    assert "Closest: billing, which lacks column 'Date of Service' (mapping key columns.billing.date_of_service); " in message
    assert detect(near) is None
    assert describe_unknown(near).endswith(
        "Closest: billing, which lacks column 'Total Fee' (mapping key columns.billing.total_fee): "
        "map it if this export names it differently"
    )
    overrides = {"billing": {"total_fee": "Charge"}}
    assert "'Date of Service', 'Client', 'Billing Code', 'Charge'" in describe_unknown(near, overrides)


def test_validate_overrides_accepts_every_form() -> None:
    validate_overrides(None)
    validate_overrides({})
    validate_overrides({"billing": {"total_fee": "Fee", "insurance_paid": {"header": "Paid", "occurrence": 2},
                                    "client_id": {"position": 11}}, "clients": {}})


def test_validate_overrides_reports_every_problem_with_the_valid_choices() -> None:
    with pytest.raises(ValueError) as raised:
        validate_overrides({
            "bills": {"total_fee": "Fee"},
            "billing": {"total": "Fee", "units": "", "client_paid": {"header": "Paid", "occurrence": 0},
                        "insurance_paid": {"header": "Paid", "position": 3}, "clinician": 5,
                        "client_id": {"position": 1, "occurrence": 2}, "modifiers": {"column": "Mods"}},
        })

    problems = str(raised.value).split("; ")
    assert problems[0] == ("columns: unknown export kind 'bills' (valid: billing, appointments, clients, insurance, "
                           "insurance_payments)")
    assert problems[1].startswith("columns.billing.total: unknown key (valid for billing: date_of_service, client, ")
    assert problems[2:] == [
        "columns.billing.units: the header is empty",
        "columns.billing.client_paid: occurrence must be a whole number from 1",
        "columns.billing.insurance_paid: give either header (with an optional occurrence) or position",
        "columns.billing.clinician: expected a header, {header: ..., occurrence: n} or {position: n}",
        "columns.billing.client_id: occurrence goes with header, not position",
        "columns.billing.modifiers: unknown field(s) column (valid: header, occurrence, position)",
    ]
