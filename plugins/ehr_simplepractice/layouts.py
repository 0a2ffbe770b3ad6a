"""The SimplePractice exports the plugin reads, and their default column layouts.

SimplePractice has no public API; a practice downloads reports (CSV or Excel) and exports. Each kind of file
below has named columns, each with a *mapping key* (stable, used in configuration and error messages) and the
header SimplePractice writes by default. Headers are matched after trimming whitespace, without case. A header
that appears more than once (the billing report's ``Charge``, ``Paid`` and ``Unpaid``: first the client side,
then the insurance side) is told apart by its occurrence, counted from 1 — which is why files are read by
position, never into a dict keyed by header.

A practice whose export differs maps a key to another header in the source's settings
(``columns: {billing: {total_fee: "Fee"}}``, or ``{header: "Charge", occurrence: 2}``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of an export: its mapping key, default header and which occurrence of that header."""

    key: str
    header: str
    required: bool = False
    occurrence: int = 1
    #: what the column holds, for docs and error messages
    about: str = ""


@dataclass(frozen=True)
class Layout:
    """One kind of export."""

    kind: str
    title: str
    columns: tuple[Column, ...]
    #: headers that, all present, say a file is this kind (after the practice's mapping is applied)
    signature: tuple[str, ...]

    def column(self, key: str) -> Column:
        for column in self.columns:
            if column.key == key:
                return column
        raise KeyError(f"{self.kind} has no column {key!r}")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns)


#: The appointment status / billing report. This exact header was seen in a real download (DOMAIN.md):
#: Date of Service,Client,Clinician,Billing Code,Primary Insurance,Secondary Insurance,Rate per Unit,Units,
#: Total Fee,Client Payment Status,Charge,Uninvoiced,Paid,Unpaid,Insurance Payment Status,Charge,Paid,Unpaid
BILLING = Layout(
    kind="billing",
    title="Appointment status / billing report",
    columns=(
        Column("date_of_service", "Date of Service", True, about="the session date"),
        Column("client", "Client", True, about="the client's name"),
        Column("clinician", "Clinician", True, about="the rendering clinician's name"),
        Column("billing_code", "Billing Code", True, about="CPT/HCPCS code of the session"),
        Column("primary_insurance", "Primary Insurance", about="payer as 'Name (PayerID)'"),
        Column("secondary_insurance", "Secondary Insurance", about="payer as 'Name (PayerID)'"),
        Column("rate_per_unit", "Rate per Unit", about="fee per unit"),
        Column("units", "Units", about="units billed"),
        Column("total_fee", "Total Fee", True, about="the session's charge"),
        Column("client_payment_status", "Client Payment Status", about="PAID, UNPAID, NO CHARGE, OVER"),
        Column("client_charge", "Charge", occurrence=1, about="client side: charged"),
        Column("uninvoiced", "Uninvoiced", about="client side: not yet invoiced"),
        Column("client_paid", "Paid", occurrence=1, about="client side: paid"),
        Column("client_unpaid", "Unpaid", occurrence=1, about="client side: unpaid (negative when OVER)"),
        Column("insurance_payment_status", "Insurance Payment Status", about="PAID, UNPAID, NO CHARGE, OVER"),
        Column("insurance_charge", "Charge", occurrence=2, about="insurance side: charged"),
        Column("insurance_paid", "Paid", occurrence=2, about="insurance side: paid"),
        Column("insurance_unpaid", "Unpaid", occurrence=2, about="insurance side: unpaid"),
        # not in the report seen, used when a practice's variant has them
        Column("client_id", "Client ID", about="SimplePractice client id (joins without name matching)"),
        Column("appointment_status", "Appointment Status", about="Show, Late Cancelled, No Show, Cancelled"),
        Column("modifiers", "Modifiers", about="procedure modifiers, comma separated"),
    ),
    signature=("Date of Service", "Client", "Billing Code", "Total Fee"),
)

#: Appointments (the calendar export): attendance status, times and where the session happened.
APPOINTMENTS = Layout(
    kind="appointments",
    title="Appointments export",
    columns=(
        Column("date", "Date", True, about="the appointment date"),
        Column("start_time", "Start Time", about="e.g. 10:00 AM"),
        Column("end_time", "End Time", about="e.g. 10:53 AM"),
        Column("duration", "Duration", about="minutes (a number, or '53 min')"),
        Column("client", "Client", True, about="the client's name"),
        Column("client_id", "Client ID", about="SimplePractice client id"),
        Column("clinician", "Clinician", True, about="the clinician's name"),
        Column("service_code", "Service Code", about="CPT/HCPCS code booked"),
        Column("status", "Status", True, about="Show, Late Cancelled, No Show, Cancelled; blank or Scheduled: upcoming"),
        Column("location", "Location", about="office name, or Video Office / Telehealth / Phone"),
    ),
    signature=("Date", "Client", "Clinician", "Status"),
)

#: Client list with demographics.
CLIENTS = Layout(
    kind="clients",
    title="Client list",
    columns=(
        Column("client_id", "Client ID", about="SimplePractice client id"),
        Column("first_name", "First Name", True),
        Column("last_name", "Last Name", True),
        Column("date_of_birth", "Date of Birth", True),
        Column("sex", "Sex", about="Female, Male, or blank"),
        Column("address_line_1", "Address Line 1"),
        Column("address_line_2", "Address Line 2"),
        Column("city", "City"),
        Column("state", "State"),
        Column("zip", "ZIP"),
        Column("phone", "Phone"),
    ),
    signature=("First Name", "Last Name", "Date of Birth"),
)

#: Insurance and diagnosis details, one row per client and plan.
INSURANCE = Layout(
    kind="insurance",
    title="Client insurance and diagnoses",
    columns=(
        Column("client_id", "Client ID", about="SimplePractice client id"),
        Column("client", "Client", about="the client's name (with Date of Birth when there is no Client ID)"),
        Column("date_of_birth", "Date of Birth", about="the client's date of birth"),
        Column("order", "Insurance Type", about="Primary, Secondary or Tertiary"),
        Column("payer", "Payer", True, about="payer name, or 'Name (PayerID)'"),
        Column("payer_id", "Payer ID", about="electronic payer id (else taken from the Payer cell)"),
        Column("member_id", "Member ID", True, about="subscriber's member id"),
        Column("group_number", "Group Number"),
        Column("relationship", "Relationship to Insured", about="Self, Spouse, Child, Other"),
        Column("insured_first_name", "Insured First Name"),
        Column("insured_last_name", "Insured Last Name"),
        Column("insured_date_of_birth", "Insured Date of Birth"),
        Column("insured_sex", "Insured Sex"),
        Column("plan_start", "Coverage Start", about="first day covered"),
        Column("plan_end", "Coverage End", about="last day covered"),
        Column("diagnoses", "Diagnosis Codes", about="ICD-10-CM codes, in order, separated by , or ;"),
        Column("authorization_number", "Authorization Number", about="prior authorization for this plan"),
    ),
    signature=("Payer", "Member ID"),
)

#: Insurance payments the practice recorded in SimplePractice (to compare with the 835s).
INSURANCE_PAYMENTS = Layout(
    kind="insurance_payments",
    title="Insurance payments report",
    columns=(
        Column("payment_date", "Payment Date", True),
        Column("payer", "Payer", True, about="payer name, or 'Name (PayerID)'"),
        Column("reference", "Reference Number", about="check or EFT trace number"),
        Column("client", "Client", about="the client's name"),
        Column("date_of_service", "Date of Service"),
        Column("billing_code", "Billing Code"),
        Column("amount", "Amount", True, about="amount paid for this session"),
    ),
    signature=("Payment Date", "Payer", "Amount"),
)

LAYOUTS: dict[str, Layout] = {layout.kind: layout for layout in
                              (BILLING, APPOINTMENTS, CLIENTS, INSURANCE, INSURANCE_PAYMENTS)}

#: appointment statuses as SimplePractice writes them (compared without case) → claimbridge attendance
ATTENDANCE = {
    "show": "show",
    "showed": "show",
    "late cancelled": "late_cancel",
    "late canceled": "late_cancel",
    "late cancel": "late_cancel",
    "no show": "no_show",
    "no-show": "no_show",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}

#: appointments export statuses of an appointment that has not happened yet (a blank Status too) → attendance
#: ``scheduled``: read by the ``appointments`` stream; a billing row is never read with it
UPCOMING = {"": "scheduled", "scheduled": "scheduled", "confirmed": "scheduled", "unconfirmed": "scheduled",
            "booked": "scheduled", "pending": "scheduled"}

#: payment statuses of the billing report
PAYMENT_STATUSES = ("PAID", "UNPAID", "NO CHARGE", "OVER")
