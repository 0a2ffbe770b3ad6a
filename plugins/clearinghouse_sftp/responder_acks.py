"""Acknowledgments the sandbox sends: the TA1 and the 999 (005010X231A1) built from pyx12's findings.

Each validation problem lands where it belongs: ISA/IEA problems reject the interchange (TA1 ``R``, with
pyx12's TA105 note code), GS/GE problems the functional group (``AK9`` codes), ST/SE problems the transaction
set (``IK5`` codes) and anything else becomes an ``IK3`` for its segment (position inside the set, loop,
``CTX*CLM01`` naming the claim) with an ``IK4`` per element in error. pyx12 reports with the same code lists
the 999 uses; a code outside them falls back to a generic one.
"""

from __future__ import annotations

from datetime import datetime

from claimbridge.x12.problems import Problem
from claimbridge.x12.writer import SegmentWriter, clean_value

from .received_837 import FunctionalGroup, Interchange, TransactionSet

__all__ = ["ValidationVerdict", "open_interchange", "write_999", "write_ta1"]

ACK_IMPLEMENTATION = "005010X231A1"

# codes the 999 implementation guide allows (pyx12 reports problems with these same code lists)
_IK304_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "I4", "I6", "I7", "I8", "I9"}
_IK403_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "12", "13", "I10", "I11", "I12", "I13",
                "I6", "I9"}
_IK5_CODES = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "15", "16", "17", "18",
              "19", "23", "24", "25", "26", "27", "I5", "I6"}
_AK9_CODES = {"1", "2", "3", "4", "5", "6", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19",
              "23", "24", "25", "26"}
_TA1_CODES = {f"{n:03d}" for n in range(32)}
# what a 999 lists at most: segments in error, and codes per IK5/AK9
_MAX_IK3 = 50
_MAX_CODES = 5


# -- where each validation problem belongs ------------------------------------------------------------------


class ValidationVerdict:
    """Validation problems sorted by the envelope level they hit (``interchange_problems`` reject it
    all)."""

    def __init__(self, interchanges: list[Interchange], problems: list[Problem]):
        errors = [p for p in problems if p.severity == "error"]
        self.interchange_problems = [p for p in errors if p.segment_id in ("ISA", "IEA")]
        self._unplaced = [p for p in errors if p.segment_index is None]
        self._by_group: dict[int, list[Problem]] = {}
        self._by_set: dict[int, list[Problem]] = {}
        for problem in errors:
            if problem.segment_index is None or problem in self.interchange_problems:
                continue
            for interchange in interchanges:
                for group in interchange.groups:
                    if not group.holds(problem.segment_index):
                        continue
                    target = next((t for t in group.transactions if t.holds(problem.segment_index)), None)
                    if target is None or problem.code == "no-map":
                        self._by_group.setdefault(id(group), []).append(problem)
                    else:
                        self._by_set.setdefault(id(target), []).append(problem)

    def group_problems(self, group: FunctionalGroup) -> list[Problem]:
        return self._unplaced + self._by_group.get(id(group), [])

    def group_rejected(self, group: FunctionalGroup) -> bool:
        return bool(self.group_problems(group))

    def transaction_problems(self, transaction: TransactionSet) -> list[Problem]:
        return self._unplaced + self._by_set.get(id(transaction), [])


# -- TA1 ----------------------------------------------------------------------------------------------------


def open_interchange(out: SegmentWriter, received: Interchange, control_number: int, now: datetime) -> None:
    """The ISA of a response: sender and receiver of ``received`` swapped, same usage indicator."""
    out.segment("ISA", "00", "", "00", "", received.receiver_qualifier or "ZZ", received.receiver_id or "SANDBOX",
                received.sender_qualifier or "ZZ", received.sender_id or "UNKNOWN", now.strftime("%y%m%d"),
                now.strftime("%H%M"), out.delimiters.repetition or "^", "00501", f"{control_number:09d}", "0",
                received.usage if received.usage in ("T", "P") else "T", out.delimiters.component)


def write_ta1(received: Interchange, problems: list[Problem], control_number: int, now: datetime) -> str:
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    note = "000"
    if problems:
        note = next((p.code for p in problems if p.code in _TA1_CODES), "024")  # 024: invalid content
    out.segment("TA1", received.control_number.rjust(9, "0")[-9:], received.date, received.time,
                "R" if problems else "A", note)
    out.segment("IEA", "0", f"{control_number:09d}")
    return out.text()


# -- 999 ----------------------------------------------------------------------------------------------------


def write_999(received: Interchange, groups: list[FunctionalGroup], verdict: ValidationVerdict, control_number: int,
              now: datetime, *, transaction_type: str = "837") -> str:
    """The 999 for ``groups``; ``transaction_type`` is AK201 (``837``, or ``270`` for eligibility)."""
    out = SegmentWriter()
    open_interchange(out, received, control_number, now)
    first = groups[0]
    out.segment("GS", "FA", first.receiver or "SANDBOX", first.sender or "UNKNOWN", now.strftime("%Y%m%d"),
                now.strftime("%H%M"), str(control_number), "X", ACK_IMPLEMENTATION)
    for number, group in enumerate(groups, start=1):
        st_start = len(out)
        control = f"{number:04d}"
        out.segment("ST", "999", control, ACK_IMPLEMENTATION)
        out.segment("AK1", group.functional_id, group.control_number, group.implementation)
        group_codes = _codes(verdict.group_problems(group), _AK9_CODES)
        accepted = 0
        for transaction in group.transactions:
            out.segment("AK2", transaction_type, transaction.st02, transaction.implementation)
            problems = verdict.transaction_problems(transaction)
            set_codes = _write_segment_errors(out, transaction, problems)
            if problems or group_codes:
                set_codes = set_codes or ["5"]
                out.segment("IK5", "R", *set_codes[:_MAX_CODES])
            else:
                accepted += 1
                out.segment("IK5", "A")
        count = len(group.transactions)
        rejected = bool(group_codes) or accepted < count
        status = "A" if not rejected else ("P" if accepted else "R")
        out.segment("AK9", status, str(count), str(count), str(accepted), *group_codes[:_MAX_CODES])
        out.segment("SE", str(len(out) - st_start + 1), control)
    out.segment("GE", str(len(groups)), str(control_number))
    out.segment("IEA", "1", f"{control_number:09d}")
    return out.text()


def _codes(problems: list[Problem], allowed: set[str]) -> list[str]:
    codes: list[str] = []
    for problem in problems:
        code = problem.code if problem.code in allowed else ("2" if problem.code == "no-map" else "")
        if code and code not in codes:
            codes.append(code)
    if problems and not codes:
        codes.append("1" if "1" in allowed else "5")
    return codes


def _write_segment_errors(out: SegmentWriter, transaction: TransactionSet, problems: list[Problem]) -> list[str]:
    """IK3 (+ CTX, IK4) per segment in error; returns the IK5 codes for ST/SE-level problems."""
    set_codes: list[str] = []
    by_segment: dict[int, list[Problem]] = {}
    for problem in problems:
        if problem.segment_id in ("ST", "SE") or problem.segment_index is None:
            code = problem.code if problem.code in _IK5_CODES else "5"
            if code not in set_codes:
                set_codes.append(code)
            continue
        by_segment.setdefault(problem.segment_index, []).append(problem)
    for index in sorted(by_segment)[:_MAX_IK3]:
        found = by_segment[index]
        head = found[0]
        segment_level = [p for p in found if not p.element]
        seg_code = next((p.code for p in segment_level if p.code in _IK304_CODES), "8")
        loop = _loop_code(head.loop_id)
        out.segment("IK3", head.segment_id or "", str(transaction.position(index)), loop, seg_code)
        pcn = next((p.pcn for p in found if p.pcn), None)
        if pcn:
            out.segment("CTX", ("CLM01", pcn))
        for problem in found:
            if not problem.element:
                continue
            position = _element_position(problem.element)
            if position is None:
                continue
            code = problem.code if problem.code in _IK403_CODES else "I12"
            bad = clean_value(problem.value or "", out.delimiters)[:99]
            out.segment("IK4", position, "", code, bad)
    if by_segment and "5" not in set_codes:
        set_codes.insert(0, "5")
    return set_codes


def _loop_code(loop_id: str | None) -> str:
    """IK303 holds at most four characters: the loop number (``2010`` for 2010BA); envelope loops omit it."""
    if not loop_id or not loop_id[:1].isdigit():
        return ""
    return loop_id[:4]


def _element_position(element: str) -> tuple[str, ...] | None:
    """``SV103`` → ("3",), ``CLM05-3`` → ("5", "3")."""
    base, _, component = element.partition("-")
    digits = base[-2:]
    if not digits.isdigit():
        return None
    position = (str(int(digits)),)
    return position + (component,) if component.isdigit() else position
