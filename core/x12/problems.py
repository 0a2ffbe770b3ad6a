"""What validation reports: :class:`Problem` (one finding, tied to segment, loop and claim) and
:class:`ValidationReport`. Produced by :func:`claimbridge.x12.validate.validate_x12`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Problem", "ValidationReport"]


@dataclass(frozen=True)
class Problem:
    """One validation finding. ``segment_index`` is the 1-based position of the segment in the file (ISA = 1),
    ``loop_id`` the implementation-guide loop (``2300``), ``element`` the element reference (``CLM05-3``),
    ``code`` pyx12's error code and ``pcn`` the claim. ``value`` is the offending data (may be PHI: it stays
    out of ``repr`` and of exception messages)."""

    severity: str
    segment_index: int | None
    segment_id: str | None
    loop_id: str | None
    element: str | None
    code: str
    message: str
    pcn: str | None = None
    value: str | None = field(default=None, repr=False)

    def redacted_message(self) -> str:
        """``message`` with the offending value replaced, safe for logs and exceptions."""
        if self.value and len(self.value.strip()) > 1:
            return self.message.replace(self.value, "…")
        return self.message

    def describe(self, *, redact: bool = False) -> str:
        """One line: ``segment 42 NM1 (loop 2010BA, PCN CB0001) NM109: message``."""
        where = [f"loop {self.loop_id}"] if self.loop_id else []
        if self.pcn:
            where.append(f"PCN {self.pcn}")
        head = "" if self.segment_index is None else f"segment {self.segment_index} {self.segment_id or ''}"
        head = (head.rstrip() + (f" ({', '.join(where)})" if where else "")).strip()
        head += f" {self.element}" if self.element else ""
        text = self.redacted_message() if redact else self.message
        return f"{head.strip()}: {text}" if head.strip() else text


@dataclass
class ValidationReport:
    """``ok`` when there is no problem of severity ``error``; ``transaction`` is ``837P``, ``835``, ``999``,
    ``277CA``, ``TA1`` or ``<ST01> <GS08>`` for others (the first transaction in the file)."""

    ok: bool
    problems: list[Problem]
    transaction: str | None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]
