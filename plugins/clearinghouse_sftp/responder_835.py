"""The sandbox payer's 835 (005010X221A1): claims accepted by the 277CA, adjudicated by a simple model.

One interchange per payer, one transaction set per billing provider (the payee). Per service line the
allowed amount is the fee schedule's rate times the units (never more than the charge; codes not in the
schedule are allowed ``default_allowed_share`` of their charge). The difference is ``CO-45``. The copay is
taken from the first line (``PR-3``), coinsurance from what remains (``PR-2``). A share of claims
(``denial_rate``, decided per PCN so a run repeats exactly) is denied with one of ``denials``: CLP02 = 4,
nothing paid, each line adjusted in full with that group/CARC and its remark codes in ``LQ*HE``. Optional
interest is paid through ``PLB*…*L6`` (a negative PLB amount raises the payment).

A share of paid claims (``reversal_rate``) is reprocessed: a second file per payer
(``<payer id>-reprocessed``) reverses the payment (CLP02 = 22, every amount negated, same payer claim
number) and pays the claim again without the copay (the payer found it was waived), so the net is the copay.

Every file balances: per line SVC02 − SVC03 = Σ line CAS, per claim CLP03 − CLP04 = Σ CAS and CLP05 = Σ PR,
and BPR02 = Σ CLP04 − Σ PLB.
"""

from __future__ import annotations

import dataclasses
import random
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from claimbridge.x12.writer import SegmentWriter, format_decimal, format_money

from .received_837 import Interchange, ServiceLine, SubmittedClaim, TransactionSet
from .responder_277ca import JudgedClaim

__all__ = ["AdjudicationModel", "write_835s"]

REMIT_IMPLEMENTATION = "005010X221A1"
_CENT = Decimal("0.01")

#: allowed amount per unit for common behavioral-health codes (an invented but plausible commercial schedule)
DEFAULT_FEES: Mapping[str, Decimal] = {
    "90791": Decimal("145.00"), "90792": Decimal("160.00"), "90832": Decimal("68.00"),
    "90834": Decimal("92.00"), "90837": Decimal("120.00"), "90833": Decimal("65.00"),
    "90836": Decimal("85.00"), "90838": Decimal("110.00"), "90839": Decimal("135.00"),
    "90840": Decimal("65.00"), "90846": Decimal("95.00"), "90847": Decimal("100.00"),
    "90849": Decimal("35.00"), "90853": Decimal("28.00"), "90785": Decimal("14.00"),
    "96127": Decimal("5.00"),
}

#: denials the sandbox payer hands out: (group, CARC, remark codes)
DEFAULT_DENIALS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("CO", "197", ()),
    ("CO", "16", ("N290",)),
    ("CO", "50", ("N130",)),
    ("CO", "29", ()),
    ("OA", "18", ()),
    ("CO", "97", ("M15",)),
    ("CO", "22", ("MA04",)),
    ("CO", "119", ("N640",)),
    ("PR", "27", ()),
    ("CO", "4", ("N822",)),
)

#: SBR09 claim filing indicator → CLP06 (codes the 835 allows; everything else is PPO "12")
_FILING = {"MB": "MB", "MA": "MA", "MC": "MC", "CH": "CH", "HM": "HM", "BL": "12", "CI": "12", "VA": "VA",
           "WC": "WC", "DS": "DS", "TV": "TV"}


@dataclass(frozen=True)
class AdjudicationModel:
    """How the sandbox payer pays. Money is Decimal; shares are fractions (``Decimal("0.2")`` = 20 %)."""

    fee_schedule: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_FEES))
    default_allowed_share: Decimal = Decimal("0.70")
    copay: Decimal = Decimal("20.00")
    coinsurance: Decimal = Decimal("0")
    denial_rate: Decimal = Decimal("0.10")
    denials: tuple[tuple[str, str, tuple[str, ...]], ...] = DEFAULT_DENIALS
    interest: Decimal = Decimal("0")
    reversal_rate: Decimal = Decimal("0")
    seed: str = "claimbridge-sandbox"

    def reverses(self, pcn: str) -> bool:
        """Whether the payer later reprocesses this (paid) claim: reverses it and pays it again."""
        chooser = random.Random(f"{self.seed}:reversal:{pcn}")  # noqa: S311 - test data, not security
        return Decimal(str(chooser.random())) < self.reversal_rate

    def denial_for(self, pcn: str) -> tuple[str, str, tuple[str, ...]] | None:
        """The denial this PCN gets, or None when it is paid (the same answer every time)."""
        chooser = random.Random(f"{self.seed}:{pcn}")  # noqa: S311 - test data, not security
        if not self.denials or Decimal(str(chooser.random())) >= self.denial_rate:
            return None
        return self.denials[chooser.randrange(len(self.denials))]


@dataclass
class _LinePayment:
    line: ServiceLine
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None
    adjustments: list[tuple[str, str, Decimal]]  # group, reason, amount
    remarks: tuple[str, ...] = ()


@dataclass
class _ClaimPayment:
    verdict: JudgedClaim
    status: str
    lines: list[_LinePayment]

    @property
    def charge(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal(0))

    @property
    def paid(self) -> Decimal:
        return sum((line.paid for line in self.lines), Decimal(0))

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((amount for line in self.lines for group, _, amount in line.adjustments if group == "PR"),
                   Decimal(0))


def adjudicate(claim: SubmittedClaim, model: AdjudicationModel, verdict: JudgedClaim) -> _ClaimPayment:
    denial = model.denial_for(claim.pcn)
    lines = []
    copay_left = model.copay
    for line in claim.lines:
        charge = line.charge if line.charge is not None else Decimal(0)
        if denial is not None:
            group, reason, remarks = denial
            lines.append(_LinePayment(line, charge, Decimal(0), None, [(group, reason, charge)], remarks))
            continue
        units = _units(line.units)
        code = line.procedure[1] if len(line.procedure) > 1 else ""
        rate = model.fee_schedule.get(code)
        allowed = (rate * units) if rate is not None else charge * model.default_allowed_share
        allowed = min(charge, allowed.quantize(_CENT, rounding=ROUND_HALF_UP))
        adjustments = []
        if charge > allowed:
            adjustments.append(("CO", "45", charge - allowed))
        copay = min(copay_left, allowed)
        copay_left -= copay
        if copay:
            adjustments.append(("PR", "3", copay))
        coinsurance = ((allowed - copay) * model.coinsurance).quantize(_CENT, rounding=ROUND_HALF_UP)
        if coinsurance:
            adjustments.append(("PR", "2", coinsurance))
        lines.append(_LinePayment(line, charge, allowed - copay - coinsurance, allowed, adjustments))
    return _ClaimPayment(verdict, "4" if denial is not None else "1", lines)


def write_835s(received: Interchange, judged: list[tuple[TransactionSet, JudgedClaim]],
               model: AdjudicationModel, control_numbers: Callable[[], int], now: datetime,
               open_interchange: Callable[[SegmentWriter, Interchange, int, datetime], None]) -> dict[str, str]:
    """One 835 interchange per payer for the accepted claims in ``judged``: payer id → file text."""
    by_payer: dict[str, list[JudgedClaim]] = {}
    for _, verdict in judged:
        if verdict.accepted:
            by_payer.setdefault(verdict.claim.payer.id or "UNKNOWN", []).append(verdict)
    files = {}
    interest = model.interest.quantize(_CENT, rounding=ROUND_HALF_UP)
    waived = dataclasses.replace(model, copay=Decimal(0), denial_rate=Decimal(0))
    for payer_id, verdicts in by_payer.items():
        by_payee: dict[str, list[_ClaimPayment]] = {}
        for verdict in verdicts:
            payment = adjudicate(verdict.claim, model, verdict)
            by_payee.setdefault(verdict.claim.billing.id, []).append(payment)
        files[payer_id] = _interchange(received, payer_id, list(by_payee.values()), interest,
                                       control_numbers(), now, open_interchange)
        reprocessed = []
        for payments in by_payee.values():
            pairs = [(_reversal(p), adjudicate(p.verdict.claim, waived, p.verdict)) for p in payments
                     if p.status == "1" and p.paid > 0 and model.reverses(p.verdict.claim.pcn)]
            if pairs:
                reprocessed.append([payment for pair in pairs for payment in pair])
        if reprocessed:
            files[f"{payer_id}-reprocessed"] = _interchange(received, payer_id, reprocessed, Decimal(0),
                                                            control_numbers(), now, open_interchange)
    return files


def _interchange(received: Interchange, payer_id: str, by_payee: list[list[_ClaimPayment]], interest: Decimal,
                 control_number: int, now: datetime,
                 open_interchange: Callable[[SegmentWriter, Interchange, int, datetime], None]) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    out.segment("GS", "HP", payer_id[:15] or "SANDBOX", received.sender_id or "UNKNOWN",
                now.strftime("%Y%m%d"), now.strftime("%H%M"), str(control_number), "X", REMIT_IMPLEMENTATION)
    for number, payments in enumerate(by_payee, start=1):
        _write_remittance(out, payments, interest, f"{control_number:09d}{number:03d}", number, now)
    out.segment("GE", str(len(by_payee)), str(control_number))
    out.segment("IEA", "1", f"{control_number:09d}")
    return out.text()


def _reversal(payment: _ClaimPayment) -> _ClaimPayment:
    """``payment`` taken back: CLP02 22 with every amount negated."""
    lines = [_LinePayment(line.line, -line.charge, -line.paid, None if line.allowed is None else -line.allowed,
                          [(group, reason, -amount) for group, reason, amount in line.adjustments], line.remarks)
             for line in payment.lines]
    return _ClaimPayment(payment.verdict, "22", lines)


def _write_remittance(out: SegmentWriter, payments: list[_ClaimPayment], interest: Decimal,
                      trace: str, number: int, now: datetime) -> None:
    first = payments[0].verdict.claim
    payer, payee = first.payer, first.billing
    st_start = len(out)
    control = f"{number:04d}"
    out.segment("ST", "835", control)
    total = sum((p.paid for p in payments), Decimal(0)) + interest
    stamp = now.strftime("%Y%m%d")
    if total > 0:
        out.segment("BPR", "I", format_money(total), "C", "CHK", "", "", "", "", "", "", "", "", "", "", "",
                    stamp)
    else:
        out.segment("BPR", "H", format_money(total), "C", "NON", "", "", "", "", "", "", "", "", "", "", "",
                    stamp)
    payer_tin = f"1{zlib.crc32(payer.id.encode()) % 1_000_000_000:09d}"
    out.segment("TRN", "1", trace, payer_tin)
    out.segment("DTM", "405", stamp)
    out.segment("N1", "PR", payer.last or "SANDBOX PAYER")
    out.segment("N3", "1 SANDBOX WAY")
    out.segment("N4", "SPRINGFIELD", "IL", "62701")
    out.segment("PER", "BL", "SANDBOX EDI SUPPORT", "TE", "8005550100")
    out.segment("N1", "PE", payee.last or "PAYEE", "XX", payee.id or "UNKNOWN")
    out.segment("LX", "1")
    for payment in payments:
        _write_claim(out, payment)
    if interest:
        out.segment("PLB", payee.id or "UNKNOWN", f"{now:%Y}1231", ("L6", payments[0].verdict.claim.pcn),
                    format_money(-interest))
    out.segment("SE", str(len(out) - st_start + 1), control)


def _write_claim(out: SegmentWriter, payment: _ClaimPayment) -> None:
    claim = payment.verdict.claim
    out.segment("CLP", claim.pcn, payment.status, format_money(payment.charge), format_money(payment.paid),
                format_money(payment.patient_responsibility), _FILING.get(claim.filing, "12"),
                payment.verdict.payer_claim_number)
    patient = claim.patient
    out.segment("NM1", "QC", "1", patient.last or "UNKNOWN", patient.first, "", "", "", "MI",
                patient.id or "UNKNOWN")
    for line in payment.lines:
        procedure = tuple(line.line.procedure[:6]) or ("HC", "UNKNOWN")
        units = format_decimal(_units(line.line.units))
        out.segment("SVC", procedure, format_money(line.charge), format_money(line.paid), "", units)
        if line.line.dates:
            out.segment("DTM", "472", f"{line.line.dates[0]:%Y%m%d}")
        by_group: dict[str, list[str]] = {}
        for group, reason, amount in line.adjustments:
            if amount:
                by_group.setdefault(group, []).extend([reason, format_money(amount), ""])
        for group, triplets in by_group.items():
            out.segment("CAS", group, *triplets[:18])
        if line.line.control_number:
            out.segment("REF", "6R", line.line.control_number)
        if line.allowed is not None:
            out.segment("AMT", "B6", format_money(line.allowed))
        for remark in line.remarks:
            out.segment("LQ", "HE", remark)


def _units(text: str) -> Decimal:
    try:
        units = Decimal(text)
    except (ArithmeticError, ValueError):
        return Decimal(1)
    return units if units > 0 else Decimal(1)
