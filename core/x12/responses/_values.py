"""Element values to Python: money and quantities as :class:`~decimal.Decimal`, dates and times, and the
error raised when a transaction's content cannot be read."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal, InvalidOperation

from claimbridge.x12.reader import X12SyntaxError

__all__ = ["X12ParseError", "format_decimal", "format_money"]

_NUMBER = "-0123456789."
_CENTS = Decimal("0.01")
_MAX_CACHED = 200_000
# how many distinct segment texts a parser keeps what it read from (a few hundred bytes each)
_MAX_SEGMENTS = 20_000


class X12ParseError(X12SyntaxError):
    """The data is X12 but a transaction in it does not follow its implementation guide closely enough to be
    read (a required amount missing, a date that is not a date). ``segment`` is the segment number (ISA = 1),
    ``segment_id`` its id and ``element`` the element reference (``CLP03``). Values are shown only for
    amounts, dates and codes, never for names or identifiers of people."""

    def __init__(self, reason: str, *, name: str = "<memory>", segment: int | None = None,
                 segment_id: str | None = None, element: str | None = None, offset: int | None = None):
        self.segment_id = segment_id
        self.element = element
        where = f"segment {segment} {segment_id or ''}".rstrip() if segment is not None else ""
        if element:
            where += f" {element}" if where else element
        super().__init__(f"{where}: {reason}" if where else reason, name=name, offset=offset, segment=segment)


def to_decimal(value: str) -> Decimal | None:
    """An X12 ``R``/``N`` value as Decimal, None when it is not a plain decimal number (no exponent, sign
    only in front, no spaces)."""
    if not value or value.strip(_NUMBER):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def to_date(value: str) -> date | None:
    """``CCYYMMDD`` (or ``YYMMDD``, read as 20YY) as a date; None when it is not a valid date."""
    if not value.isdigit() or len(value) not in (6, 8):
        return None
    if len(value) == 6:
        value = "20" + value
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


def to_time(value: str) -> time | None:
    """``HHMM`` (or ``HHMMSS``) as a time; None when it is not a valid time."""
    if not value.isdigit() or len(value) not in (4, 6, 8):
        return None
    try:
        return time(int(value[:2]), int(value[2:4]), int(value[4:6] or 0))
    except ValueError:
        return None


def format_money(amount: Decimal | None) -> str | None:
    """Money for JSON: the exact decimal as a string with at least two decimals (``"150000.00"``,
    ``"-1.27"``, ``"0.125"`` keeps its third digit); None stays None."""
    if amount is None:
        return None
    if amount.as_tuple().exponent > -2:  # type: ignore[operator]
        amount = amount.quantize(_CENTS)
    if not amount:
        amount = abs(amount)
    return f"{amount:f}"


def format_decimal(value: Decimal | None) -> str | None:
    """A quantity for JSON: the exact decimal as written in the file, without exponent."""
    return None if value is None else f"{value:f}"


class Reader:
    """Converts elements of one file's segments, raising :class:`X12ParseError` that names the file, the
    segment number and id and the element. Dates are cached (a remittance repeats a few dates many times)."""

    __slots__ = ("name", "_dates", "amounts", "_segments")

    def __init__(self, name: str):
        self.name = name
        self._dates: dict[str, date | None] = {}
        #: element text → Decimal for every amount read so far (remittances repeat a fee schedule's few
        #: amounts; a Decimal is immutable, so sharing is safe and saves most conversions)
        self.amounts: dict[str, Decimal] = {}
        self._segments: dict[tuple[str, str], dict[str, tuple]] = {}

    def segment_values(self, element: str, component: str) -> dict[str, tuple]:
        """A parser's memory of segments read with these separators: segment text → what it read from it
        (immutable values only). Remittances repeat the same CAS, DTM, AMT and SVC segments thousands of
        times; remembering them skips splitting and converting again. Use :meth:`remember` to add."""
        key = (element, component)
        seen = self._segments.get(key)
        if seen is None:
            seen = self._segments[key] = {}
        return seen

    @staticmethod
    def remember(seen: dict[str, tuple], text: str, entry: tuple) -> None:
        """Add ``text`` → ``entry`` to a memory from :meth:`segment_values`."""
        if len(seen) >= _MAX_SEGMENTS:  # bounded: a file of all-different segments keeps memory flat
            seen.clear()
        seen[text] = entry

    def try_date(self, value: str) -> date | None:
        """``value`` as a date (see :func:`to_date`), None when it is empty or not a date; cached."""
        cached = self._dates.get(value, False)
        if cached is False:
            cached = self._dates[value] = to_date(value)
        return cached  # type: ignore[return-value]

    def error(self, reason: str, parts: list[str], index: int, position: int | str | None = None) -> X12ParseError:
        element = f"{parts[0]}{position:02d}" if isinstance(position, int) else position
        return X12ParseError(reason, name=self.name, segment=index, segment_id=parts[0], element=element)

    def money(self, parts: list[str], position: int, index: int, what: str) -> Decimal:
        value = parts[position] if position < len(parts) else ""
        amount = self.amounts.get(value)
        if amount is not None:
            return amount
        if value and not value.strip(_NUMBER):
            try:
                amount = Decimal(value)
            except InvalidOperation:
                pass
            else:
                if len(self.amounts) > _MAX_CACHED:
                    self.amounts.clear()
                self.amounts[value] = amount
                return amount
        if amount is None:
            reason = f"{what} is missing" if not value else f"{what} is not an amount ({value[:20]!r})"
            raise self.error(reason, parts, index, position)
        return amount

    def number(self, parts: list[str], position: int, index: int, what: str) -> Decimal:
        """A quantity (units, days): same rules as money."""
        return self.money(parts, position, index, what)

    def optional_money(self, parts: list[str], position: int, index: int, what: str) -> Decimal | None:
        if position >= len(parts) or not parts[position]:
            return None
        return self.money(parts, position, index, what)

    def date(self, parts: list[str], position: int, index: int, what: str, *,
             required: bool = False) -> date | None:
        value = parts[position] if position < len(parts) else ""
        if not value and not required:
            return None
        cached = self.try_date(value)
        if cached is None:
            reason = f"{what} is missing" if not value else f"{what} is not a date CCYYMMDD ({value[:12]!r})"
            raise self.error(reason, parts, index, position)
        return cached

    def period(self, parts: list[str], position: int, index: int, what: str) -> tuple[date | None, date | None]:
        """A ``D8`` date or an ``RD8`` range ``CCYYMMDD-CCYYMMDD`` (the qualifier is the element before)."""
        value = parts[position] if position < len(parts) else ""
        first, _, last = value.partition("-")
        start = self.date([parts[0], first], 1, index, what)
        end = self.date([parts[0], last], 1, index, what) if last else start
        return start, end
