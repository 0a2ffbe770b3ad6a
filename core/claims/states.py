"""The claim lifecycle: statuses, the transitions allowed between them, and the event a change produces."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from claimbridge.errors import InvalidTransition


class ClaimStatus(enum.StrEnum):
    DRAFT = "draft"
    HELD = "held"
    READY = "ready"
    BATCHED = "batched"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    ACCEPTED = "accepted"
    PAID = "paid"
    PARTIALLY_PAID = "partially_paid"
    DENIED = "denied"
    REVERSED = "reversed"
    CORRECTED = "corrected"
    WRITTEN_OFF = "written_off"
    BILLED_TO_PATIENT = "billed_to_patient"
    VOIDED = "voided"


S = ClaimStatus

#: status → statuses it may move to
TRANSITIONS: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.DRAFT: frozenset({S.HELD, S.READY}),
    S.HELD: frozenset({S.READY, S.HELD, S.VOIDED}),
    # a released replacement whose encounter changes again goes back to held for review
    S.READY: frozenset({S.BATCHED, S.HELD, S.VOIDED}),
    # a batch whose file failed validation releases its claims back to held
    S.BATCHED: frozenset({S.SUBMITTED, S.HELD, S.READY}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.PAID, S.PARTIALLY_PAID, S.DENIED, S.REJECTED}),
    # a paid claim the EHR corrected afterwards is replaced (frequency 7) once a biller releases the replacement
    S.PAID: frozenset({S.REVERSED, S.CORRECTED}),
    # a partially paid claim with a denied line is corrected and resubmitted like a denied one
    S.PARTIALLY_PAID: frozenset({S.REVERSED, S.PAID, S.BILLED_TO_PATIENT, S.WRITTEN_OFF, S.CORRECTED}),
    # an appealed denial comes back paid on a later 835, or reversed (CLP02 22) and paid again
    S.DENIED: frozenset({S.CORRECTED, S.WRITTEN_OFF, S.BILLED_TO_PATIENT, S.PAID, S.PARTIALLY_PAID,
                         S.REVERSED}),
    S.REJECTED: frozenset({S.CORRECTED, S.WRITTEN_OFF, S.BILLED_TO_PATIENT}),
    # a payer that reprocesses a claim reverses the first adjudication (CLP02 22) and adjudicates it again
    S.REVERSED: frozenset({S.CORRECTED, S.WRITTEN_OFF, S.PAID, S.PARTIALLY_PAID, S.DENIED}),
    # a payer that processes a replacement takes back what it paid on the version it replaces
    S.CORRECTED: frozenset({S.REVERSED}),
    S.WRITTEN_OFF: frozenset(),
    S.BILLED_TO_PATIENT: frozenset(),
    S.VOIDED: frozenset(),
}


def check_transition(old: ClaimStatus | None, new: ClaimStatus) -> None:
    """Raise :class:`InvalidTransition` unless ``old`` → ``new`` is allowed (``None``: a new claim)."""
    if old is None:
        if new not in (S.DRAFT, S.HELD, S.READY):
            raise InvalidTransition(f"a new claim cannot start as {new}")
        return
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (final)"
        raise InvalidTransition(f"claim cannot move from {old} to {new}; from {old} it may go to {allowed}")


@dataclass(frozen=True)
class StatusChange:
    """What ``claim_status_changed`` receives. No PHI: the PCN identifies the claim."""

    claim_id: int
    pcn: str
    version: int
    old: ClaimStatus | None
    new: ClaimStatus
    actor: str
    reason: str
    at: datetime
