"""Tokenize any X12 file into segments.

The delimiters come from each ISA header: the element separator is the character after ``ISA``, the repetition
separator is ISA11 (5010 and later), the component separator is ISA16 and the segment terminator is the
character after ISA16. Files in the wild are tolerated:

* a byte-order mark (UTF-8 or UTF-16) and UTF-16 text;
* CR, LF or CRLF (and indentation) between segments, or a newline as the only segment terminator;
* lines wrapped in the middle of a segment (the CR/LF is dropped when it is not the terminator);
* an ISA that is not padded to its fixed width;
* several ISA envelopes in one file, each with its own delimiters, and several GS/ST in an envelope;
* a fragment that starts at GS or ST with no ISA (delimiters are then guessed from the text).

Positions are 1-based like X12's own: ``Segment.index`` is the segment's ordinal in the data (ISA = 1;
the line number when a file holds one segment per line) and ``seg[1]`` is the first element (``seg[0]``
is the id).

    for seg in iter_segments(path.read_bytes(), name=str(path)):
        if seg.id == "CLP":
            pcn, status = seg[1], seg[2]
"""

from __future__ import annotations

import codecs
import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate, repeat
from operator import add
from typing import IO, Union

from claimbridge.errors import RecordError

__all__ = [
    "CHUNK_SIZE",
    "Delimiters",
    "Segment",
    "SegmentRun",
    "SegmentTokens",
    "X12Source",
    "X12SyntaxError",
    "decode_x12",
    "detect_delimiters",
    "iter_segments",
]

_NEWLINES = "\r\n"
# what may sit between segments besides newlines: NUL padding, a DOS end-of-file mark, form feeds
_FILLER = " \t\r\n\x00\x1a\x0b\x0c"
_NEWLINE = re.compile(r"[\r\n]")
# filler that can only be between segments (a space may be inside an element; CR and LF, which may also wrap
# a segment, the plain path drops itself)
_OTHER_BREAKERS = "\t\x00\x1a\x0b\x0c"
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
# how far past "ISA" the sixteenth element separator may be (a padded ISA has it at 103)
_ISA_SEARCH = 200
# how much text to look at before deciding what the data is (an ISA needs 106 characters)
_SNIFF = 4096
# how many characters of an unreadable segment an error shows (enough to recognise it, little PHI)
_SHOWN = 20
# most segments the careful path splits before handing them on (a run of split segments takes ~300 bytes each)
_CAREFUL_RUN = 256
#: bytes read at a time from files and file objects
CHUNK_SIZE = 64 * 1024
#: what :func:`iter_segments` reads: text, bytes, a path, or a binary or text file object
X12Source = Union[str, bytes, bytearray, memoryview, "os.PathLike[str]", IO[bytes], IO[str]]

_LATIN1_FALLBACK = "claimbridge-x12-latin1"


def _latin1_for_bad_utf8(exc: UnicodeError) -> tuple[str, int]:
    # X12 is ASCII; a byte that is not UTF-8 is most likely Latin-1 (the whole-text fallback of decode_x12)
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error(_LATIN1_FALLBACK, _latin1_for_bad_utf8)


class X12SyntaxError(RecordError):
    """The data is not X12, or its envelope is broken. ``name`` is the file, ``offset`` the character
    position in the decoded text where the problem was found and ``segment`` the 1-based number of the
    segment (when known)."""

    def __init__(self, reason: str, *, name: str = "<memory>", offset: int | None = None,
                 segment: int | None = None):
        self.name = name
        self.offset = offset
        self.segment = segment
        super().__init__(reason, source=name, record=None if offset is None else f"offset {offset}")


@dataclass(frozen=True)
class Delimiters:
    """The four X12 separators. ``repetition`` is None for 4010 files (ISA11 is then a standards id).

    ``segment`` is ``"\\n"`` for files whose segments end at line breaks; CR, LF and CRLF all count then.
    """

    element: str = "*"
    component: str = ":"
    repetition: str | None = "^"
    segment: str = "~"

    def __post_init__(self) -> None:
        chars = [self.element, self.component, self.segment]
        if self.repetition is not None:
            chars.append(self.repetition)
        for char in chars:
            if len(char) != 1:
                raise ValueError(f"X12 delimiters are single characters, got {char!r}")
        if len(set(chars)) != len(chars):
            raise ValueError(f"X12 delimiters must differ from each other: {chars!r}")

    @property
    def newline_terminated(self) -> bool:
        return self.segment in _NEWLINES


@dataclass(slots=True)
class Segment:
    """One segment: ``id`` and its ``elements`` (element 1 is ``elements[0]``, or ``seg[1]``).

    ``index`` is the 1-based position of the segment in the data, ``offset`` the character offset where it
    starts in the decoded text. Reading an element past the end gives ``""``, as X12 omits trailing empties.
    """

    id: str
    elements: list[str]
    delimiters: Delimiters
    index: int = 0
    offset: int = 0

    def __getitem__(self, position: int) -> str:
        if position == 0:
            return self.id
        if position < 0:
            raise IndexError("X12 element positions start at 1")
        return self.elements[position - 1] if position <= len(self.elements) else ""

    def __len__(self) -> int:
        return len(self.elements)

    def __bool__(self) -> bool:  # a segment without elements (``LE``) is still a segment
        return True

    def components(self, position: int) -> list[str]:
        """The components of a composite element, ``["HC", "90837", "95"]`` for ``HC:90837:95``."""
        value = self[position]
        return value.split(self.delimiters.component) if value else []

    def component(self, position: int, sub: int) -> str:
        """Component ``sub`` (1-based) of element ``position``, ``""`` when absent."""
        parts = self.components(position)
        return parts[sub - 1] if 0 < sub <= len(parts) else ""

    def repetitions(self, position: int) -> list[str]:
        """The repeats of a repeating element (split on the repetition separator)."""
        value = self[position]
        if not value:
            return []
        if self.delimiters.repetition is None or self.id == "ISA":
            return [value]
        return value.split(self.delimiters.repetition)

    def to_x12(self) -> str:
        """The segment as it was read, without its terminator."""
        return self.delimiters.element.join([self.id, *self.elements])

    def __str__(self) -> str:
        return self.to_x12()


def decode_x12(data: bytes | str) -> str:
    """Bytes to text: honour a UTF-8/UTF-16 byte-order mark, recognise BOM-less UTF-16 by its zero bytes,
    and fall back to Latin-1 for bytes that are not UTF-8 (X12 itself is ASCII). A leading BOM is dropped."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace").removeprefix("\ufeff")
    head = data[:8]
    if len(head) >= 4 and head[1:2] == b"\x00" and head[3:4] == b"\x00" and head[0:1] != b"\x00":
        return data.decode("utf-16-le", errors="replace")
    if len(head) >= 4 and head[0:1] == b"\x00" and head[2:3] == b"\x00" and head[1:2] != b"\x00":
        return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and (text[pos].isspace() or text[pos] in _FILLER):
        pos += 1
    return pos


def _isa_delimiters(text: str, start: int, name: str, base: int = 0) -> Delimiters:
    """Delimiters of the ISA that starts at ``start`` (padded to fixed width or not). ``base`` is the offset
    of ``text`` in the whole data (for errors)."""
    try:
        return _read_isa(text, start, name)
    except X12SyntaxError as exc:
        if base and exc.offset is not None:
            raise X12SyntaxError(exc.reason, name=name, offset=exc.offset + base) from None
        raise


def _read_isa(text: str, start: int, name: str) -> Delimiters:
    element = text[start + 3:start + 4]
    if not element or element.isalnum() or element.isspace():
        raise X12SyntaxError(f"ISA is not followed by an element separator (found {element!r})",
                             name=name, offset=start)
    separators: list[int] = []
    limit = min(len(text), start + _ISA_SEARCH)
    pos = start + 3
    while len(separators) < 16 and pos < limit:
        if text[pos] == element:
            separators.append(pos)
        elif text[pos] in _NEWLINES:
            break
        pos += 1
    if len(separators) < 16:
        raise X12SyntaxError(f"ISA has {len(separators)} of its 16 elements before the header ends",
                             name=name, offset=start)
    last = separators[-1]
    component = text[last + 1:last + 2]
    terminator = text[last + 2:last + 3]
    if not component or not terminator:
        raise X12SyntaxError("the file ends inside the ISA header", name=name, offset=start)
    if terminator in _NEWLINES:
        terminator = "\n"
    elif terminator.isalnum() or terminator == " ":
        raise X12SyntaxError(f"ISA16 must be one character followed by the segment terminator, found "
                             f"{text[last + 1:last + 3]!r}", name=name, offset=last + 1)
    # ISAn lies between separators[n - 1] and separators[n]
    isa11 = text[separators[10] + 1:separators[11]]
    isa12 = text[separators[11] + 1:separators[12]]
    repetition: str | None = None
    if len(isa11) == 1 and not isa11.isalnum() and isa12 >= "00501":
        repetition = isa11
    try:
        return Delimiters(element=element, component=component, repetition=repetition, segment=terminator)
    except ValueError as exc:
        raise X12SyntaxError(f"ISA declares unusable delimiters: {exc}", name=name, offset=start) from None


def _guess_delimiters(text: str, start: int, complete: bool = True) -> Delimiters | None:
    """Delimiters of a fragment with no ISA (``ST*835*1234~BPR*…``), or None when it does not look like
    X12. When ``complete`` is false ``text`` is only the start of the data (its last piece may be cut)."""
    match = re.match(r"[A-Z][A-Z0-9]{1,2}([^A-Za-z0-9\s])", text[start:start + 4])
    if match is None:
        return None
    element = match.group(1)
    piece_ok = re.compile(r"[A-Z][A-Z0-9]{1,2}(" + re.escape(element) + r"|\Z)")
    body = text[start:]
    for terminator in ("~", "'", "!", "\n", "|", "^"):
        if terminator == element or terminator not in body:
            continue
        pieces = re.split("[\r\n]+", body) if terminator == "\n" else body.split(terminator)
        if not complete:
            pieces = pieces[:-1]
        stripped = [p.replace("\r", "").replace("\n", "").strip() for p in pieces]
        if all(piece_ok.match(p) for p in stripped if p):
            component = next(c for c in (":", ">", "\\", "<") if c not in (element, terminator))
            return Delimiters(element=element, component=component, repetition=None, segment=terminator)
    return None


def detect_delimiters(data: bytes | str, *, name: str = "<memory>") -> Delimiters:
    """The delimiters of the first interchange in ``data`` (read from its ISA, or guessed for a fragment that
    starts at GS/ST). Raises :class:`X12SyntaxError` when the data is not X12."""
    text = decode_x12(data)
    start = _skip_space(text, 0)
    return _first_delimiters(text, start, name)


def _first_delimiters(text: str, start: int, name: str, complete: bool = True) -> Delimiters:
    if start >= len(text):
        raise X12SyntaxError("no X12 data: the input is empty", name=name, offset=0)
    if text.startswith("ISA", start):
        return _isa_delimiters(text, start, name)
    guessed = _guess_delimiters(text, start, complete)
    if guessed is None:
        raise X12SyntaxError(f"not an X12 file: it must start with an ISA segment, found "
                             f"{text[start:start + 12]!r}", name=name, offset=start)
    return guessed


def iter_segments(data: X12Source, *, name: str | None = None,
                  chunk_size: int = CHUNK_SIZE) -> Iterator[Segment]:
    """Yield the segments of ``data`` in order: X12 text, bytes, a path (:class:`os.PathLike`) or a binary
    (or text) file object. Files and file objects are read ``chunk_size`` bytes at a time, so memory stays
    flat however large the file is. ``name`` (default: the path, or ``<memory>``) appears in errors.

    Raises :class:`X12SyntaxError` when the data is not X12 or a segment id is not 2–3 upper-case letters
    and digits (naming the segment number, its offset and the first characters of the bad segment).
    """
    elements: list[str]
    tokens = SegmentTokens(data, name=name, chunk_size=chunk_size)
    for elements, index, offset in tokens:
        yield Segment(elements[0], elements[1:], tokens.delimiters, index, offset)


class SegmentRun:
    """Consecutive segments read with the same delimiters, as the tokenizer hands them on: ``first`` is the
    1-based number of the first one, :attr:`texts` the segments as text (id first, no terminator, no line
    breaks) and :meth:`segment` one of them split into elements. Parsers that handle millions of segments
    take runs (:meth:`SegmentTokens.runs`) rather than one tuple per segment."""

    __slots__ = ("delimiters", "first", "_texts", "_parts", "_offsets", "_region", "_base")

    def __init__(self, delimiters: Delimiters, first: int, *, texts: list[str] | None = None,
                 parts: list[list[str]] | None = None, offsets: list[int] | None = None,
                 region: str | None = None, base: int = 0):
        self.delimiters = delimiters
        self.first = first
        self._texts = texts
        self._parts = parts
        self._offsets = offsets
        self._region = region  # the text the segments were read from when not just the texts, for offsets()
        self._base = base

    def __len__(self) -> int:
        return len(self._texts if self._texts is not None else self._parts)  # type: ignore[arg-type]

    @property
    def texts(self) -> list[str]:
        if self._texts is None:
            self._texts = list(map(self.delimiters.element.join, self._parts))  # type: ignore[arg-type]
        return self._texts

    @property
    def parts(self) -> list[list[str]]:
        """Every segment split into elements (``parts[k][0]`` is the id)."""
        if self._parts is None:
            self._parts = [text.split(self.delimiters.element) for text in self._texts]  # type: ignore[union-attr]
        return self._parts

    def iter_parts(self) -> Iterator[list[str]]:
        """The segments split into elements one at a time (memory stays at one segment)."""
        if self._parts is not None:
            return iter(self._parts)
        return map(str.split, self._texts, repeat(self.delimiters.element))  # type: ignore[arg-type]

    def segment(self, position: int) -> list[str]:
        """Segment ``position`` (0-based in the run) split into elements."""
        if self._parts is not None:
            return self._parts[position]
        return self._texts[position].split(self.delimiters.element)  # type: ignore[index]

    def offsets(self) -> list[int]:
        """The character offset of each segment in the decoded text (worked out only when asked for)."""
        if self._offsets is None:
            if self._region is None:  # the texts are the region itself: each starts one past the one before
                texts = self._texts or []
                self._offsets = list(map(add, accumulate(map(len, texts), initial=self._base), range(len(texts))))
            else:
                self._offsets = _piece_starts(self._region, self._base, self.delimiters)
        return self._offsets


class SegmentTokens:
    """The low-level tokenizer behind :func:`iter_segments`: iterating yields ``(parts, index, offset)``
    where ``parts[0]`` is the segment id and ``parts[n]`` element n; :attr:`delimiters` are those of the
    segment last yielded. :meth:`runs` gives the same segments a :class:`SegmentRun` at a time, for parsers
    that handle millions of segments and skip building :class:`Segment` objects."""

    def __init__(self, data: X12Source, *, name: str | None = None, chunk_size: int = CHUNK_SIZE):
        self.name = name or (os.fspath(data) if isinstance(data, os.PathLike) else "<memory>")
        self._data = data
        self._chunk_size = max(16, chunk_size)
        self.delimiters = Delimiters()

    def __iter__(self) -> Iterator[tuple[list[str], int, int]]:
        for run in self.runs():
            yield from zip(run.iter_parts(), range(run.first, run.first + len(run)), run.offsets(), strict=True)
            del run  # gone before the tokenizer reads the next one

    def runs(self) -> Iterator[SegmentRun]:
        """The segments in runs (each with one set of delimiters, which :attr:`delimiters` then holds). An
        unreadable segment raises :class:`X12SyntaxError` once the run of good segments before it is handed
        on, so segments reach the caller in the same order errors do."""
        return self._runs(_text_chunks(self._data, self._chunk_size))

    def _runs(self, chunks: Iterator[str]) -> Iterator[SegmentRun]:
        name = self.name
        buf = ""
        base = 0  # offset of buf[0] in the decoded text
        index = 0
        final = False
        ids: dict[str, str] = {}
        delimiters: Delimiters | None = None
        while not final:
            chunk = next(chunks, None)
            if chunk is None:
                chunk, final = "", True
            buf = buf + chunk if buf else chunk
            if delimiters is None:
                start = len(buf) - len(buf.lstrip(_FILLER))
                if not final and len(buf) - start < _SNIFF:
                    continue
                delimiters = _first_delimiters(buf, start, name, complete=final)
                self.delimiters = delimiters
            pos = 0
            while True:
                newline = delimiters.newline_terminated
                term = delimiters.segment
                if final:
                    last = len(buf)
                elif newline:
                    last = max(buf.rfind("\n"), buf.rfind("\r"))
                else:
                    last = buf.rfind(term)
                if last < pos:
                    switched = self._leftover_isa(buf, pos, final)
                    if switched is None or switched == delimiters:
                        break
                    delimiters = self.delimiters = switched
                    continue
                region = buf[pos:last]
                texts, exact = _plain_texts(region, delimiters)
                if texts is not None:
                    # the common case: every segment starts with a valid id, no filler but line breaks
                    if texts:
                        first = index + 1
                        index += len(texts)
                        self.delimiters = delimiters
                        yield SegmentRun(delimiters, first, texts=texts, region=None if exact else region,
                                         base=base + pos)
                    texts = None  # let the run go as soon as the caller is done with it
                    pos = last + 1
                    if final:
                        break
                    continue
                current, element = delimiters, delimiters.element
                pieces = region.replace("\r", "\n").split("\n") if newline else region.split(term)
                found: list[list[str]] = []
                starts: list[int] = []
                p = pos
                restart, defer = -1, False
                try:
                    for piece in pieces:
                        start = p
                        p += len(piece) + 1
                        stripped = piece.lstrip(_FILLER)
                        if not stripped:
                            continue
                        start += len(piece) - len(stripped)
                        if "\n" in stripped or "\r" in stripped:
                            stripped = stripped.replace("\r", "").replace("\n", "")
                        parts = stripped.split(element)
                        seg_id = ids.get(parts[0])
                        if seg_id is None:
                            if not stripped.strip():  # other white space (a no-break space) between segments
                                continue
                            if stripped.startswith("ISA") and not stripped[3:4].isalnum():
                                seg_id = "ISA"  # maybe with new delimiters: checked below
                            else:
                                seg_id = _check_id(parts[0], index + 1, stripped, name, base + start)
                                ids[parts[0]] = seg_id
                        if seg_id == "ISA" and index:
                            if not final and len(buf) - start < _ISA_SEARCH + 4:
                                restart, defer = start, True  # read on: the whole header must be in the buffer
                                break
                            isa = _isa_delimiters(buf, start, name, base)
                            if isa != delimiters:
                                delimiters = isa
                                restart = start
                                break
                        parts[0] = seg_id
                        index += 1
                        found.append(parts)
                        starts.append(base + start)
                        if len(found) == _CAREFUL_RUN:
                            self.delimiters = current
                            yield SegmentRun(current, index - len(found) + 1, parts=found, offsets=starts)
                            found, starts = [], []
                except X12SyntaxError:
                    if found:  # the good segments before the bad one first
                        self.delimiters = current
                        yield SegmentRun(current, index - len(found) + 1, parts=found, offsets=starts)
                    raise
                if found:
                    self.delimiters = current
                    yield SegmentRun(current, index - len(found) + 1, parts=found, offsets=starts)
                found, starts, pieces = [], [], []
                if restart >= 0:
                    pos = restart
                    if defer:
                        break
                    continue  # split the rest again with the new interchange's delimiters
                pos = last + 1
                if final:
                    break
            if final:
                return
            buf = buf[pos:]
            base += pos

    def _leftover_isa(self, buf: str, pos: int, final: bool) -> Delimiters | None:
        """Delimiters of an ISA that starts the unterminated rest of the buffer (an interchange whose
        terminator differs from the one before it), or None."""
        start = len(buf) - len(buf[pos:].lstrip(_FILLER))
        if not buf.startswith("ISA", start) or (not final and len(buf) - start < _ISA_SEARCH + 4):
            return None
        return _isa_delimiters(buf, start, self.name, 0)


def _plain_texts(region: str, delimiters: Delimiters) -> tuple[list[str] | None, bool]:
    """The segments of ``region`` when reading them needs no more than splitting (line breaks dropped) and
    each starts with a valid id, not ISA; else None (the careful path reads the region, and raises if an id
    is bad). The flag is true when the segments are exactly the region split at each terminator."""
    if any(char in region for char in _OTHER_BREAKERS):
        return None, False
    term = delimiters.segment
    original = region
    if delimiters.newline_terminated:
        if "\r" in region:
            region = region.replace("\r\n", "\n").replace("\r", "\n")
        region = region.strip("\n")  # a CR LF cut in two at the end of the buffer, blank lines
    elif "\n" in region or "\r" in region:  # a line break after each segment, or lines wrapped inside one
        region = region.replace("\r", "").replace("\n", "")
    if not region:
        return [], region is original
    first_id, bad_id = _id_checks(delimiters.element, term)
    if region.startswith("ISA") or term + "ISA" in region or not first_id.match(region) or bad_id.search(region):
        return None, False
    return region.split(term), region is original


@functools.cache
def _id_checks(element: str, terminator: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Patterns for a valid segment id at the start of a region, and for a terminator not followed by one."""
    valid = rf"[A-Z][A-Z0-9]{{1,2}}+(?:{re.escape(element)}|{re.escape(terminator)}|\Z)"
    return re.compile(valid), re.compile(f"{re.escape(terminator)}(?!{valid})")


def _piece_starts(region: str, base: int, delimiters: Delimiters) -> list[int]:
    """Where each segment of a plain ``region`` (see :func:`_plain_texts`) starts, as the careful path counts:
    after the filler before it. ``base`` is the offset of ``region`` in the decoded text."""
    if delimiters.newline_terminated:
        pieces = region.replace("\r", "\n").split("\n")
    else:
        pieces = region.split(delimiters.segment)
    starts = []
    p = base
    for piece in pieces:
        stripped = piece.lstrip(_FILLER)
        if stripped:
            starts.append(p + len(piece) - len(stripped))
        p += len(piece) + 1
    return starts


def _check_id(raw_id: str, number: int, text: str, name: str, offset: int) -> str:
    seg_id = raw_id.strip()
    if not _SEGMENT_ID.match(seg_id):
        shown = text[:_SHOWN] + ("…" if len(text) > _SHOWN else "")
        raise X12SyntaxError(f"segment {number} has no valid segment id (found {seg_id[:10]!r}, segment text "
                             f"{shown!r}); the data is not X12 or its delimiters are wrong", name=name,
                             offset=offset, segment=number)
    return seg_id


def _text_chunks(data: X12Source, chunk_size: int) -> Iterator[str]:
    """Decoded text of ``data`` in pieces of about ``chunk_size`` characters (a leading BOM dropped)."""
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
        for start in range(0, len(text), chunk_size):  # a run per chunk, not one for the whole text
            yield text[start:start + chunk_size]
        return
    if isinstance(data, os.PathLike):
        with open(data, "rb") as handle:
            yield from _text_chunks(handle, chunk_size)
        return
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        reads: Iterator[bytes | str] = (bytes(view[i:i + chunk_size]) for i in range(0, len(view), chunk_size))
    else:
        read = data.read
        reads = iter(lambda: read(chunk_size), b"")
    decoder = None
    first = True
    for raw in reads:
        if not raw:
            break
        if isinstance(raw, str):  # a text-mode file object
            yield raw.removeprefix("\ufeff") if first else raw
            first = False
            continue
        if decoder is None:
            decoder = _decoder_for(raw)
        text = decoder.decode(raw)
        if first:
            text = text.removeprefix("\ufeff")
            first = False
        if text:
            yield text
    if decoder is not None:
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail


def _decoder_for(head: bytes) -> codecs.IncrementalDecoder:
    """An incremental decoder chosen like :func:`decode_x12`: UTF-16 by BOM or zero bytes, else UTF-8 with
    bytes that are not UTF-8 read as Latin-1."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return codecs.getincrementaldecoder("utf-16")(errors="replace")
    if len(head) >= 4 and head[1:2] == b"\x00" and head[3:4] == b"\x00" and head[0:1] != b"\x00":
        return codecs.getincrementaldecoder("utf-16-le")(errors="replace")
    if len(head) >= 4 and head[0:1] == b"\x00" and head[2:3] == b"\x00" and head[1:2] != b"\x00":
        return codecs.getincrementaldecoder("utf-16-be")(errors="replace")
    return codecs.getincrementaldecoder("utf-8")(errors=_LATIN1_FALLBACK)


def _find_newline(text: str, pos: int) -> int:
    match = _NEWLINE.search(text, pos)
    return match.start() if match else len(text)
