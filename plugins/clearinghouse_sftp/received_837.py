"""What the sandbox clearinghouse reads from an 837P it received: envelopes, transaction sets and claims.

Only what the answers need (who sent it, control numbers, segment positions, and per claim its PCN, charge,
payer, billing provider, patient and service lines) — this is no general 837 parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from claimbridge.x12.reader import Segment, iter_segments

__all__ = ["FunctionalGroup", "Interchange", "Party", "ServiceLine", "SubmittedClaim", "TransactionSet", "read_837"]


@dataclass
class Party:
    """A name from an NM1: ``entity_type`` 1 person / 2 organisation, ``last`` the surname or organisation
    name, ``qualifier`` and ``id`` the NM108/NM109 identifier."""

    entity_type: str = "2"
    last: str = ""
    first: str = ""
    qualifier: str = ""
    id: str = ""


@dataclass
class ServiceLine:
    procedure: list[str]
    charge: Decimal | None
    units: str
    dates: tuple[date, date] | None = None
    control_number: str = ""


@dataclass
class SubmittedClaim:
    pcn: str
    charge: Decimal | None
    payer: Party
    billing: Party
    patient: Party
    rendering_npi: str = ""
    filing: str = ""  # SBR09 claim filing indicator
    lines: list[ServiceLine] = field(default_factory=list)

    @property
    def service_dates(self) -> tuple[date, date] | None:
        spans = [line.dates for line in self.lines if line.dates]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)


@dataclass
class TransactionSet:
    st02: str
    implementation: str
    first_index: int  # segment index of ST in the file
    last_index: int = 0  # segment index of SE (0 while open)
    reference: str = ""  # BHT03
    submitter: Party = field(default_factory=Party)
    claims: list[SubmittedClaim] = field(default_factory=list)

    def position(self, segment_index: int) -> int:
        """The position of a file segment inside this set (ST = 1), as IK302 wants it."""
        return segment_index - self.first_index + 1

    def holds(self, segment_index: int) -> bool:
        return self.first_index <= segment_index <= (self.last_index or segment_index)


@dataclass
class FunctionalGroup:
    functional_id: str  # GS01
    sender: str  # GS02
    receiver: str  # GS03
    control_number: str  # GS06
    implementation: str  # GS08
    first_index: int
    last_index: int = 0
    transactions: list[TransactionSet] = field(default_factory=list)

    def holds(self, segment_index: int) -> bool:
        return self.first_index <= segment_index <= (self.last_index or segment_index)


@dataclass
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    date: str  # ISA09 YYMMDD
    time: str  # ISA10 HHMM
    control_number: str  # ISA13
    ack_requested: bool  # ISA14 = 1
    usage: str  # ISA15
    first_index: int
    last_index: int = 0
    groups: list[FunctionalGroup] = field(default_factory=list)

    def holds(self, segment_index: int) -> bool:
        return self.first_index <= segment_index <= (self.last_index or segment_index)


def read_837(data: bytes | str, *, name: str = "<upload>") -> list[Interchange]:
    """The interchanges of ``data``. Raises :class:`claimbridge.x12.reader.X12SyntaxError` when it is not
    X12; segments that belong to no envelope are ignored (validation reports them)."""
    reader = _Reader()
    for seg in iter_segments(data, name=name):
        reader.feed(seg)
    return reader.interchanges


class _Reader:
    def __init__(self) -> None:
        self.interchanges: list[Interchange] = []
        self.group: FunctionalGroup | None = None
        self.transaction: TransactionSet | None = None
        self.level = ""  # HL03 of the current HL
        self.billing = Party()
        self.payer = Party()
        self.subscriber = Party()
        self.patient: Party | None = None
        self.filing = ""
        self.claim: SubmittedClaim | None = None
        self.line: ServiceLine | None = None

    def feed(self, seg: Segment) -> None:
        handler = getattr(self, f"_on_{seg.id.lower()}", None)
        if handler is not None:
            handler(seg)

    # -- envelopes ---------------------------------------------------------------------------------------

    def _on_isa(self, seg: Segment) -> None:
        self.interchanges.append(Interchange(
            seg[5].strip(), seg[6].strip(), seg[7].strip(), seg[8].strip(), seg[9].strip(), seg[10].strip(),
            seg[13].strip(), seg[14].strip() == "1", seg[15].strip(), seg.index))
        self.group = self.transaction = None

    def _on_iea(self, seg: Segment) -> None:
        if self.interchanges:
            self.interchanges[-1].last_index = seg.index

    def _on_gs(self, seg: Segment) -> None:
        if not self.interchanges:
            return
        self.group = FunctionalGroup(seg[1], seg[2], seg[3], seg[6], seg[8], seg.index)
        self.interchanges[-1].groups.append(self.group)

    def _on_ge(self, seg: Segment) -> None:
        if self.group is not None:
            self.group.last_index = seg.index
        self.group = None

    def _on_st(self, seg: Segment) -> None:
        if self.group is None:
            return
        self.transaction = TransactionSet(seg[2], seg[3] or self.group.implementation, seg.index)
        self.group.transactions.append(self.transaction)
        self.level, self.claim, self.line = "", None, None

    def _on_se(self, seg: Segment) -> None:
        if self.transaction is not None:
            self.transaction.last_index = seg.index
        self.transaction = None

    # -- the 837P hierarchy ------------------------------------------------------------------------------

    def _on_bht(self, seg: Segment) -> None:
        if self.transaction is not None:
            self.transaction.reference = seg[3]

    def _on_hl(self, seg: Segment) -> None:
        self.level, self.claim, self.line = seg[3], None, None
        if self.level == "20":
            self.billing = Party()
        elif self.level == "22":
            self.payer, self.subscriber, self.patient = Party(), Party(), None
        elif self.level == "23":
            self.patient = Party()

    def _on_sbr(self, seg: Segment) -> None:
        self.filing = seg[9]

    def _on_nm1(self, seg: Segment) -> None:
        if self.transaction is None:
            return
        party = Party(seg[2] or "2", seg[3], seg[4], seg[8], seg[9])
        entity = seg[1]
        if entity == "41":
            self.transaction.submitter = party
        elif entity == "85":
            self.billing = party
        elif entity == "IL":
            self.subscriber = party
        elif entity == "PR" and self.claim is None:
            self.payer = party
        elif entity == "QC" and self.patient is not None:
            self.patient = party
        elif entity == "82" and self.claim is not None:
            self.claim.rendering_npi = seg[9]

    def _on_clm(self, seg: Segment) -> None:
        if self.transaction is None:
            return
        patient = self.patient or self.subscriber
        # a dependant carries no member id of their own in 5010: the 277CA names them by the subscriber's
        patient = Party("1", patient.last, patient.first, "MI", patient.id or self.subscriber.id)
        self.claim = SubmittedClaim(seg[1], _money(seg[2]), self.payer, self.billing, patient,
                                    filing=self.filing)
        self.transaction.claims.append(self.claim)
        self.line = None

    def _on_sv1(self, seg: Segment) -> None:
        if self.claim is not None:
            self.line = ServiceLine(seg.components(1), _money(seg[2]), seg[4])
            self.claim.lines.append(self.line)

    def _on_dtp(self, seg: Segment) -> None:
        if self.line is not None and seg[1] == "472":
            self.line.dates = _dates(seg[2], seg[3])

    def _on_ref(self, seg: Segment) -> None:
        if self.line is not None and seg[1] == "6R":
            self.line.control_number = seg[2]


def _money(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except (InvalidOperation, ValueError):
        return None


def _dates(qualifier: str, text: str) -> tuple[date, date] | None:
    try:
        if qualifier == "D8":
            day = date(int(text[:4]), int(text[4:6]), int(text[6:8]))
            return day, day
        if qualifier == "RD8":
            start, end = text.split("-")
            return _dates("D8", start)[0], _dates("D8", end)[0]
    except (ValueError, TypeError, IndexError):
        return None
    return None
