"""Split a file into its transactions and read each one: :func:`iter_transactions` (one at a time, flat
memory) and :func:`parse_x12` (all of them, in file order)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

from claimbridge.x12.reader import CHUNK_SIZE, SegmentTokens, X12Source
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


Transaction = Remittance835 | Ack999 | StatusReport | TA1Ack | OtherTransaction


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
    :class:`StatusReport` per 277CA/277, a :class:`TA1Ack` per TA1 segment and an :class:`OtherTransaction`
    for anything else.

    Raises :class:`~claimbridge.x12.reader.X12SyntaxError` when the data is not X12 and
    :class:`~claimbridge.x12.responses.X12ParseError` (a subclass naming the segment and element) when a
    transaction cannot be read.
    """
    tokens = SegmentTokens(data, name=name, chunk_size=chunk_size)
    reader = Reader(tokens.name)
    envelope: dict[str, str | None] = {"interchange": None, "group": None, "version": None}
    stream = iter(tokens)
    index = 0
    for parts, index, _offset in stream:
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
            component = tokens.delimiters.component
            if kind == "835":
                parser: Remit835Parser | Ack999Parser | StatusParser = Remit835Parser(reader, component, parts, index)
                stop = parser.consume(stream)
            else:
                if kind in ("999", "997"):
                    parser = Ack999Parser(reader, component, parts, index, kind)
                elif kind in ("277CA", "277"):
                    parser = StatusParser(reader, component, parts, index, kind)
                else:
                    parser = _Skip()
                stop = _consume(parser, stream)
            if stop is None:
                raise X12ParseError(f"the data ends inside transaction set {control} (no SE trailer)",
                                    name=reader.name, segment=index, segment_id="ST")
            if stop[0] != "SE":
                raise X12ParseError(f"transaction set {control} (segment {index}) has no SE trailer before "
                                    f"this {stop[0]}", name=reader.name, segment=parser.stop_index,
                                    segment_id=stop[0])
            if isinstance(parser, _Skip):
                yield OtherTransaction(st01, control, version or None, envelope["interchange"], index)
            else:
                yield parser.finish(envelope)


class _Skip:
    """Stands in for a parser of a transaction set claimbridge does not read."""

    stop_index = 0

    def feed(self, parts: list[str], index: int) -> None:
        pass


_STOP = frozenset(("SE", "ST", "GE", "IEA", "ISA", "GS"))


def _consume(parser: Ack999Parser | StatusParser | _Skip,
             stream: Iterator[tuple[list[str], int, int]]) -> list[str] | None:
    for parts, index, _offset in stream:
        if parts[0] in _STOP:
            parser.stop_index = index
            return parts
        parser.feed(parts, index)
    return None


def parse_x12(data: X12Source, *, name: str | None = None) -> ParsedFile:
    """Every transaction of ``data``, in file order (see :func:`iter_transactions`).

    The cyclic garbage collector is paused while the objects are built (they hold no cycles; on a large
    remittance the collector would otherwise rescan them again and again, halving the speed)."""
    tokens_name = name or SegmentTokens(data).name
    collecting = gc.isenabled()
    gc.disable()
    try:
        return ParsedFile(tokens_name, list(iter_transactions(data, name=tokens_name)))
    finally:
        if collecting:
            gc.enable()
