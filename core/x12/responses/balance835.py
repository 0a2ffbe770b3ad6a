"""Balancing an 835 before anything is posted: pure functions over a
:class:`~claimbridge.x12.responses.model835.Remittance835`.

* payment: BPR02 (negative when BPR03 = D) = ΣCLP04 − ΣPLB amounts (a negative PLB amount, e.g. interest,
  raises the payment; a positive one, e.g. a recoupment, lowers it);
* claim: CLP03 − CLP04 = Σ CAS amounts at claim and line level;
* line: SVC02 − SVC03 = Σ the line's CAS amounts.

Signs are taken as they are: a reversal (CLP02 = 22) has negative charge, payment and adjustments and
balances the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from claimbridge.x12.responses._values import format_money as _m
from claimbridge.x12.responses.model835 import Remittance835

__all__ = ["Discrepancy", "balance_835"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """Two numbers that should agree and do not. ``level`` is ``payment``, ``claim`` or ``line``; ``pcn`` and
    ``line`` (1-based within the claim) say where; ``expected`` is what the parts add up to, ``actual`` the
    total the file states."""

    level: str
    segment: int
    expected: Decimal
    actual: Decimal
    description: str
    pcn: str | None = None
    line: int | None = None

    @property
    def difference(self) -> Decimal:
        return self.actual - self.expected

    def __str__(self) -> str:
        return f"segment {self.segment}: {self.description} (difference {_m(self.difference)})"


def balance_835(remittance: Remittance835) -> list[Discrepancy]:
    """Every place ``remittance`` does not balance; an empty list when it balances to the cent."""
    found: list[Discrepancy] = []
    paid = sum((c.paid for c in remittance.claims), _ZERO)
    plb = sum((a.amount for a in remittance.provider_adjustments), _ZERO)
    payment = remittance.payment
    if paid - plb != payment.signed_amount:
        found.append(Discrepancy(
            "payment", remittance.segment, paid - plb, payment.signed_amount,
            f"BPR02 {_m(payment.signed_amount)} ≠ ΣCLP04 {_m(paid)} − ΣPLB {_m(plb)} = {_m(paid - plb)}"))
    for claim in remittance.claims:
        line_total = _ZERO
        for number, line in enumerate(claim.lines, 1):
            adjusted = sum((a.amount for a in line.adjustments), _ZERO)
            line_total += adjusted
            if line.charge - line.paid != adjusted:
                found.append(Discrepancy(
                    "line", line.segment, adjusted, line.charge - line.paid,
                    f"claim {claim.patient_control_number} line {number}: SVC02 {_m(line.charge)} − SVC03 "
                    f"{_m(line.paid)} = {_m(line.charge - line.paid)} ≠ Σ line CAS {_m(adjusted)}",
                    claim.patient_control_number, number))
        adjusted = sum((a.amount for a in claim.adjustments), _ZERO) + line_total
        if claim.charge - claim.paid != adjusted:
            found.append(Discrepancy(
                "claim", claim.segment, adjusted, claim.charge - claim.paid,
                f"claim {claim.patient_control_number}: CLP03 {_m(claim.charge)} − CLP04 {_m(claim.paid)} = "
                f"{_m(claim.charge - claim.paid)} ≠ Σ claim and line CAS {_m(adjusted)}", claim.patient_control_number))
    return found
