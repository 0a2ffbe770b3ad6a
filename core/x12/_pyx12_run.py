"""Drive pyx12's validator in-process and collect its findings as :class:`Problem` objects.

The loop follows pyx12's own ``x12n_document`` (reader → map walker → error tree) without its HTML/XML/999
outputs, keeps parsed maps for the life of the process, tracks the claim each segment belongs to while
walking, and copes with input pyx12's driver trips on (a TA1 outside any ST, a functional group it has
no map for).
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pyx12.error_handler
import pyx12.error_visitor
import pyx12.map_if
import pyx12.map_index
import pyx12.params
import pyx12.x12file
from pyx12.map_if._segment import apply_segment_errors
from pyx12.map_walker import apply_walk_errors, walk_tree

from claimbridge.x12.problems import Problem

__all__ = ["run_pyx12"]

_CLAIM_SCOPE_ENDS = {"ISA", "IEA", "GS", "GE", "ST", "SE", "HL"}
# pyx12 keeps module-level state in places and we raise its logger's level while it runs: one run at a time
_pyx12_lock = threading.Lock()


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
    """Run pyx12 over normalised ``text``; fill loop ids and PCNs into ``segments``. Returns the error tree
    and problems found outside it (a group pyx12 has no map for)."""
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


def run_pyx12(text: str, segment_ids: dict[int, str]) -> list[Problem]:
    """Validate normalised ``text`` (one fixed-width ISA, one segment per terminator). ``segment_ids`` maps
    each 1-based segment position to its id. Raises pyx12's X12Error/EngineError when it cannot read the
    data."""
    info = {index: _SegmentInfo(seg_id) for index, seg_id in segment_ids.items()}
    with _pyx12_lock, _quiet_pyx12():
        errh, problems = _walk(text, info)
        collector = _ProblemCollector(info)
        errh.accept(collector)
    return problems + collector.problems
