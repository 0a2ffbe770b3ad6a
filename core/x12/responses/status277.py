"""277CA claim acknowledgments (005010X214), and 277 claim status responses (005010X212) read the same way.

The hierarchy: information source (HL03 20), information receiver (21), billing provider (19), patient (PT in
a 277CA; subscriber 22 / dependent 23 in a 277). Each level may carry STC statuses; claims are the TRN loops
under a patient level (2200D), with their service lines (2220D: SVC, STC, REF*FJ, DTP*472).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from claimbridge.x12.responses._values import Reader
from claimbridge.x12.responses.codes import STATUS_CATEGORIES, meaning

__all__ = ["ClaimStatus", "LevelStatus", "LineStatus", "Status", "StatusCode", "StatusParser", "StatusReport"]

LEVELS = {"20": "information_source", "21": "information_receiver", "19": "billing_provider",
          "PT": "patient", "22": "subscriber", "23": "dependent"}
_PATIENT_LEVELS = {"PT", "22", "23"}
_REJECTED = {"A3", "A4", "A6", "A7", "A8"}
_OUTCOMES = {"A0": "received", "A1": "received", "A2": "accepted", "A5": "accepted"}


def outcome_of(category: str) -> str:
    """``accepted`` (A2, A5), ``received`` (A0, A1), ``rejected`` (A3, A4, A6–A8), ``error`` (E*),
    ``finalized`` (F*), ``pending`` (P*), ``request`` (R*) or ``unknown``."""
    if category in _REJECTED:
        return "rejected"
    if category in _OUTCOMES:
        return _OUTCOMES[category]
    return {"E": "error", "F": "finalized", "P": "pending", "R": "request"}.get(category[:1], "unknown")


@dataclass(slots=True)
class StatusCode:
    """One STC composite (STC01, STC10 or STC11): category, status code, entity."""

    category: str
    status: str | None
    entity: str | None

    @property
    def category_meaning(self) -> str | None:
        return meaning(STATUS_CATEGORIES, self.category)

    @property
    def outcome(self) -> str:
        return outcome_of(self.category)


@dataclass(slots=True)
class Status:
    """One STC segment: its composites, effective date, action code, amounts and free-text message."""

    codes: list[StatusCode]
    date: date | None
    action: str | None = None
    charge: Decimal | None = None
    paid: Decimal | None = None
    message: str | None = None
    segment: int = 0

    @property
    def rejected(self) -> bool:
        return any(c.outcome == "rejected" for c in self.codes)


@dataclass(slots=True)
class LineStatus:
    """Loop 2220D: one service line's status, matched by its line item control number (REF*FJ)."""

    procedure: str | None
    modifiers: tuple[str, ...]
    charge: Decimal | None
    paid: Decimal | None
    control_number: str | None = None
    service_start: date | None = None
    service_end: date | None = None
    statuses: list[Status] = field(default_factory=list)


@dataclass(slots=True)
class ClaimStatus:
    """Loop 2200D: one claim. ``trace_number`` is TRN02 — the patient control number (CLM01) in a 277CA, the
    276 request's trace in a 277 (whose patient account number is REF*EJ)."""

    trace_number: str
    patient_control_number: str | None
    payer_claim_control_number: str | None = None
    clearinghouse_trace_number: str | None = None
    bill_type: str | None = None
    billing_provider_id: str | None = None
    service_start: date | None = None
    service_end: date | None = None
    statuses: list[Status] = field(default_factory=list)
    lines: list[LineStatus] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict, repr=False)
    patient_name: str | None = field(default=None, repr=False, metadata={"phi": True})
    patient_id: str | None = field(default=None, repr=False, metadata={"phi": True})
    segment: int = 0

    @property
    def total_charge(self) -> Decimal | None:
        return next((s.charge for s in self.statuses if s.charge is not None), None)

    @property
    def outcome(self) -> str:
        """``rejected`` when any STC rejects the claim, else the outcome of the first STC01 category."""
        codes = [c for s in self.statuses for c in s.codes]
        if any(c.outcome == "rejected" for c in codes):
            return "rejected"
        return codes[0].outcome if codes else "unknown"


@dataclass(slots=True)
class LevelStatus:
    """An HL level above the claims (source, receiver, provider) with its id, trace numbers, statuses and
    accepted/rejected counts and amounts (QTY*90/AA, AMT*YU/YY)."""

    level: str
    hl_id: str
    name: str | None = None
    id_qualifier: str | None = None
    id: str | None = None
    trace_numbers: list[str] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    quantities: dict[str, Decimal] = field(default_factory=dict)
    amounts: dict[str, Decimal] = field(default_factory=dict)


@dataclass(slots=True)
class StatusReport:
    """One 277CA (``type`` ``"277CA"``) or 277 (``"277"``) transaction set."""

    control_number: str
    reference: str | None
    date: date | None
    levels: list[LevelStatus] = field(default_factory=list)
    claims: list[ClaimStatus] = field(default_factory=list)
    version: str | None = None
    interchange_control_number: str | None = None
    segment: int = 0
    type: str = "277CA"


class StatusParser:
    """Feed the segments of one 277 ST…SE, then :meth:`finish`."""

    def __init__(self, reader: Reader, component: str, st: list[str], index: int, kind: str = "277CA"):
        self.r = reader
        self.component = component
        self.kind = kind
        self.stop_index = 0
        self.control_number = st[2] if len(st) > 2 else ""
        self.report = StatusReport(st[2] if len(st) > 2 else "", None, None, version=st[3] if len(st) > 3
                                   and st[3] else None, segment=index, type=kind)
        self.level: LevelStatus | None = None
        self.levels: dict[str, LevelStatus] = {}
        self.claim: ClaimStatus | None = None
        self.line: LineStatus | None = None
        self.provider_id: str | None = None
        self.patient: tuple[str | None, str | None] = (None, None)

    def feed(self, p: list[str], i: int) -> None:
        if len(p) < 13:
            p = p + [""] * (13 - len(p))
        seg_id = p[0]
        r = self.r
        if seg_id == "BHT":
            self.report.reference = p[3] or None
            self.report.date = r.date(p, 4, i, "the creation date")
        elif seg_id == "HL":
            self.claim = self.line = None
            kind = LEVELS.get(p[3], p[3])
            self.level = LevelStatus(kind, p[1])
            self.levels[p[1]] = self.level
            if kind not in ("patient", "subscriber", "dependent"):
                self.report.levels.append(self.level)
            if kind == "billing_provider":
                self.provider_id = None
            self.patient = (None, None)
        elif seg_id == "NM1" and self.level is not None:
            if self.level.level in ("patient", "subscriber", "dependent"):
                self.patient = (" ".join(x for x in (p[4], p[5], p[3]) if x) or None, p[9] or None)
            else:
                self.level.name, self.level.id_qualifier, self.level.id = p[3] or None, p[8] or None, p[9] or None
                if self.level.level == "billing_provider":
                    self.provider_id = p[9] or None
        elif seg_id == "TRN":
            self._trn(p, i)
        elif seg_id == "STC":
            self._stc(p, i)
        elif seg_id == "REF":
            self._ref(p)
        elif seg_id == "DTP":
            start, end = r.period(p, 3, i, "the service date")
            target = self.line or self.claim
            if target is not None and p[1] in ("472", "232"):
                target.service_start, target.service_end = start, end
        elif seg_id == "SVC":
            if self.claim is None:
                raise r.error("a service line outside a claim", p, i)
            code = p[1].split(self.component)
            self.line = LineStatus(code[1] if len(code) > 1 else None, tuple(m for m in code[2:6] if m),
                                   r.optional_money(p, 2, i, "the line charge"),
                                   r.optional_money(p, 3, i, "the line payment"))
            self.claim.lines.append(self.line)
        elif seg_id in ("QTY", "AMT") and self.level is not None and self.claim is None:
            target = self.level.quantities if seg_id == "QTY" else self.level.amounts
            target[p[1]] = r.money(p, 2, i, "the quantity" if seg_id == "QTY" else "the amount")

    def _trn(self, p: list[str], i: int) -> None:
        level = self.level
        if level is None:
            raise self.r.error("a TRN before the first HL", p, i)
        if level.level in _PATIENT_LEVELS or level.level in ("patient", "subscriber", "dependent"):
            if not p[2]:
                raise self.r.error("the claim's trace number (patient control number) is missing", p, i, 2)
            self.claim = ClaimStatus(p[2], p[2] if self.kind == "277CA" else None,
                                     billing_provider_id=self.provider_id, segment=i)
            self.claim.patient_name, self.claim.patient_id = self.patient
            self.report.claims.append(self.claim)
            self.line = None
        else:
            level.trace_numbers.append(p[2])

    def _stc(self, p: list[str], i: int) -> None:
        codes = []
        for position in (1, 10, 11):
            if p[position]:
                parts = p[position].split(self.component) + ["", ""]
                if not parts[0]:
                    raise self.r.error("the status category code is missing", p, i, position)
                codes.append(StatusCode(parts[0], parts[1] or None, parts[2] or None))
        if not codes:
            raise self.r.error("the status composite is missing", p, i, 1)
        r = self.r
        status = Status(codes, r.date(p, 2, i, "the status date"), p[3] or None,
                        r.optional_money(p, 4, i, "the total charge"), r.optional_money(p, 5, i, "the payment"),
                        p[12] or None, i)
        target = self.line or self.claim or self.level
        if target is None:
            raise r.error("a status before the first HL", p, i)
        target.statuses.append(status)

    def _ref(self, p: list[str]) -> None:
        if self.line is not None:
            if p[1] == "FJ":
                self.line.control_number = p[2]
            return
        claim = self.claim
        if claim is None:
            return
        if p[1] == "1K":
            claim.payer_claim_control_number = p[2]
        elif p[1] == "D9":
            claim.clearinghouse_trace_number = p[2]
        elif p[1] == "BLT":
            claim.bill_type = p[2]
        elif p[1] == "EJ" and claim.patient_control_number is None:
            claim.patient_control_number = p[2]
        else:
            claim.references[p[1]] = p[2]

    def finish(self, envelope: dict[str, str | None]) -> StatusReport:
        report = self.report
        report.version = report.version or envelope.get("version")
        report.interchange_control_number = envelope.get("interchange")
        return report
