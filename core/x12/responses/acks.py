"""TA1 interchange acknowledgments and 999 (005010X231A1) implementation acknowledgments (a 997 is read the
same way: AK3/AK4/AK5 stand for IK3/IK4/IK5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from claimbridge.x12.responses._values import Reader, to_date, to_time
from claimbridge.x12.responses.codes import (
    ACK_STATUS,
    ELEMENT_ERRORS,
    GROUP_SYNTAX_ERRORS,
    SEGMENT_ERRORS,
    TA1_ACK_CODES,
    TA1_NOTE_CODES,
    TRANSACTION_SET_ERRORS,
    meaning,
)

__all__ = ["Ack999", "Ack999Parser", "AcknowledgedSet", "ElementError", "GroupStatus", "SegmentError",
           "TA1Ack", "parse_ta1"]


@dataclass(slots=True)
class TA1Ack:
    """A TA1: the answer about one interchange (TA101 echoes its ISA13)."""

    control_number: str
    date: date | None
    time: time | None
    code: str
    note_code: str | None
    interchange_control_number: str | None = None
    segment: int = 0
    type: str = "TA1"

    @property
    def code_meaning(self) -> str | None:
        return meaning(TA1_ACK_CODES, self.code)

    @property
    def note(self) -> str | None:
        return meaning(TA1_NOTE_CODES, self.note_code)

    @property
    def accepted(self) -> bool:
        return self.code in ("A", "E")


def parse_ta1(reader: Reader, p: list[str], index: int, interchange: str | None) -> TA1Ack:
    p = p + [""] * (6 - len(p)) if len(p) < 6 else p
    if not p[1]:
        raise reader.error("the interchange control number is missing", p, index, 1)
    if p[4] not in TA1_ACK_CODES:
        raise reader.error(f"the acknowledgment code must be A, E or R (found {p[4][:3]!r})", p, index, 4)
    return TA1Ack(p[1], to_date(p[2]), to_time(p[3]), p[4], p[5] or None, interchange, index)


@dataclass(slots=True)
class ElementError:
    """IK4: an element in error. ``bad_value`` (IK404) may be PHI: it stays out of repr and JSON."""

    position: int | None
    component: int | None
    repetition: int | None
    data_element: str | None
    code: str
    bad_value: str | None = field(default=None, repr=False)

    @property
    def meaning(self) -> str | None:
        return meaning(ELEMENT_ERRORS, self.code)


@dataclass(slots=True)
class SegmentError:
    """IK3: a segment in error (id, position in the transaction set, loop, code) with its CTX context and
    element errors. ``claim_id`` is CLM01 when a CTX carries it."""

    segment_id: str
    position: int | None
    loop: str | None
    code: str | None
    claim_id: str | None = None
    context: list[str] = field(default_factory=list)
    elements: list[ElementError] = field(default_factory=list)

    @property
    def meaning(self) -> str | None:
        return meaning(SEGMENT_ERRORS, self.code)


@dataclass(slots=True)
class AcknowledgedSet:
    """AK2…IK5: the answer about one transaction set of the acknowledged group (AK202 = its ST02)."""

    type: str
    control_number: str
    version: str | None
    status: str = ""
    syntax_errors: list[str] = field(default_factory=list)
    segment_errors: list[SegmentError] = field(default_factory=list)

    @property
    def status_meaning(self) -> str | None:
        return meaning(ACK_STATUS, self.status)

    @property
    def accepted(self) -> bool:
        return self.status in ("A", "E")

    @property
    def claim_ids(self) -> list[str]:
        return [e.claim_id for e in self.segment_errors if e.claim_id]


@dataclass(slots=True)
class GroupStatus:
    """AK9: the answer about the whole group, with counts of sets included, received and accepted."""

    code: str
    included: int | None
    received: int | None
    accepted: int | None
    errors: list[str] = field(default_factory=list)

    @property
    def meaning(self) -> str | None:
        return meaning(ACK_STATUS, self.code)


@dataclass(slots=True)
class Ack999:
    """One 999 (or 997) transaction set: the functional group it answers (AK102 = that GS06)."""

    control_number: str
    functional_id: str
    group_control_number: str
    group_version: str | None
    sets: list[AcknowledgedSet] = field(default_factory=list)
    group_status: GroupStatus | None = None
    version: str | None = None
    interchange_control_number: str | None = None
    segment: int = 0
    type: str = "999"


_ALIASES = {"AK3": "IK3", "AK4": "IK4", "AK5": "IK5"}


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


class Ack999Parser:
    """Feed the segments of one 999/997 ST…SE, then :meth:`finish`."""

    def __init__(self, reader: Reader, component: str, st: list[str], index: int, kind: str = "999"):
        self.r = reader
        self.component = component
        self.kind = kind
        self.stop_index = 0
        self.control_number = st[2] if len(st) > 2 else ""
        self.version = st[3] if len(st) > 3 and st[3] else None
        self.start = index
        self.group: tuple[str, str, str | None] | None = None
        self.sets: list[AcknowledgedSet] = []
        self.current: AcknowledgedSet | None = None
        self.segment_error: SegmentError | None = None
        self.element_error: ElementError | None = None
        self.status: GroupStatus | None = None

    def feed(self, p: list[str], i: int) -> None:
        seg_id = _ALIASES.get(p[0], p[0])
        if len(p) < 10:
            p = p + [""] * (10 - len(p))
        if seg_id == "AK1":
            self.group = (p[1], p[2], p[3] or None)
        elif seg_id == "AK2":
            self.current = AcknowledgedSet(p[1], p[2], p[3] or None)
            self.sets.append(self.current)
            self.segment_error = self.element_error = None
        elif seg_id == "IK3":
            current = self._set(p, i)
            self.segment_error = SegmentError(p[1], _int(p[2]), p[3] or None, p[4] or None)
            current.segment_errors.append(self.segment_error)
            self.element_error = None
        elif seg_id == "CTX":
            self._ctx(p, i)
        elif seg_id == "IK4":
            if self.segment_error is None:
                raise self.r.error("an element error (IK4) without a segment error (IK3) before it", p, i)
            where = p[1].split(self.component)
            where += [""] * (3 - len(where))
            self.element_error = ElementError(_int(where[0]), _int(where[1]), _int(where[2]), p[2] or None,
                                              p[3], p[4] or None)
            self.segment_error.elements.append(self.element_error)
        elif seg_id == "IK5":
            current = self._set(p, i)
            if not p[1]:
                raise self.r.error("the transaction set acknowledgment code is missing", p, i, 1)
            current.status = p[1]
            current.syntax_errors = [code for code in p[2:7] if code]
            self.current = self.segment_error = self.element_error = None
        elif seg_id == "AK9":
            if not p[1]:
                raise self.r.error("the functional group acknowledgment code is missing", p, i, 1)
            self.status = GroupStatus(p[1], _int(p[2]), _int(p[3]), _int(p[4]), [c for c in p[5:10] if c])

    def _set(self, p: list[str], i: int) -> AcknowledgedSet:
        if self.current is None:
            raise self.r.error(f"{p[0]} outside a transaction set response (no AK2 before it)", p, i)
        return self.current

    def _ctx(self, p: list[str], i: int) -> None:
        if self.segment_error is None:
            return
        name, _, value = p[1].partition(self.component)
        if name == "CLM01":
            self.segment_error.claim_id = value
        else:
            self.segment_error.context.append(p[1] if not p[2] else f"{p[1]} at {p[2]} position {p[3]}")

    def finish(self, envelope: dict[str, str | None]) -> Ack999:
        if self.group is None:
            raise self.r.error(f"the {self.kind} has no AK1 naming the group it acknowledges", ["ST"], self.start)
        functional_id, control, version = self.group
        return Ack999(self.control_number, functional_id, control, version, self.sets, self.status,
                      self.version or envelope.get("version"), envelope.get("interchange"), self.start,
                      self.kind)


def group_error_meaning(code: str) -> str | None:
    return meaning(GROUP_SYNTAX_ERRORS, code)


def set_error_meaning(code: str) -> str | None:
    return meaning(TRANSACTION_SET_ERRORS, code)
