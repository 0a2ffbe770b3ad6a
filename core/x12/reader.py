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
import re
from collections.abc import Iterator
from dataclasses import dataclass

from claimbridge.errors import RecordError

__all__ = [
    "Delimiters",
    "Segment",
    "X12SyntaxError",
    "decode_x12",
    "detect_delimiters",
    "iter_segments",
]

_NEWLINES = "\r\n"
# what may sit between segments besides newlines: NUL padding, a DOS end-of-file mark, form feeds
_FILLER = " \t\r\n\x00\x1a\x0b\x0c"
_NEWLINE = re.compile(r"[\r\n]")
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
# how far past "ISA" the sixteenth element separator may be (a padded ISA has it at 103)
_ISA_SEARCH = 200


class X12SyntaxError(RecordError):
    """The data is not X12, or its envelope is broken. ``name`` is the file and ``offset`` the character
    position in the decoded text where the problem was found."""

    def __init__(self, reason: str, *, name: str = "<memory>", offset: int | None = None):
        self.name = name
        self.offset = offset
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


def _isa_delimiters(text: str, start: int, name: str) -> Delimiters:
    """Delimiters of the ISA that starts at ``start`` (padded to fixed width or not)."""
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


def _guess_delimiters(text: str, start: int) -> Delimiters | None:
    """Delimiters of a fragment with no ISA (``ST*835*1234~BPR*…``), or None when it does not look like
    X12."""
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


def _first_delimiters(text: str, start: int, name: str) -> Delimiters:
    if start >= len(text):
        raise X12SyntaxError("no X12 data: the input is empty", name=name, offset=0)
    if text.startswith("ISA", start):
        return _isa_delimiters(text, start, name)
    guessed = _guess_delimiters(text, start)
    if guessed is None:
        raise X12SyntaxError(f"not an X12 file: it must start with an ISA segment, found "
                             f"{text[start:start + 12]!r}", name=name, offset=start)
    return guessed


def iter_segments(data: bytes | str, *, name: str = "<memory>") -> Iterator[Segment]:
    """Yield the segments of ``data`` in order. ``name`` (the file) appears in errors.

    Raises :class:`X12SyntaxError` when the data is not X12 or a segment id is not 2–3 upper-case letters
    and digits (naming the offset of the bad segment).
    """
    text = decode_x12(data)
    pos = _skip_space(text, 0)
    delimiters = _first_delimiters(text, pos, name)
    index = 0
    end_of_text = len(text)
    while True:
        pos = _skip_space(text, pos)
        if pos >= end_of_text:
            return
        if text.startswith("ISA", pos) and not text[pos + 3:pos + 4].isalnum():
            # each interchange declares its own delimiters
            delimiters = _isa_delimiters(text, pos, name)
        if delimiters.newline_terminated:
            end = _find_newline(text, pos)
            raw = text[pos:end]
            next_pos = end + 1
        else:
            end = text.find(delimiters.segment, pos)
            if end < 0:
                end = end_of_text
            raw = text[pos:end].replace("\r", "").replace("\n", "")
            next_pos = end + 1
        start, pos = pos, next_pos
        if not raw.strip(_FILLER):
            continue
        parts = raw.split(delimiters.element)
        seg_id = parts[0].strip()
        if not _SEGMENT_ID.match(seg_id):
            raise X12SyntaxError(f"segment {index + 1} has no valid segment id (found {seg_id[:10]!r}); "
                                 f"the data is not X12 or its delimiters are wrong", name=name, offset=start)
        index += 1
        yield Segment(seg_id, parts[1:], delimiters, index, start)


def _find_newline(text: str, pos: int) -> int:
    match = _NEWLINE.search(text, pos)
    return match.start() if match else len(text)
