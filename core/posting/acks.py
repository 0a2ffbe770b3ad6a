"""Posting TA1, 999 and 277CA: the batch and its claims become accepted or rejected, in words.

* TA1 (TA101 = our ISA13): the interchange. ``R`` rejects every claim of the batch still waiting for an
  answer; ``A``/``E`` are recorded on the batch.
* 999 (AK102 = our GS06, AK202 = our ST02): each transaction set. A rejected set (IK501 R, M, W, X) rejects
  its claims with the segment and element errors in words; an accepted one (A, E) marks them accepted (the
  payer's 277CA may still reject them one by one).
* 277CA (2200D TRN02 = our PCN): each claim. A2/A5 accept it into adjudication and store the payer claim
  number (REF*1K); A3, A4, A6–A8 reject it with category, status and entity explained; others are recorded.

A status change the lifecycle does not allow (an acknowledgment arriving after the 835 already paid the
claim) is not forced: the acknowledgment is recorded and the claim keeps its status.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.states import TRANSITIONS, ClaimStatus
from claimbridge.eligibility.service import fail_batch
from claimbridge.posting.words import ack_set_words, group_words, status_code_words, ta1_words
from claimbridge.store.models import Acknowledgment, Batch, Claim, ClaimVersion, utcnow
from claimbridge.x12.responses import Ack999, StatusReport, TA1Ack

__all__ = ["move", "post_277ca", "post_999", "post_ta1"]

ACTOR = "claimbridge/responses"
_SET_OUTCOME = {"A": "accepted", "E": "accepted_with_errors", "P": "partially_accepted"}
#: claims a rejection of their batch still applies to
_WAITING = {ClaimStatus.SUBMITTED.value, ClaimStatus.BATCHED.value}


def move(session: Session, recorder: StatusRecorder, claim: Claim, version: ClaimVersion, new: ClaimStatus,
         reason: str) -> bool:
    """Change ``version``'s status to ``new`` when the lifecycle allows it; False when it stays.

    A claim still ``batched`` is first marked ``submitted``: an answer about it proves its file arrived (the
    answer can be posted between the upload and the sender's bookkeeping, which then leaves it alone)."""
    if version.status == ClaimStatus.BATCHED and new != ClaimStatus.BATCHED:
        recorder.set_status(session, claim, version, ClaimStatus.SUBMITTED, actor=ACTOR,
                            reason="delivered: the clearinghouse answered about it")
    old = ClaimStatus(version.status)
    if old == new or new not in TRANSITIONS[old]:
        return False
    recorder.set_status(session, claim, version, new, actor=ACTOR, reason=reason)
    return True


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _batch(session: Session, **where) -> Batch | None:
    query = select(Batch).filter_by(**where).order_by(Batch.id.desc()).limit(1)
    return session.execute(query).scalar_one_or_none()


def _versions(session: Session, batch: Batch) -> list[ClaimVersion]:
    return list(session.execute(select(ClaimVersion).where(ClaimVersion.batch_id == batch.id)
                                .order_by(ClaimVersion.id)).scalars())


def post_ta1(session: Session, file_id: int, ack: TA1Ack, recorder: StatusRecorder) -> dict:
    words = ta1_words(ack)
    number = _int(ack.control_number)
    batch = _batch(session, isa13=number) if number is not None else None
    outcome = {"A": "accepted", "E": "accepted_with_errors"}.get(ack.code, "rejected")
    session.add(Acknowledgment(file_id=file_id, kind="TA1", batch_id=batch.id if batch else None,
                               reference=ack.control_number, outcome=outcome,
                               codes=" ".join(c for c in (ack.code, ack.note_code) if c), detail=words,
                               matched=batch is not None))
    counts = {"acknowledgments": 1, "unmatched_acknowledgments": int(batch is None), "claims_rejected": 0}
    if batch is None:
        return counts
    _record_on_batch(batch, outcome, words)
    if outcome == "rejected" and batch.kind == "270":
        counts["inquiries_failed"] = fail_batch(session, batch, f"TA1: {words}")
    elif outcome == "rejected":  # an accepted interchange says nothing yet about its claims
        counts["claims_rejected"] = _answer_claims(session, recorder, batch, outcome, f"TA1: {words}")[
            "claims_rejected"]
    return counts


def post_999(session: Session, file_id: int, ack: Ack999, recorder: StatusRecorder) -> dict:
    counts = {"acknowledgments": 0, "unmatched_acknowledgments": 0, "claims_accepted": 0, "claims_rejected": 0}
    group = _int(ack.group_control_number)
    answers = []  # (batch, what it answers, status code, words)
    for answer in ack.sets:
        batch = None
        if group is not None:
            batch = _batch(session, gs06=group, st02=_int(answer.control_number)) or _batch(session, gs06=group)
        answers.append((batch, f"{ack.group_control_number}/{answer.control_number}", answer.status,
                        f"{group_words(ack)}; {ack_set_words(answer)}"))
    if not ack.sets:  # an AK9 alone answers the whole group
        answers.append((_batch(session, gs06=group) if group is not None else None, ack.group_control_number,
                        ack.group_status.code if ack.group_status else "", group_words(ack)))
    for batch, reference, status, words in answers:
        outcome = _SET_OUTCOME.get(status, "rejected")
        session.add(Acknowledgment(file_id=file_id, kind=ack.type, batch_id=batch.id if batch else None,
                                   reference=reference, outcome=outcome, codes=status or None, detail=words,
                                   matched=batch is not None))
        counts["acknowledgments"] += 1
        if batch is None:
            counts["unmatched_acknowledgments"] += 1
            continue
        _record_on_batch(batch, outcome, words)
        if batch.kind == "270":  # eligibility questions: a rejection fails them; acceptance waits for the 271
            if outcome == "rejected":
                counts["inquiries_failed"] = counts.get("inquiries_failed", 0) + fail_batch(
                    session, batch, f"{ack.type}: {words}")
            continue
        for key, value in _answer_claims(session, recorder, batch, outcome, f"{ack.type}: {words}").items():
            counts[key] += value
    return counts


def _answer_claims(session: Session, recorder: StatusRecorder, batch: Batch, outcome: str, words: str
                   ) -> dict[str, int]:
    """The claims of an acknowledged set follow it: accepted (A, E; the payer's 277CA may still reject them)
    or rejected (R, M, W, X). A partially accepted group (P) answers per set, so its claims wait."""
    counts = {"claims_accepted": 0, "claims_rejected": 0}
    target = {"accepted": ClaimStatus.ACCEPTED, "accepted_with_errors": ClaimStatus.ACCEPTED,
              "rejected": ClaimStatus.REJECTED}.get(outcome)
    if target is None:
        return counts
    key = "claims_rejected" if target == ClaimStatus.REJECTED else "claims_accepted"
    for version in _versions(session, batch):
        if version.status in _WAITING and move(session, recorder, version.claim, version, target, words):
            counts[key] += 1
    return counts


def _record_on_batch(batch: Batch, outcome: str, words: str) -> None:
    # a rejection is never overwritten by a later acceptance of something else in the same batch
    if batch.ack_status != "rejected" or outcome == "rejected":
        batch.ack_status = outcome
    batch.ack_detail = words if not batch.ack_detail else f"{batch.ack_detail}\n{words}"
    batch.acked_at = utcnow()


def post_277ca(session: Session, file_id: int, report: StatusReport, recorder: StatusRecorder) -> dict:
    counts = {"acknowledgments": 0, "unmatched_acknowledgments": 0, "claims_accepted": 0,
              "claims_rejected": 0}
    pcns = {(c.patient_control_number or c.trace_number).strip().upper() for c in report.claims}
    versions = {v.pcn: v for v in session.execute(
        select(ClaimVersion).where(ClaimVersion.pcn.in_(pcns))).scalars()} if pcns else {}
    for status in report.claims:
        pcn = (status.patient_control_number or status.trace_number).strip().upper()
        version = versions.get(pcn)
        codes = [code for s in status.statuses for code in s.codes]
        words = "; ".join(status_code_words(code) for code in codes) or "no status codes"
        messages = [s.message for s in status.statuses if s.message]
        if messages:
            words += " (" + "; ".join(messages) + ")"
        for line in status.lines:
            line_codes = [code for s in line.statuses for code in s.codes]
            if any(code.outcome == "rejected" for code in line_codes):
                label = line.control_number or line.procedure or "a line"
                words += f"; line {label}: " + "; ".join(status_code_words(code) for code in line_codes)
        outcomes = {code.outcome for code in codes}
        # A1 (received) then A2 (accepted) in one claim: the furthest step counts; any rejection wins
        outcome = next((o for o in ("rejected", "accepted") if o in outcomes), status.outcome)
        counts["acknowledgments"] += 1
        session.add(Acknowledgment(
            file_id=file_id, kind=report.type, claim_id=version.claim_id if version else None,
            version=version.version if version else None, batch_id=version.batch_id if version else None,
            reference=pcn, outcome=outcome, detail=words,
            codes=" ".join(":".join(p for p in (c.category, c.status, c.entity) if p) for c in codes)[:200] or None,
            payer_claim_number=status.payer_claim_control_number, matched=version is not None))
        if version is None:
            counts["unmatched_acknowledgments"] += 1
            continue
        if status.payer_claim_control_number and outcome != "rejected":
            version.payer_claim_number = status.payer_claim_control_number
        claim = version.claim
        if outcome == "rejected":
            if move(session, recorder, claim, version, ClaimStatus.REJECTED, f"277CA: {words}"):
                counts["claims_rejected"] += 1
        elif outcome == "accepted" and move(session, recorder, claim, version, ClaimStatus.ACCEPTED,
                                            f"277CA: {words}"):
            counts["claims_accepted"] += 1
    return counts
