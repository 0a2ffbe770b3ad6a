"""Split a file into its transactions and read each one: :func:`iter_transactions` (one at a time, flat
memory) and :func:`parse_x12` (all of them, in file order)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from claimbridge.x12.eligibility.model import Eligibility270, Eligibility271
from claimbridge.x12.eligibility.parse_271 import EligibilityParser
from claimbridge.x12.reader import CHUNK_SIZE, Delimiters, SegmentRun, SegmentTokens, X12Source
from claimbridge.x12.responses._values import Reader, X12ParseError
from claimbridge.x12.responses.acks import Ack999, Ack999Parser, TA1Ack, parse_ta1
from claimbridge.x12.responses.model835 import Remittance835
from claimbridge.x12.responses.remit835 import Remit835Parser
from claimbridge.x12.responses.status277 import StatusParser, StatusReport

__all__ = ["OtherTransaction", "ParsedFile", "Transaction", "iter_transactions", "parse_x12"]


@dataclass(slots=True)
class OtherTransaction:
    """A transaction set claimbridge does not read (an 837, a 276 …): its type (ST01), control number and
    version only."""

    type: str
    control_number: str
    version: str | None
    interchange_control_number: str | None = None
    segment: int = 0


Transaction = Remittance835 | Ack999 | StatusReport | TA1Ack | Eligibility271 | Eligibility270 | OtherTransaction


@dataclass
class ParsedFile:
    """Every transaction of one file, in order."""

    name: str
    transactions: list[Transaction] = field(default_factory=list)


def _kind(st01: str, version: str) -> str:
    if st01 == "277":
        return "277CA" if "X214" in version else "277"
    return st01


def iter_transactions(data: X12Source, *, name: str | None = None,
                      chunk_size: int = CHUNK_SIZE) -> Iterator[Transaction]:
    """Yield the transactions of ``data`` (text, bytes, a path or a file object) one at a time: an
    :class:`~claimbridge.x12.responses.model835.Remittance835` per 835, an :class:`Ack999` per 999/997, a
    :class:`StatusReport` per 277CA/277, an :class:`Eligibility271` per 271 (an :class:`Eligibility270` per
    270), a :class:`TA1Ack` per TA1 segment and an :class:`OtherTransaction` for anything else.

    Raises :class:`~claimbridge.x12.reader.X12SyntaxError` when the data is not X12 and
    :class:`~claimbridge.x12.responses.X12ParseError` (a subclass naming the segment and element) when a
    transaction cannot be read.
    """
    tokens = SegmentTokens(data, name=name, chunk_size=chunk_size)
    reader = Reader(tokens.name)
    envelope: dict[str, str | None] = {"interchange": None, "group": None, "version": None}
    cursor = _Cursor(tokens.runs())
    while (segment := cursor.next_segment()) is not None:
        parts, index = segment
        seg_id = parts[0]
        if seg_id == "ISA":
            envelope["interchange"] = parts[13] if len(parts) > 13 else None
        elif seg_id == "GS":
            envelope["group"] = parts[6] if len(parts) > 6 else None
            envelope["version"] = parts[8].strip() if len(parts) > 8 else None
        elif seg_id == "TA1":
            yield parse_ta1(reader, parts, index, envelope["interchange"])
        elif seg_id == "ST":
            st01 = parts[1] if len(parts) > 1 else ""
            control = parts[2] if len(parts) > 2 else ""
            version = (parts[3] if len(parts) > 3 and parts[3] else envelope["version"]) or ""
            kind = _kind(st01, version)
            component = cursor.delimiters.component
            parser: Remit835Parser | Ack999Parser | StatusParser | EligibilityParser | _Skip
            with _collector_paused():
                if kind == "835":
                    parser = Remit835Parser(reader, component, parts, index)
                    stop = cursor.feed(parser.feed_run)
                else:
                    if kind in ("999", "997"):
                        parser = Ack999Parser(reader, component, parts, index, kind)
                    elif kind in ("277CA", "277"):
                        parser = StatusParser(reader, component, parts, index, kind)
                    elif kind in ("271", "270"):
                        parser = EligibilityParser(reader, cursor.delimiters, parts, index, kind)
                    else:
                        parser = _Skip()
                    stop = cursor.feed(_one_at_a_time(parser.feed))
                if stop is None:
                    raise X12ParseError(f"the data ends inside transaction set {control} (no SE trailer)",
                                        name=reader.name, segment=index, segment_id="ST")
                stop_parts, parser.stop_index = stop
                if stop_parts[0] != "SE":
                    raise X12ParseError(f"transaction set {control} (segment {index}) has no SE trailer before "
                                        f"this {stop_parts[0]}", name=reader.name, segment=parser.stop_index,
                                        segment_id=stop_parts[0])
                if isinstance(parser, _Skip):
                    transaction: Transaction = OtherTransaction(st01, control, version or None,
                                                                envelope["interchange"], index)
                elif isinstance(parser, EligibilityParser):  # checks SE01/SE02 itself
                    transaction = parser.finish(envelope, stop_parts, parser.stop_index)
                else:
                    transaction = parser.finish(envelope)
            yield transaction


class _Skip:
    """Stands in for a parser of a transaction set claimbridge does not read."""

    stop_index = 0

    def feed(self, parts: list[str], index: int) -> None:
        pass


# segments that end a transaction set (SE) or must not appear inside one
_STOP = frozenset(("SE", "ST", "GE", "IEA", "ISA", "GS"))


class _Cursor:
    """Where the envelope loop is in the tokenizer's runs: it takes segments one at a time, and hands a
    transaction set's segments to its parser a run at a time (see :meth:`feed`)."""

    __slots__ = ("_runs", "_run", "_pos")

    def __init__(self, runs: Iterator[SegmentRun]):
        self._runs = runs
        self._run: SegmentRun | None = None
        self._pos = 0

    @property
    def delimiters(self) -> Delimiters:
        """The delimiters of the segment last taken."""
        return self._run.delimiters if self._run is not None else Delimiters()

    def _next_run(self) -> bool:
        run = next(self._runs, None)
        if run is None:
            return False
        self._run, self._pos = run, 0
        return True

    def next_segment(self) -> tuple[list[str], int] | None:
        """The next segment and its number, None at the end of the data."""
        while self._run is None or self._pos >= len(self._run):
            if not self._next_run():
                return None
        run, pos = self._run, self._pos
        self._pos = pos + 1
        return run.segment(pos), run.first + pos

    def feed(self, feed_run: Callable[[SegmentRun, int], int]) -> tuple[list[str], int] | None:
        """Call ``feed_run(run, start)`` on the rest of the current run and on the runs after it until it
        returns the position of a segment that ends the transaction set (SE, or one that must not be inside
        it); that segment and its number are returned, and taken. None when the data ends first."""
        while True:
            run = self._run
            if run is not None and self._pos < len(run):
                stop = feed_run(run, self._pos)
                if stop >= 0:
                    self._pos = stop + 1
                    return run.segment(stop), run.first + stop
            if not self._next_run():
                return None


def _one_at_a_time(feed: Callable[[list[str], int], None]) -> Callable[[SegmentRun, int], int]:
    """A ``feed_run`` for :meth:`_Cursor.feed` from a parser that takes one segment at a time."""

    def feed_run(run: SegmentRun, start: int) -> int:
        first = run.first
        for position in range(start, len(run)):
            parts = run.segment(position)
            if parts[0] in _STOP:
                return position
            feed(parts, first + position)
        return -1

    return feed_run


def parse_x12(data: X12Source, *, name: str | None = None) -> ParsedFile:
    """Every transaction of ``data``, in file order (see :func:`iter_transactions`).

    The cyclic garbage collector is paused while the objects are built (see :func:`_collector_paused`)."""
    tokens_name = name or SegmentTokens(data).name
    with _collector_paused():
        return ParsedFile(tokens_name, list(iter_transactions(data, name=tokens_name)))


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while transactions are built (not while the caller of
    :func:`iter_transactions` holds one): they hold no cycles, and on a large remittance the collector would
    otherwise rescan them again and again, halving the speed."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
