"""The 835 remittance (005010X221A1) as typed objects. Money is :class:`~decimal.Decimal` with the sign the file
gives it (a reversal, CLP02 = 22, carries negative amounts); dates are :class:`datetime.date`.

Personal data (the patient's and insured's names and ids, reference numbers such as the medical record number)
is kept, marked :data:`PHI`, and left out of ``repr`` and of the JSON the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from claimbridge.x12.responses.codes import CLAIM_STATUS, meaning

__all__ = ["PHI", "Adjustment", "ClaimPayment", "Party", "Payment", "Person", "ProcedureCode",
           "ProviderAdjustment", "Remittance835", "ServiceLine"]

#: field metadata on the dataclass fields that hold protected health information
PHI = {"phi": True}


@dataclass(slots=True)
class Adjustment:
    """One CAS reason/amount/quantity triplet with its group code (CO, PR, OA, PI)."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(slots=True)
class ProcedureCode:
    """An SVC01/SVC06 composite: qualifier (HC, AD, N4, ZZ …), code, modifiers, description."""

    qualifier: str
    code: str
    modifiers: tuple[str, ...] = ()
    description: str | None = None


@dataclass(slots=True)
class ServiceLine:
    """Loop 2110: one SVC with its dates, adjustments, control number (REF*6R), amounts and remarks."""

    adjudicated: ProcedureCode
    charge: Decimal
    paid: Decimal
    revenue_code: str | None = None
    units: Decimal | None = None
    submitted: ProcedureCode | None = None
    original_units: Decimal | None = None
    service_date: date | None = None
    service_end: date | None = None
    control_number: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    amounts: dict[str, Decimal] = field(default_factory=dict)
    remarks: list[str] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict, repr=False, metadata=PHI)
    segment: int = 0

    @property
    def procedure(self) -> str:
        return self.adjudicated.code

    @property
    def modifiers(self) -> tuple[str, ...]:
        return self.adjudicated.modifiers

    @property
    def allowed(self) -> Decimal | None:
        """AMT*B6, the allowed amount."""
        return self.amounts.get("B6")


@dataclass(slots=True)
class Person:
    """An NM1 in loop 2100 (patient QC, insured IL, corrected 74 …): PHI, never logged."""

    entity: str
    last: str
    first: str
    middle: str
    id_qualifier: str
    id: str


@dataclass(slots=True)
class ClaimPayment:
    """Loop 2100: one CLP with its adjustments, people, dates, amounts, remarks and service lines."""

    patient_control_number: str
    status_code: str
    charge: Decimal
    paid: Decimal
    patient_responsibility: Decimal | None = None
    filing_indicator: str | None = None
    payer_claim_control_number: str | None = None
    facility_code: str | None = None
    frequency_code: str | None = None
    header_number: str | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    lines: list[ServiceLine] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    statement_start: date | None = None
    statement_end: date | None = None
    received_date: date | None = None
    amounts: dict[str, Decimal] = field(default_factory=dict)
    quantities: dict[str, Decimal] = field(default_factory=dict)
    rendering_provider_id: str | None = None
    original_reference_number: str | None = None
    patient: Person | None = field(default=None, repr=False, metadata=PHI)
    people: list[Person] = field(default_factory=list, repr=False, metadata=PHI)
    references: dict[str, str] = field(default_factory=dict, repr=False, metadata=PHI)
    segment: int = 0

    @property
    def status(self) -> str | None:
        """What CLP02 means (``"denied"``, ``"reversal of previous payment"`` …)."""
        return meaning(CLAIM_STATUS, self.status_code)

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"


@dataclass(slots=True)
class ProviderAdjustment:
    """One PLB reason/amount pair. A negative amount raises the payment (interest), a positive one lowers it
    (a recoupment)."""

    provider_id: str
    fiscal_period_date: date | None
    reason: str
    reference: str | None
    amount: Decimal
    segment: int = 0


@dataclass(slots=True)
class Payment:
    """BPR and TRN: how much, how (ACH, CHK, NON …), when, and the trace number that identifies it."""

    amount: Decimal
    credit_debit: str
    method: str
    date: date | None
    trace_number: str
    payer_id: str | None
    handling_code: str = ""
    format_code: str | None = None
    originating_company_id: str | None = None

    @property
    def signed_amount(self) -> Decimal:
        """BPR02 with the sign of BPR03: negative for a debit (D)."""
        return -self.amount if self.credit_debit == "D" else self.amount


@dataclass(slots=True)
class Party:
    """The payer (N1*PR) or payee (N1*PE): name, N103/N104 id and the loop's REF ids by qualifier."""

    name: str = ""
    id_qualifier: str | None = None
    id: str | None = None
    references: dict[str, str] = field(default_factory=dict)

    @property
    def npi(self) -> str | None:
        return self.id if self.id_qualifier == "XX" else None

    @property
    def tax_id(self) -> str | None:
        return self.id if self.id_qualifier == "FI" else self.references.get("TJ")


@dataclass(slots=True)
class Remittance835:
    """One 835 transaction set (ST…SE)."""

    control_number: str
    payment: Payment
    payer: Party
    payee: Party
    claims: list[ClaimPayment] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    production_date: date | None = None
    receiver_id: str | None = None
    version: str | None = None
    interchange_control_number: str | None = None
    group_control_number: str | None = None
    segment: int = 0
    type: str = "835"
