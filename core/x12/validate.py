"""Validate X12 with pyx12, in-process, with each problem tied to its segment, loop and claim (PCN).

pyx12 picks the implementation guide from each GS (837P 005010X222A1, 835 005010X221A1, 999 005010X231A1,
277CA 005010X214; a TA1-only interchange is checked against the control map). Before pyx12 sees the data it is
tokenized by :mod:`claimbridge.x12.reader` and written back one segment per line with the first interchange's
delimiters and a fixed-width ISA, so a byte-order mark, CRLFs or an unpadded ISA do not trip it (an unpadded
ISA is reported as a warning). Maps are parsed once per process and reused; pyx12's logging is silenced
while it runs and it writes nothing to disk or stdout.

``pcn`` on a problem is the claim the segment belongs to: CLM01 in an 837, CLP01 in an 835, the 2200D TRN02 in
a 277CA.

    report = validate_x12(path.read_bytes(), name=path.name)
    for problem in report.problems:
        print(problem.pcn, problem.segment_index, problem.segment_id, problem.message)
    require_valid(encoded.text, name="outbound/CB0001.837")   # raises X12ValidationError
"""

from __future__ import annotations

import os
from pathlib import Path

import pyx12.errors

from claimbridge.errors import X12ValidationError
from claimbridge.x12._pyx12_run import run_pyx12
from claimbridge.x12.problems import Problem, ValidationReport
from claimbridge.x12.reader import Segment, X12SyntaxError, iter_segments
from claimbridge.x12.writer import isa_elements

__all__ = ["Problem", "ValidationReport", "require_valid", "validate_x12"]

#: implementation guide (GS08) → the name claimbridge uses for the transaction
TRANSACTION_NAMES = {
    "005010X222A1": "837P",
    "005010X221A1": "835",
    "005010X231A1": "999",
    "005010X231": "999",
    "005010X214": "277CA",
}


# -- normalisation ------------------------------------------------------------------------------------------


def _normalise(segments: list[Segment]) -> tuple[str, list[Problem]]:
    """One segment per line, first interchange's delimiters, ISA padded to its fixed width."""
    delimiters = segments[0].delimiters
    warnings: list[Problem] = []
    lines = []
    for seg in segments:
        elements = list(seg.elements)
        if seg.id == "ISA":
            if len(elements) != 16:
                raise X12SyntaxError(f"the ISA at segment {seg.index} has {len(elements)} elements, not 16",
                                     offset=seg.offset)
            elements[10] = delimiters.repetition or elements[10]
            elements[15] = delimiters.component
            if len(seg.to_x12()) != 105:
                warnings.append(Problem("warning", seg.index, "ISA", "ISA_LOOP", None, "isa-width",
                                        "the ISA is not padded to its fixed width (106 characters); many "
                                        "receivers reject that"))
                try:
                    elements = isa_elements([e.strip() for e in elements])
                except ValueError as exc:
                    raise X12SyntaxError(str(exc), offset=seg.offset) from None
        lines.append(delimiters.element.join([seg.id, *elements]) + delimiters.segment)
    newline = "" if delimiters.newline_terminated else "\n"
    return newline.join(lines) + newline, warnings


def _transaction_name(segments: list[Segment]) -> str | None:
    gs08 = ""
    for seg in segments:
        if seg.id == "GS":
            gs08 = seg[8]
        elif seg.id == "ST":
            return TRANSACTION_NAMES.get(seg[3] or gs08) or f"{seg[1]} {seg[3] or gs08}".strip()
        elif seg.id == "TA1":
            return "TA1"
    return None


def _read(data: bytes | str | os.PathLike[str], name: str | None) -> tuple[bytes | str, str]:
    if isinstance(data, str) and _looks_like_path(data):
        data = Path(data)
    if isinstance(data, os.PathLike):
        path = Path(data)
        return path.read_bytes(), name or str(path)
    return data, name or "<memory>"


def _looks_like_path(text: str) -> bool:
    """A short one-line string naming an existing file (X12 text never names one)."""
    return len(text) < 4096 and "\n" not in text and "\r" not in text and os.path.isfile(text)


def validate_x12(data: bytes | str | os.PathLike[str], *, name: str | None = None) -> ValidationReport:
    """Validate X12 ``data`` with pyx12: X12 text, bytes, or a file (a :class:`os.PathLike`, or a one-line
    string naming an existing file). ``name`` labels the data in problems (default: the path or ``<memory>``).

    Never raises for bad data: text that is not X12 gives a report with one ``syntax`` problem.
    """
    raw, name = _read(data, name)
    try:
        segments = list(iter_segments(raw, name=name))
    except X12SyntaxError as exc:
        return ValidationReport(False, [Problem("error", None, None, None, None, "syntax", exc.reason)], None)
    transaction = _transaction_name(segments)
    if segments[0].id != "ISA":
        problem = Problem("error", 1, segments[0].id, None, None, "no-isa",
                          "the data has no ISA envelope; pyx12 validates whole interchanges only")
        return ValidationReport(False, [problem], transaction)
    try:
        text, problems = _normalise(segments)
    except X12SyntaxError as exc:
        return ValidationReport(False, [Problem("error", None, "ISA", None, None, "syntax", exc.reason)],
                                transaction)
    try:
        problems += run_pyx12(text, {seg.index: seg.id for seg in segments})
    except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
        problems.append(Problem("error", None, None, None, None, "pyx12", f"pyx12 could not read it: {exc}"))
    except Exception as exc:  # a pyx12 bug on odd input must not take the caller down; the file is unproven
        problems.append(Problem("error", None, None, None, None, "pyx12-failure",
                                f"pyx12 failed while validating ({type(exc).__name__}: {exc}); treat the "
                                f"file as unvalidated"))
    ta1_only_ends = _ta1_only_interchange_ends(segments)
    problems = [p for p in problems if not _ta1_placement_complaint(p, ta1_only_ends)]
    problems.sort(key=lambda p: (p.segment_index or 0))
    return ValidationReport(not any(p.severity == "error" for p in problems), problems, transaction)


def _ta1_only_interchange_ends(segments: list[Segment]) -> set[int]:
    """Segment numbers of the IEAs closing interchanges that hold TA1s and no functional group."""
    ends: set[int] = set()
    has_gs = has_ta1 = False
    for seg in segments:
        if seg.id == "ISA":
            has_gs = has_ta1 = False
        elif seg.id == "GS":
            has_gs = True
        elif seg.id == "TA1":
            has_ta1 = True
        elif seg.id == "IEA" and has_ta1 and not has_gs:
            ends.add(seg.index)
    return ends


def _ta1_placement_complaint(problem: Problem, ta1_only_ends: set[int]) -> bool:
    """The X12 envelope lets TA1 acknowledgments stand in an interchange before its functional groups, or with
    none at all; pyx12's control map wants a GS loop there (it says so at the TA1, or at the IEA of a TA1-only
    interchange). That complaint is pyx12's, not the file's."""
    if not ("GS_LOOP" in problem.message and "missing" in problem.message):
        return False
    return problem.segment_id == "TA1" or (problem.segment_id == "IEA" and problem.segment_index in ta1_only_ends)


def require_valid(data: bytes | str | os.PathLike[str], *, name: str) -> ValidationReport:
    """Validate and raise :class:`claimbridge.errors.X12ValidationError` unless the data is valid. The
    message names the file and the first problems (segment, loop, PCN) without data values."""
    report = validate_x12(data, name=name)
    if report.ok:
        return report
    errors = report.errors
    shown = errors[:5]
    more = f"\n  … and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
    pcns = sorted({p.pcn for p in errors if p.pcn})
    claims = f" in claim{'s' if len(pcns) > 1 else ''} {', '.join(pcns)}" if pcns else ""
    lines = "".join(f"\n  - {p.describe(redact=True)}" for p in shown)
    plural = "s" if len(errors) != 1 else ""
    message = (f"{name}: {len(errors)} X12 validation error{plural}{claims}; the file "
               f"must not be sent. Fix the claims (or the encoder) and encode again:{lines}{more}")
    raise X12ValidationError(message, errors)
