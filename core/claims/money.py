"""Money as :class:`decimal.Decimal`, and JSON that keeps Decimals exact both ways.

In JSON a Decimal is written as a plain number with exactly its digits (``140.00``, never ``140.0`` or
``1.4E+2``); reading back with :func:`claim_from_json` gives Decimals again (``parse_float=Decimal``).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

CENT = Decimal("0.01")
USD = "USD"

# A Decimal is first written as this marker string, then the quotes and marker are removed. NUL is escaped
# by json.dumps, so no string from the data can produce the escaped marker by accident unless it holds it.
_MARK = "\x00dec:"
_MARKED = re.compile(r'"\\u0000dec:(-?[0-9.]+)"')


def to_decimal(value: Any) -> Decimal:
    """``value`` (Decimal, int, str or float as parsed from JSON) as a Decimal; floats through ``str``.

    Raises ``ValueError`` for anything that is not a finite number.
    """
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    elif isinstance(value, int | str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        raise ValueError(f"{value!r} is not a number")
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def money(value: Any) -> Decimal:
    """``value`` as a Decimal rounded to cents (half-even, like the decimal module's default)."""
    return to_decimal(value).quantize(CENT)


def _encode_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        text = format(value, "f")
        return _MARK + text
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_ENCODER = json.JSONEncoder(default=_encode_decimal, ensure_ascii=False, check_circular=False)


def _fragment(value: Any) -> orjson.Fragment:
    """orjson's hook for a Decimal: the number written verbatim, every digit kept."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written as JSON")
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def claim_to_json(claim: dict, *, indent: int | None = None, compact: bool = False) -> str:
    """A Claim (or any JSON-able dict holding Decimals) as JSON text; Decimals keep every digit. ``compact``
    leaves out the spaces after separators and uses orjson (what posting stores: smaller, several times
    quicker); the output is otherwise the same."""
    if compact and indent is None:
        return orjson.dumps(claim, default=_fragment).decode()
    if indent is None:
        text = _ENCODER.encode(claim)
    else:
        text = json.dumps(claim, default=_encode_decimal, ensure_ascii=False, indent=indent)
    return _unmark(text)


_OPEN = '"\\u0000dec:'


def _unmark(text: str) -> str:
    """Turn each ``"\u0000dec:123.45"`` the encoder wrote back into the bare number ``123.45`` (string
    operations: several times quicker than a regular-expression substitution with a template)."""
    parts = text.split(_OPEN)
    if len(parts) == 1:
        return text
    out = [parts[0]]
    for part in parts[1:]:
        end = part.index('"')
        out.append(part[:end])
        out.append(part[end + 1:])
    return "".join(out)


def claim_from_json(text: str | bytes) -> dict:
    """The inverse of :func:`claim_to_json`: numbers with a fraction become Decimals."""
    return json.loads(text, parse_float=Decimal)
