"""Serialise X12 segments: element sanitising, composites, the fixed-width ISA and X12 numbers.

Every data value passes :func:`clean_value` before it is written, so a value can never carry a delimiter or a
control character into the file: ``"O'Brien*Smith"`` becomes ``O'BRIEN SMITH`` (with ``upper=True``). Accented
letters are folded to ASCII (``José`` → ``JOSE``); anything else outside printable ASCII becomes a space.

Numbers are X12 ``R`` values written from :class:`decimal.Decimal` (floats are refused): ``150``, ``150.5``,
``150.25``, ``-12.5``; :func:`format_money` rounds to cents first.

    writer = SegmentWriter(Delimiters(), newline=True)
    writer.segment("SV1", ("HC", "90837", "95"), format_money(amount), "UN", "1", "", "", ("1", "2"))
    # 'SV1*HC:90837:95*150*UN*1***1:2~\\n'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from claimbridge.x12.reader import Delimiters

__all__ = [
    "DEFAULT_DELIMITERS",
    "ISA_WIDTHS",
    "Element",
    "SegmentWriter",
    "clean_value",
    "format_decimal",
    "format_money",
    "isa_elements",
    "serialize_segment",
]

DEFAULT_DELIMITERS = Delimiters(element="*", component=":", repetition="^", segment="~")

#: widths of ISA01…ISA16; every ISA element is padded to exactly this many characters
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)

#: an element is a plain value or, for a composite, a sequence of component values
Element = str | Sequence[str]

_CENT = Decimal("0.01")


def clean_value(value: object, delimiters: Delimiters = DEFAULT_DELIMITERS, *, upper: bool = False) -> str:
    """``value`` as safe X12 text: delimiters and non-printable characters replaced by a space, accents folded
    to ASCII, runs of spaces collapsed, ends trimmed; upper-cased when ``upper`` (names, addresses)."""
    if value is None:
        return ""
    if isinstance(value, float):
        raise TypeError("X12 numbers come from Decimal, never float; use format_decimal/format_money")
    text = str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    forbidden = {delimiters.element, delimiters.component, delimiters.segment}
    if delimiters.repetition is not None:
        forbidden.add(delimiters.repetition)
    cleaned = "".join(" " if (ch in forbidden or not (" " <= ch <= "~")) else ch for ch in text)
    cleaned = " ".join(cleaned.split())
    return cleaned.upper() if upper else cleaned


def format_decimal(value: Decimal | int | str) -> str:
    """An X12 ``R`` (decimal) value: no exponent, no trailing zeros after the point, no ``-0``.

    ``Decimal("150.00")`` → ``150``; ``Decimal("150.50")`` → ``150.5``; ``Decimal("-3")`` → ``-3``.
    """
    if isinstance(value, float):
        raise TypeError("X12 numbers come from Decimal, never float")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def format_money(value: Decimal | int | str) -> str:
    """A money amount rounded half-up to cents, then written as :func:`format_decimal` (``150.5``)."""
    if isinstance(value, float):
        raise TypeError("money is Decimal, never float")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    return format_decimal(number.quantize(_CENT, rounding=ROUND_HALF_UP))


def isa_elements(values: Sequence[str]) -> list[str]:
    """ISA01…ISA16 padded to their fixed widths (ISA13 zero-filled). Raises ValueError for a value too
    long."""
    if len(values) != 16:
        raise ValueError(f"an ISA has 16 elements, got {len(values)}")
    padded = []
    for position, (value, width) in enumerate(zip(values, ISA_WIDTHS, strict=True), start=1):
        value = str(value)
        if len(value) > width:
            raise ValueError(f"ISA{position:02d} {value!r} is longer than its {width} characters")
        padded.append(value.rjust(width, "0") if position == 13 else value.ljust(width))
    return padded


def serialize_segment(seg_id: str, elements: Iterable[Element],
                      delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """``seg_id`` and its elements joined with the delimiters, without the terminator.

    Each value is sanitised (:func:`clean_value`, case kept); a tuple or list is a composite whose components
    are joined with the component separator. Trailing empty components and elements are dropped, as X12
    requires. ``ISA`` is written verbatim apart from the fixed-width padding (its ISA11/ISA16 are
    delimiters themselves).
    """
    if seg_id == "ISA":
        return delimiters.element.join(["ISA", *isa_elements([str(v) for v in elements])])
    parts = [seg_id]
    for element in elements:
        if isinstance(element, Decimal):
            parts.append(format_decimal(element))
            continue
        if isinstance(element, str | int) or element is None:
            parts.append(clean_value(element, delimiters))
            continue
        components = [clean_value(c, delimiters) for c in element]
        while components and not components[-1]:
            components.pop()
        parts.append(delimiters.component.join(components))
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    return delimiters.element.join(parts)


class SegmentWriter:
    """Accumulates serialised segments. ``newline`` adds a line break after each terminator (readable files;
    receivers ignore it). ``len(writer)`` is the number of segments written so far."""

    def __init__(self, delimiters: Delimiters = DEFAULT_DELIMITERS, *, newline: bool = True):
        if delimiters.newline_terminated and newline:
            newline = False
        self.delimiters = delimiters
        self.newline = newline
        self._segments: list[str] = []

    def segment(self, seg_id: str, *elements: Element) -> str:
        """Serialise and append one segment; returns it with its terminator (and no newline)."""
        text = serialize_segment(seg_id, elements, self.delimiters) + self.delimiters.segment
        self._segments.append(text)
        return text

    def __len__(self) -> int:
        return len(self._segments)

    @property
    def segments(self) -> list[str]:
        """The segments so far, each with its terminator."""
        return list(self._segments)

    def text(self) -> str:
        end = "\n" if self.newline else ""
        return "".join(seg + end for seg in self._segments)
