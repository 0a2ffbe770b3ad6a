"""Validate X12 with pyx12, in-process, with each problem tied to its segment, loop and claim (PCN).

pyx12 picks the implementation guide from each GS (837P 005010X222A1, 835 005010X221A1, 999 005010X231A1,
277CA 005010X214; a TA1-only interchange is checked against the control map). Before pyx12 sees the data it is
tokenized by :mod:`claimbridge.x12.reader` and written back one segment per line with the first interchange's
delimiters and a fixed-width ISA, so a byte-order mark, CRLFs or an unpadded ISA do not trip it (an unpadded
ISA is reported as a warning). Maps are parsed once per process and reused; pyx12's logging is silenced while it
runs and it writes nothing to disk or stdout.

``pcn`` on a problem is the claim the segment belongs to: CLM01 in an 837, CLP01 in an 835, the 2200D TRN02 in
a 277CA.

    report = validate_x12(path.read_bytes(), name=path.name)
    for problem in report.problems:
        print(problem.pcn, problem.segment_index, problem.segment_id, problem.message)
    require_valid(encoded.text, name="outbound/CB0001.837")   # raises X12ValidationError
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyx12.error_handler
import pyx12.error_visitor
import pyx12.errors
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.x12file
from pyx12.map_if._segment import apply_segment_errors
from pyx12.map_walker import apply_walk_errors, walk_tree

from claimbridge.errors import X12ValidationError
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
_CLAIM_SCOPE_ENDS = {"ISA", "IEA", "GS", "GE", "ST", "SE", "HL"}
_pyx12_lock = threading.Lock()


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


# -- pyx12 plumbing -----------------------------------------------------------------------------------------


def _params() -> pyx12.params.ParamsBase:
    # ParamsBase reads no configuration files (ParamsUnix would read ~/.pyx12.conf.xml)
    return pyx12.params.ParamsBase()


@lru_cache(maxsize=16)
def _load_map(map_file: str) -> Any:
    """Parsed maps are read-only while walking (counts live in the walker), so one copy serves every run."""
    return pyx12.map_if.load_map_file(map_file, _params())


@lru_cache(maxsize=1)
def _map_index() -> Any:
    return pyx12.map_index.map_index()


@contextmanager
def _quiet_pyx12() -> Iterator[None]:
    """pyx12 logs every error it finds at ERROR level; the report carries them instead."""
    logger = logging.getLogger("pyx12")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


@dataclass
class _SegmentInfo:
    seg_id: str
    loop_id: str | None = None
    pcn: str | None = None


class _ProblemCollector(pyx12.error_visitor.error_visitor):
    """Turns pyx12's error tree into :class:`Problem` objects."""

    def __init__(self, segments: dict[int, _SegmentInfo]):
        super().__init__(None)
        self.segments = segments
        self.problems: list[Problem] = []
        self._seg: Any = None

    def _problem(self, line: int | None, code: str, message: str, *, seg_id: str | None = None,
                 element: str | None = None, value: str | None = None) -> None:
        info = self.segments.get(line or 0)
        self.problems.append(Problem(
            severity="error", segment_index=line or None, segment_id=info.seg_id if info else seg_id,
            loop_id=info.loop_id if info else None, element=element, code=str(code), message=message,
            pcn=info.pcn if info else None, value=value))

    def _envelope_errors(self, node: Any, seg_id: str) -> None:
        line = node.get_cur_line()
        for code, message in node.errors:
            self._problem(line, code, message, seg_id=seg_id)
        # pyx12's tree does not visit element errors of ISA/GS/ST (nor of a TA1, which hangs off the ISA)
        for element in node.elements:
            ref = f"{seg_id}{element.ele_pos:02d}"
            for code, message, value in element.errors:
                self._problem(line, code, message, seg_id=seg_id, element=ref, value=value)

    def visit_isa_post(self, err_isa: Any) -> None:
        self._envelope_errors(err_isa, "ISA")

    def visit_gs_post(self, err_gs: Any) -> None:
        self._envelope_errors(err_gs, "GS")

    def visit_st_post(self, err_st: Any) -> None:
        self._envelope_errors(err_st, "ST")

    def visit_seg(self, err_seg: Any) -> None:
        self._seg = err_seg
        for code, message, value in err_seg.errors:
            self._problem(err_seg.cur_line, code, message, seg_id=err_seg.seg_id, value=value)

    def visit_ele(self, err_ele: Any) -> None:
        seg = self._seg
        if seg is None:
            return
        ref = f"{seg.seg_id}{err_ele.ele_pos:02d}"
        if err_ele.subele_pos:
            ref += f"-{err_ele.subele_pos}"
        for code, message, value in err_ele.errors:
            self._problem(seg.cur_line, code, message, seg_id=seg.seg_id, element=ref, value=value)


def _walk(text: str, segments: dict[int, _SegmentInfo]) -> tuple[Any, list[Problem]]:
    """Run pyx12 over normalised ``text``; fill loop ids and PCNs into ``segments``. Returns the error tree and
    problems found outside it (a group pyx12 has no map for)."""
    extra: list[Problem] = []
    errh = pyx12.error_handler.err_handler()
    src = pyx12.x12file.X12Reader(io.StringIO(text))
    icvn = src.icvn
    control_map = _load_map("x12.control.00501.xml" if icvn == "00501" else "x12.control.00401.xml")
    node = control_map.getnodebypath("/ISA_LOOP/ISA")
    walker = walk_tree()
    transaction_map: Any = None
    map_file: str | None = None
    st01 = ""
    pcn: str | None = None
    skipping_group = False
    for seg in src:
        seg_id = seg.get_seg_id()
        line = src.get_cur_line()
        matched = True
        if errh.cur_st_node is None and errh.cur_isa_node is not None:
            # segments outside any ST (a TA1) hang their errors off the interchange; pyx12 assumes an ST
            errh.cur_st_node = errh.cur_isa_node
        if seg_id == "ISA":
            icvn = seg.get_value("ISA12") or icvn
            node = control_map.getnodebypath("/ISA_LOOP/ISA")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP", "/ISA_LOOP/ISA")
            skipping_group = False
        elif seg_id == "GS":
            fic, vriic = seg.get_value("GS01"), seg.get_value("GS08")
            wanted = _map_index().get_filename(icvn, vriic, fic)
            skipping_group = wanted is None
            if skipping_group:
                extra.append(Problem("error", line, "GS", "GS_LOOP", "GS08", "no-map",
                                     f"pyx12 has no map for GS01={fic} GS08={vriic}; this functional group "
                                     f"was not validated"))
                node = control_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            else:
                if wanted != map_file:
                    map_file, transaction_map = wanted, _load_map(wanted)
                    src.check_837_lx = transaction_map.id == "837"
                node = transaction_map.getnodebypath("/ISA_LOOP/GS_LOOP/GS")
            walker.forceWalkCounterToLoopStart("/ISA_LOOP/GS_LOOP", "/ISA_LOOP/GS_LOOP/GS")
        elif skipping_group:
            # a group without a map: only the envelope checks of the reader apply
            _info(segments, line, seg_id)
            if seg_id in ("ST", "SE", "GE"):
                _record_segment(errh, src, node, seg, seg_id)
            else:
                errh.handle_errors(src.pop_errors())
            if seg_id != "IEA":
                continue
            node = control_map.getnodebypath("/ISA_LOOP/IEA")
        else:
            found, _pop, _push, walk_errors = walker.walk_errors(node, seg, src.get_seg_count(), line,
                                                                 src.get_ls_id())
            apply_walk_errors(errh, walk_errors)
            matched = found is not None
            node = found if matched else node
        if seg_id in _CLAIM_SCOPE_ENDS or (seg_id in ("LX", "PLB") and st01 == "835"):
            pcn = None
        parent = node.get_parent() if matched else None
        loop_id = getattr(parent, "id", None)
        if seg_id == "ST":
            st01 = seg.get_value("ST01") or ""
        elif seg_id in ("CLM", "CLP"):
            pcn = seg.get_value(f"{seg_id}01") or None
        elif seg_id == "TRN" and loop_id == "2200D":
            pcn = seg.get_value("TRN02") or None
        info = _info(segments, line, seg_id)
        info.loop_id, info.pcn = loop_id, pcn
        if not matched:
            # the walker has reported the unexpected segment; there is no map node to check it against
            errh.handle_errors(src.pop_errors())
            continue
        _record_segment(errh, src, node, seg, seg_id)
        apply_segment_errors(node, seg, errh)
    src.cleanup()
    errh.handle_errors(src.pop_errors())
    return errh, extra


def _info(segments: dict[int, _SegmentInfo], line: int, seg_id: str) -> _SegmentInfo:
    return segments.setdefault(line, _SegmentInfo(seg_id))


def _record_segment(errh: Any, src: Any, node: Any, seg: Any, seg_id: str) -> None:
    """Tell the error tree where we are, so the errors pyx12 collected land on the right node."""
    if seg_id == "ISA":
        errh.add_isa_loop(seg, src)
    elif seg_id == "GS":
        errh.add_gs_loop(seg, src)
    elif seg_id == "ST":
        errh.add_st_loop(seg, src)
    elif seg_id == "IEA":
        errh.handle_errors(src.pop_errors())
        errh.close_isa_loop(node, seg, src)
        return
    elif seg_id == "GE":
        errh.handle_errors(src.pop_errors())
        errh.close_gs_loop(node, seg, src)
        return
    elif seg_id == "SE":
        errh.handle_errors(src.pop_errors())
        errh.close_st_loop(node, seg, src)
        return
    else:
        errh.add_seg(node, seg, src.get_seg_count(), src.get_cur_line(), src.get_ls_id())
    errh.handle_errors(src.pop_errors())


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
    """A short one-line string naming an existing file (X12 text never does: it starts with ISA)."""
    return (len(text) < 1024 and "\n" not in text and not text.lstrip("\ufeff \t").startswith(("ISA", "GS", "ST"))
            and os.path.isfile(text))


def validate_x12(data: bytes | str | os.PathLike[str], *, name: str | None = None) -> ValidationReport:
    """Validate X12 ``data`` with pyx12: X12 text, bytes, or a file (a :class:`os.PathLike`, or a one-line string
    naming an existing file). ``name`` labels the data in problems (default: the path or ``<memory>``).

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
    info = {seg.index: _SegmentInfo(seg.id) for seg in segments}
    with _pyx12_lock, _quiet_pyx12():
        try:
            errh, extra = _walk(text, info)
        except (pyx12.errors.X12Error, pyx12.errors.EngineError) as exc:
            problems.append(Problem("error", None, None, None, None, "pyx12", f"pyx12 could not read it: {exc}"))
            return ValidationReport(False, problems, transaction)
        except Exception as exc:  # a pyx12 bug on odd input must not take the caller down; the file is unproven
            problems.append(Problem("error", None, None, None, None, "pyx12-failure",
                                    f"pyx12 failed while validating ({type(exc).__name__}: {exc}); treat the "
                                    f"file as unvalidated"))
            return ValidationReport(False, problems, transaction)
        collector = _ProblemCollector(info)
        errh.accept(collector)
    problems += extra + collector.problems
    problems.sort(key=lambda p: (p.segment_index or 0))
    return ValidationReport(not any(p.severity == "error" for p in problems), problems, transaction)


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
    message = (f"{name}: {len(errors)} X12 validation error{'s' if len(errors) != 1 else ''}{claims}; the file "
               f"must not be sent. Fix the claims (or the encoder) and encode again:{lines}{more}")
    raise X12ValidationError(message, errors)
