"""The 270/271 code lists in words, read from the CSV files in ``codes/`` beside this module.

The lists (EB01 eligibility or benefit codes, EB02 coverage levels, service type codes, AAA reject reasons and
follow-up actions, EB06 time periods, EB09 quantity qualifiers, EB04 insurance types, NM101 entity codes)
change with the X12 external code lists, so they are data (``code,description``), like the CARC/RARC lists in
``claimbridge/claims/codes``. A code missing from a list reads as ``"unknown service type code ZZ"`` rather
than being dropped.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

__all__ = [
    "CODES_DIR", "COVERAGE_LEVELS", "ELIGIBILITY_BENEFITS", "ENTITIES", "FOLLOW_UP_ACTIONS", "INSURANCE_TYPES",
    "QUANTITY_QUALIFIERS", "REJECTION_REASONS", "SERVICE_TYPES", "TIME_PERIODS", "code_table", "words",
]

#: where the shipped lists live
CODES_DIR = Path(__file__).resolve().parent / "codes"

ELIGIBILITY_BENEFITS = "eligibility_benefit.csv"
COVERAGE_LEVELS = "coverage_level.csv"
SERVICE_TYPES = "service_type.csv"
REJECTION_REASONS = "request_rejection.csv"
FOLLOW_UP_ACTIONS = "follow_up_action.csv"
TIME_PERIODS = "time_period.csv"
QUANTITY_QUALIFIERS = "quantity_qualifier.csv"
INSURANCE_TYPES = "insurance_type.csv"
ENTITIES = "entity.csv"

_WHAT = {
    ELIGIBILITY_BENEFITS: "eligibility or benefit code",
    COVERAGE_LEVELS: "coverage level code",
    SERVICE_TYPES: "service type code",
    REJECTION_REASONS: "reject reason code",
    FOLLOW_UP_ACTIONS: "follow-up action code",
    TIME_PERIODS: "time period qualifier",
    QUANTITY_QUALIFIERS: "quantity qualifier",
    INSURANCE_TYPES: "insurance type code",
    ENTITIES: "entity identifier code",
}


@functools.cache
def code_table(name: str) -> dict[str, str]:
    """The list ``name`` (one of the module constants) as code → description."""
    with (CODES_DIR / name).open(encoding="utf-8", newline="") as handle:
        return {row["code"].strip(): row["description"].strip() for row in csv.DictReader(handle)}


def words(name: str, code: str | None) -> str | None:
    """``code`` in words from list ``name``; ``"unknown <what> <code>"`` when the list lacks it; None for no
    code."""
    if not code:
        return None
    return code_table(name).get(code) or f"unknown {_WHAT.get(name, 'code')} {code}"
