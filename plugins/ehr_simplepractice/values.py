"""Parsers for the text cells of SimplePractice downloads.

Each raises :class:`ValueError` with a short message saying what was expected. A message repeats the cell only
when it cannot be protected health information in disguise: amounts, dates and codes made only of digits and
punctuation, or codes. A name in the wrong column must not end up in a log.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache

__all__ = [
    "name_key",
    "parse_codes",
    "parse_date",
    "parse_minutes",
    "parse_modifiers",
    "parse_money",
    "parse_payer",
    "parse_time",
    "parse_units",
    "split_name",
]

_CENTS = Decimal("0.01")
_AMOUNT = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?|\.(\d+)")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
         ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
         ("oct", "october"), ("nov", "november"), ("dec", "december")),
        start=1,
    )
    for name in names
}
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_SUFFIX = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?\s*[Mm]\.?)?)?"
_NUMERIC_DATE = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})" + _TIME_SUFFIX)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})" + _TIME_SUFFIX)
_WORDY_DATE = re.compile(r"(?:([A-Za-z]+)\.?,?\s+)?([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
_TIME_12 = re.compile(r"(\d{1,2})(?::(\d{2}))?(?::(\d{2}))?\s*([AaPp])\.?\s*[Mm]\.?")
_TIME_24 = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DURATION = re.compile(
    r"(?:(\d+)\s*(?:h|hr|hrs|hour|hours)\b\.?)?\s*(?:(\d+)\s*(?:m|min|mins|minute|minutes)\b\.?)?", re.IGNORECASE
)
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_SEPARATORS = re.compile(r"[,;\s]+")
_PAYER = re.compile(r"(.*?)\s*\(([A-Za-z0-9]{2,15})\)")
_SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "v"}


def _shown(text: str) -> str:
    """`` 'text'`` when the text is only digits and punctuation (an amount or a date, not a name), else ''."""
    if len(text) <= 40 and re.fullmatch(r"[\d\s$.,()/:+-]*", text):
        return f" {text!r}"
    return ""


def _code_shown(token: str) -> str:
    """`` 'token'`` when it has a digit and is short, as codes do and names do not, else ''."""
    return f" {token!r}" if len(token) <= 10 and re.search(r"\d", token) else ""


def parse_money(text: str) -> Decimal | None:
    """An amount in dollars, to the cent: ``$1,234.50``, ``1234.5``, ``(45.00)``, ``-$45.00``, ``$-45.00``.

    An empty cell is None. More than two decimals are refused unless the extra ones are zeros (``12.500``).
    """
    cleaned = text.strip()
    if not cleaned:
        return None
    problem = ValueError(f"not an amount of money{_shown(cleaned)} (expected e.g. $1,234.50 or (45.00))")
    negative = False
    if cleaned.startswith("(") and cleaned.endswith(")"):
        negative, cleaned = True, cleaned[1:-1].strip()
    if cleaned.startswith("-") and not negative:
        negative, cleaned = True, cleaned[1:].lstrip()
    if cleaned.startswith("$"):
        cleaned = cleaned[1:].lstrip()
    if cleaned.startswith("-") and not negative:
        negative, cleaned = True, cleaned[1:].lstrip()
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        raise problem
    decimals = match.group(1) or match.group(2) or ""
    if decimals[2:].strip("0"):
        raise ValueError(f"amount{_shown(text.strip())} has fractions of a cent")
    amount = Decimal(cleaned.replace(",", "")).quantize(_CENTS)
    if negative and amount:
        amount = -amount
    return amount


def parse_date(text: str) -> date:
    """A date as SimplePractice and Excel write it: ``11/05/2026``, ``11/5/2026``, ``11/05/26``, ``11-05-2026``,
    ``2026-11-05``, ``2026-11-05 10:00``, ``Nov 5, 2026``, ``November 5, 2026``, ``Thu, Nov 5, 2026``.

    A time after a numeric date is ignored. A two-digit year is taken in the century that puts it at most ten
    years after the current year (``26`` is 2026, ``85`` is 1985): dates here are sessions, which are recent,
    and dates of birth, which are past.
    """
    cleaned = " ".join(text.split())
    if match := _NUMERIC_DATE.fullmatch(cleaned):
        month, day, year = int(match.group(1)), int(match.group(3)), match.group(4)
        return _date(_full_year(year), month, day, cleaned)
    if match := _ISO_DATE.fullmatch(cleaned):
        return _date(int(match.group(1)), int(match.group(2)), int(match.group(3)), cleaned)
    if (match := _WORDY_DATE.fullmatch(cleaned)) and match.group(2).lower() in _MONTHS:
        weekday, month_name, day, year = match.groups()
        value = _date(int(year), _MONTHS[month_name.lower()], int(day), cleaned)
        if weekday is not None:
            if weekday.lower()[:3] not in _WEEKDAYS:
                raise ValueError("not a date (expected MM/DD/YYYY)")
            if _WEEKDAYS.index(weekday.lower()[:3]) != value.weekday():
                raise ValueError(f"the weekday does not match the date {value:%m/%d/%Y}")
        return value
    raise ValueError(f"not a date{_shown(cleaned)} (expected MM/DD/YYYY)")


def _full_year(digits: str) -> int:
    if len(digits) == 4:
        return int(digits)
    year = 2000 + int(digits)
    return year if year <= date.today().year + 10 else year - 100


def _date(year: int, month: int, day: int, text: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"not a calendar date{_shown(text)} (expected MM/DD/YYYY)") from None


def parse_time(text: str) -> time:
    """A time of day: ``10:00 AM``, ``10:00am``, ``10 a.m.``, ``10:00``, ``14:30:00``."""
    cleaned = text.strip()
    if match := _TIME_12.fullmatch(cleaned):
        hour, minute, second = int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)
        if not 1 <= hour <= 12:
            raise ValueError(f"not a time{_shown(cleaned)} (the hour of an AM/PM time is 1 to 12)")
        hour = hour % 12 + (12 if match.group(4).lower() == "p" else 0)
    elif match := _TIME_24.fullmatch(cleaned):
        hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    else:
        raise ValueError(f"not a time{_shown(cleaned)} (expected e.g. 10:00 AM or 14:30)")
    try:
        return time(hour, minute, second)
    except ValueError:
        raise ValueError(f"not a time{_shown(cleaned)} (expected e.g. 10:00 AM or 14:30)") from None


def parse_minutes(text: str) -> int:
    """A duration in whole minutes: ``53``, ``53 min``, ``53 mins``, ``1 hr 5 min``, ``1:05``, ``50.0``."""
    cleaned = " ".join(text.split())
    problem = ValueError(f"not a duration{_shown(cleaned)} (expected minutes, e.g. 53, 53 min or 1 hr 5 min)")
    if match := re.fullmatch(r"(\d+):(\d{2})", cleaned):
        hours, minutes = int(match.group(1)), int(match.group(2))
        if minutes >= 60:
            raise problem
        return hours * 60 + minutes
    if re.fullmatch(r"\d+(?:\.\d+)?", cleaned):
        number = Decimal(cleaned)
        if number != number.to_integral_value():
            raise ValueError(f"not a whole number of minutes{_shown(cleaned)}")
        return int(number)
    match = _DURATION.fullmatch(cleaned)
    if not cleaned or not match or not (match.group(1) or match.group(2)):
        raise problem
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def parse_payer(text: str) -> tuple[str, str | None]:
    """A payer cell as ``(name, payer id)``: ``Lakeshore Health Plan (LKSHP)`` → ``('Lakeshore Health Plan',
    'LKSHP')``. Only a final parenthesized token of 2 to 15 letters and digits is an id, so ``Blue Cross (IL)
    (00621)`` keeps ``(IL)`` in its name; ``Aetna`` has no id (None).
    """
    cleaned = " ".join(text.split())
    if not cleaned:
        raise ValueError("no payer (expected a name, or 'Name (PayerID)')")
    match = _PAYER.fullmatch(cleaned)
    if not match:
        return cleaned, None
    if not match.group(1):
        raise ValueError("a payer id without a payer name (expected 'Name (PayerID)')")
    return match.group(1), match.group(2)


def split_name(text: str) -> tuple[str, str]:
    """A client or clinician name as ``(first, last)``: ``Doe, Jane``, ``Jane Doe``, ``Jane Q. Doe`` (first is
    ``Jane Q.``), ``Mary Ann O'Neil-Smith``. Without a comma the last word is the family name, with a
    generational suffix (``Jane Doe Jr.`` → ``Doe Jr.``).
    """
    cleaned = " ".join(text.split())
    if "," in cleaned:
        last, _, first = (part.strip() for part in cleaned.partition(","))
        if "," in first:
            raise ValueError("a name with more than one comma (expected 'Last, First' or 'First Last')")
    else:
        words = cleaned.split(" ")
        cut = len(words) - 1
        if cut > 1 and words[cut].lower().rstrip(".") in _SUFFIXES:
            cut -= 1
        first, last = " ".join(words[:cut]), " ".join(words[cut:])
    if not first or not last:
        raise ValueError("not a full name (expected 'Last, First' or 'First Last')")
    return first, last


@lru_cache(maxsize=65536)
def name_key(first: str, last: str) -> str:
    """A key to match names written differently: no case, accents or punctuation, single spaces.

    ``name_key('Jane', 'Doe')`` equals ``name_key(*split_name('DOE,  Jane'))``; ``O'Neil`` matches ``ONeil``,
    ``O'Neil-Smith`` matches ``O'Neil Smith``, ``José`` matches ``Jose``.
    """
    text = unicodedata.normalize("NFKD", f"{first} {last}")
    text = "".join(char for char in text if not unicodedata.combining(char)).casefold()
    text = re.sub(r"[.'\u2019`]", "", text)
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def parse_codes(text: str) -> tuple[str, ...]:
    """ICD-10-CM codes in order, separated by ``,``, ``;`` or spaces: upper-cased, with the dot after the
    third character added when missing (``f411`` → ``F41.1``); repeats are dropped. An empty cell is ``()``.
    """
    codes: list[str] = []
    for token in _SEPARATORS.split(text.strip().upper()):
        if not token:
            continue
        code = token if "." in token or len(token) <= 3 else f"{token[:3]}.{token[3:]}"
        if not _ICD10.fullmatch(code):
            raise ValueError(f"not an ICD-10 code{_code_shown(token)} (expected e.g. F41.1)")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def parse_units(text: str) -> Decimal:
    """Units billed: ``1``, ``1.0``, ``0.5``; an empty cell is 1. Whole numbers come back without decimals."""
    cleaned = text.strip()
    if not cleaned:
        return Decimal(1)
    try:
        units = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"not a number of units{_shown(cleaned)}") from None
    if not units.is_finite() or units <= 0:
        raise ValueError(f"not a number of units{_shown(cleaned)} (expected a positive number)")
    return units.quantize(Decimal(1)) if units == units.to_integral_value() else units.normalize()


def parse_modifiers(text: str) -> tuple[str, ...]:
    """Procedure modifiers: ``95, GT`` or ``95 GT`` → ``('95', 'GT')``; two letters or digits each, at most
    four (what a claim line holds); an empty cell is ``()``.
    """
    modifiers = tuple(token for token in _SEPARATORS.split(text.strip().upper()) if token)
    for modifier in modifiers:
        if not re.fullmatch(r"[A-Z0-9]{2}", modifier):
            raise ValueError(f"not a modifier{_code_shown(modifier)} (expected two letters or digits, e.g. 95 or GT)")
    if len(modifiers) > 4:
        raise ValueError(f"{len(modifiers)} modifiers: a claim line holds at most 4")
    return modifiers
