"""The one place that makes the identifiers a claim carries out of the system.

* **Patient control number** (CLM01, returned in 277CA TRN02 and 835 CLP01): ``<prefix><claim id><version>``
  — the configured prefix (0–3 characters), the claim's database id in base 36 zero-padded to at least 8
  characters, the version in base 36 as exactly 2 characters. Only A–Z and 0–9, at most 17 characters
  (some payers cut CLM01 at 17), and, for a given prefix, one PCN per (claim id, version) and back.
* **Line item control number** (REF*6R, returned in 277CA REF*FJ and the 835 service loop): the PCN followed by
  the item sequence as 3 digits, so it is unique within the claim and, with the PCN, across claims.
"""

from __future__ import annotations

import re

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_PREFIX = re.compile(r"^[A-Z0-9]{0,3}$")
_PCN = re.compile(r"^[A-Z0-9]{1,17}$")

PCN_MAX_LENGTH = 17
LINE_CONTROL_MAX_LENGTH = 30
CLAIM_ID_MIN_WIDTH = 8
VERSION_WIDTH = 2
MAX_VERSION = 36 ** VERSION_WIDTH - 1
MAX_LINE_SEQUENCE = 999


def _base36(number: int) -> str:
    if number == 0:
        return "0"
    out = []
    while number:
        number, rest = divmod(number, 36)
        out.append(_DIGITS[rest])
    return "".join(reversed(out))


def make_pcn(prefix: str, claim_id: int, version: int) -> str:
    """The patient control number of version ``version`` of claim ``claim_id``.

    Deterministic: the same arguments always give the same PCN, so a rebuilt version keeps its number.
    Raises ``ValueError`` for a prefix outside ``[A-Z0-9]{0,3}``, a negative claim id, a version outside
    1…1295, or a claim id too large for 17 characters.
    """
    if not _PREFIX.match(prefix):
        raise ValueError(f"PCN prefix {prefix!r} must be 0-3 characters A-Z or 0-9")
    if claim_id < 0:
        raise ValueError(f"claim id {claim_id} must not be negative")
    if not 1 <= version <= MAX_VERSION:
        raise ValueError(f"claim version {version} must be between 1 and {MAX_VERSION}")
    body = _base36(claim_id).rjust(CLAIM_ID_MIN_WIDTH, "0")
    pcn = f"{prefix}{body}{_base36(version).rjust(VERSION_WIDTH, '0')}"
    if len(pcn) > PCN_MAX_LENGTH:
        raise ValueError(f"claim id {claim_id} is too large for a {PCN_MAX_LENGTH}-character PCN")
    return pcn


def parse_pcn(prefix: str, pcn: str) -> tuple[int, int] | None:
    """``(claim id, version)`` of a PCN made by :func:`make_pcn` with ``prefix``; None when it is not one.

    Responses (277CA, 835) echo the PCN; this finds the claim version without a lookup table.
    """
    pcn = pcn.strip().upper()
    if not pcn.startswith(prefix) or not _PCN.match(pcn):
        return None
    body = pcn[len(prefix):]
    if len(body) < CLAIM_ID_MIN_WIDTH + VERSION_WIDTH:
        return None
    claim_id, version = int(body[:-VERSION_WIDTH], 36), int(body[-VERSION_WIDTH:], 36)
    if version < 1 or make_pcn(prefix, claim_id, version) != pcn:
        return None
    return claim_id, version


def line_control_number(pcn: str, sequence: int) -> str:
    """The line item control number (REF*6R) of item ``sequence`` (1…999) of the claim numbered ``pcn``."""
    if not _PCN.match(pcn):
        raise ValueError(f"PCN {pcn!r} must be 1-17 characters A-Z or 0-9")
    if not 1 <= sequence <= MAX_LINE_SEQUENCE:
        raise ValueError(f"item sequence {sequence} must be between 1 and {MAX_LINE_SEQUENCE}")
    return f"{pcn}{sequence:03d}"
