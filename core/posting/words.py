"""Acknowledgment and status codes in words a biller can act on.

The 277CA status and entity code texts live in ``claimbridge/claims/codes/claim_status.csv`` and
``entity.csv`` (code,description), like the CARC/RARC lists: the lists change, so they are data, and a code
not in them is shown as ``status code 999 (not in claim_status.csv)`` rather than dropped.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

from claimbridge.claims.denials import SHIPPED_CODES_DIR
from claimbridge.x12.responses import Ack999, AcknowledgedSet, SegmentError, StatusCode, TA1Ack

__all__ = ["ack_set_words", "entity_text", "segment_error_words", "status_code_words", "status_text",
           "ta1_words"]


@functools.cache
def _table(name: str) -> dict[str, str]:
    path = Path(SHIPPED_CODES_DIR) / name
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["code"].strip(): row["description"].strip() for row in csv.DictReader(handle)}


def status_text(code: str) -> str:
    return _table("claim_status.csv").get(code) or f"status code {code} (not in claim_status.csv)"


def entity_text(code: str) -> str:
    return _table("entity.csv").get(code) or f"entity {code}"


def status_code_words(code: StatusCode) -> str:
    """``A7 rejected for invalid information: Entity's National Provider Identifier (NPI) — billing
    provider``."""
    words = f"{code.category} {code.category_meaning or 'unknown category'}"
    if code.status:
        words += f": {status_text(code.status)}"
    if code.entity:
        words += f" — {entity_text(code.entity)}"
    return words


def segment_error_words(error: SegmentError) -> str:
    """``segment NM1 #12 (loop 2010AA): required segment missing; NM109 (element 9): invalid value``."""
    where = f"segment {error.segment_id}"
    if error.position:
        where += f" #{error.position}"
    if error.loop:
        where += f" (loop {error.loop})"
    if error.claim_id:
        where += f", claim {error.claim_id}"
    parts = [f"{where}: {error.meaning}" if error.code else where]
    for element in error.elements:
        ref = f"{error.segment_id}{element.position:02d}" if element.position else "an element"
        if element.component:
            ref += f"-{element.component}"
        parts.append(f"{ref}: {element.meaning}")
    return "; ".join(parts)


def ack_set_words(answer: AcknowledgedSet) -> str:
    head = f"transaction set {answer.control_number} {answer.status_meaning or 'no status'}"
    details = [segment_error_words(e) for e in answer.segment_errors]
    details += [f"set error {code}" for code in answer.syntax_errors]
    return head + (": " + " | ".join(details) if details else "")


def group_words(ack: Ack999) -> str:
    status = ack.group_status
    if status is None:
        return f"group {ack.group_control_number}: no AK9"
    counts = f"{status.accepted or 0} of {status.included or 0} sets accepted"
    return f"group {ack.group_control_number} {status.meaning} ({counts})"


def ta1_words(ack: TA1Ack) -> str:
    words = f"interchange {ack.control_number} {ack.code_meaning}"
    if ack.note_code and ack.note_code != "000":
        words += f": {ack.note}"
    return words
