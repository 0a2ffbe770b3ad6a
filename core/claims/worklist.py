"""The human side of what payers send back: the denial work queue, the unmatched-remittance queue and the
posted remittances, with the actions a biller takes on them.

Posting (``claimbridge.posting``) fills the tables; everything here reads them or records a person's decision.
Every decision is written to the audit log; one that changes a claim's status goes through
:class:`~claimbridge.claims.lifecycle.StatusRecorder` (a claim event, then ``claim_status_changed``).

Queries take the :class:`~claimbridge.store.db.Store` and return plain dicts (money as ``Decimal``); actions
take the caller's session, so the caller commits and then announces the recorder's changes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from claimbridge.claims.denials import CodeLists, classify
from claimbridge.claims.intake import ReplacementOutcome, release_replacement, replace_version
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.review import Reviewer
from claimbridge.claims.states import ClaimStatus
from claimbridge.config import Settings
from claimbridge.errors import FatalError
from claimbridge.store.db import Store
from claimbridge.store.models import (
    AuditEntry,
    Claim,
    ClaimEvent,
    ClaimVersion,
    Denial,
    InboundFile,
    ProviderAdjustmentRow,
    Remittance,
    RemittanceClaim,
    RemittanceLine,
    utcnow,
)

log = logging.getLogger(__name__)

#: ``denials resolve --as`` → the resolution stored on the denial
RESOLUTIONS: dict[str, str] = {
    "appeal": "appealed",
    "write_off": "written_off",
    "bill_patient": "billed_to_patient",
    "rebill_other_payer": "rebilled_other_payer",
    "dismiss": "dismissed",
}
RESUBMITTED = "resubmitted"
#: resolutions that end the claim; the claim's other open denials are resolved with it
CLAIM_STATUS_FOR: dict[str, ClaimStatus] = {
    "write_off": ClaimStatus.WRITTEN_OFF,
    "bill_patient": ClaimStatus.BILLED_TO_PATIENT,
}
OPEN, RESOLVED = "open", "resolved"
CENT = Decimal("0.01")


# -- the denial queue -------------------------------------------------------------------------------------------


@dataclass
class DenialQueue:
    """Denials oldest first, with count and amount per category (and over all)."""

    rows: list[dict]
    totals: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"denials": self.rows, "totals": self.totals}


def list_denials(store: Store, *, status: str | None = OPEN, category: str | None = None,
                 action: str | None = None, payer: str | None = None, claim: str | None = None) -> DenialQueue:
    """The denial work queue. ``status`` is ``open``, ``resolved`` or None (all); ``payer`` matches the payer
    id exactly or part of the payer's name; ``claim`` is a PCN of any version of the claim."""
    if status not in (OPEN, RESOLVED, None):
        raise FatalError(f"denial status {status!r} is not open or resolved")
    with store.transaction() as session:
        query = _denial_query()
        if status:
            query = query.where(Denial.status == status)
        if category:
            query = query.where(Denial.category == category)
        if action:
            query = query.where(Denial.action == action)
        if payer:
            query = query.where(or_(Remittance.payer_key == payer,
                                    func.lower(Remittance.payer_name).contains(payer.lower())))
        if claim:
            pcn = claim.strip().upper()
            claim_id = session.execute(select(ClaimVersion.claim_id).where(ClaimVersion.pcn == pcn)
                                       ).scalar_one_or_none()
            query = query.where(or_(RemittanceClaim.pcn == pcn, Denial.claim_id == claim_id)
                                if claim_id is not None else RemittanceClaim.pcn == pcn)
        rows = [_denial_row(*row) for row in session.execute(query.order_by(Denial.created_at, Denial.id))]
    totals: dict[str, dict] = {}
    for row in rows:
        entry = totals.setdefault(row["category"], {"count": 0, "amount": Decimal("0.00")})
        entry["count"] += 1
        entry["amount"] += row["amount"]
    totals = dict(sorted(totals.items()))
    totals["all"] = {"count": len(rows), "amount": sum((r["amount"] for r in rows), Decimal("0.00"))}
    return DenialQueue(rows, totals)


def show_denial(store: Store, denial_id: int, *, codes: CodeLists | None = None) -> dict:
    """One denial with everything needed to work it: the claim and its amounts, the codes with their texts
    (from ``codes``, default the shipped lists), the explanation, the other denials of the same claim and the
    claim's history (status changes and the decisions in the audit log)."""
    with store.transaction() as session:
        found = session.execute(_denial_query().where(Denial.id == denial_id)).one_or_none()
        if found is None:
            raise FatalError(f"no denial #{denial_id}; `claimbridge denials list` shows the open ones")
        row = _denial_row(*found)
        denial, remitted = found[0], found[1]
        texts = classify(denial.group, denial.reason, row["remarks"], codes=codes)
        row["carc_text"] = texts.carc_text
        row["remark_texts"] = list(texts.rarc_texts)
        row["warnings"] = list(texts.warnings)
        row["claim"] = {
            "pcn": remitted.pcn, "charge": remitted.charge, "paid": remitted.paid,
            "patient_responsibility": remitted.patient_responsibility, "allowed": remitted.allowed,
            "status_code": remitted.status_code, "outcome": remitted.outcome,
            "payer_claim_number": remitted.payer_claim_number,
            "adjustments": _adjustments(remitted.adjustments), "remarks": json.loads(remitted.remarks or "[]"),
        }
        row["line"] = None
        if denial.remittance_line_id is not None:
            line = session.get(RemittanceLine, denial.remittance_line_id)
            row["line"] = _line_dict(line)
        row["other_denials"] = [
            {"id": other.id, "code": f"{other.group}-{other.reason}", "amount": other.amount,
             "category": other.category, "status": other.status, "resolution": other.resolution}
            for other in session.execute(select(Denial).where(
                Denial.remittance_claim_id == denial.remittance_claim_id, Denial.id != denial.id)
                .order_by(Denial.id)).scalars()]
        row["history"] = _history(session, row["claim_id"])
        if row["claim_id"] is not None:
            current = session.get(Claim, row["claim_id"])
            row["claim"]["current_pcn"], row["claim"]["current_status"] = current.pcn, current.status
            row["claim"]["current_version"] = current.current_version
        return row


@dataclass
class DenialResolution:
    """What resolving one denial did."""

    denial_id: int
    resolution: str
    resolved: list[int]  # this denial and the claim's other open denials resolved with it
    pcn: str
    claim_status: str | None  # the claim version's status afterwards (None: the denial matched no claim)
    replacement: ReplacementOutcome | None = None


def resolve_denial(session: Session, denial_id: int, *, resolution: str, reason: str, actor: str,
                   recorder: StatusRecorder) -> DenialResolution:
    """Record a person's decision on a denial (``resolution`` is a key of :data:`RESOLUTIONS`).

    ``appeal`` and ``rebill_other_payer`` note what was done (the claim keeps its status: the payer's answer
    comes on a later remittance); ``dismiss`` closes the denial with the reason; ``write_off`` and
    ``bill_patient`` move the claim version to ``written_off`` / ``billed_to_patient`` and resolve its other open
    denials with it. Every resolution is written to the audit log and the claim's history.
    """
    if resolution not in RESOLUTIONS:
        raise FatalError(f"resolution {resolution!r} is not one of {', '.join(RESOLUTIONS)}")
    if not reason.strip():
        raise FatalError("resolving a denial needs a written reason (--reason)")
    denial, remitted = _open_denial(session, denial_id)
    claim, version = _claim_version(session, denial, remitted)
    code = f"{denial.group}-{denial.reason}"
    new_status = CLAIM_STATUS_FOR.get(resolution)
    resolved = [denial]
    if new_status is not None:
        if claim is None:
            raise FatalError(f"denial #{denial.id} is on a remittance claim (PCN {remitted.pcn} as sent) that "
                             f"matched no claim, so there is no claim to {resolution.replace('_', ' ')}; dismiss "
                             f"it instead")
        _require_current(claim, version)
        if version.status != new_status.value:
            recorder.set_status(session, claim, version, new_status, actor=actor,
                                reason=f"denial #{denial.id} ({code}): {reason}")
        resolved += _other_open_denials(session, denial, claim.id, version.version)
    elif claim is not None:
        session.add(ClaimEvent(claim_id=claim.id, version=version.version, from_status=version.status,
                               to_status=version.status, actor=actor,
                               reason=f"denial #{denial.id} ({code}) {RESOLUTIONS[resolution]}: {reason}",
                               at=utcnow()))
    _mark_resolved(resolved, RESOLUTIONS[resolution], actor)
    also = [d.id for d in resolved[1:]]
    detail = (f"denial #{denial.id} ({code}, {denial.amount:.2f}, PCN {remitted.pcn}): "
              f"{RESOLUTIONS[resolution]}; reason: {reason}")
    if also:
        detail += f"; also resolved {', '.join(f'#{i}' for i in also)}"
    session.add(AuditEntry(actor=actor, action=f"denial_{resolution}", claim_id=claim.id if claim else None,
                           detail=detail))
    log.info("denial %s %s by %s", denial.id, RESOLUTIONS[resolution], actor)
    return DenialResolution(denial.id, RESOLUTIONS[resolution], [d.id for d in resolved], remitted.pcn,
                            version.status if version is not None else None)


def resubmit_denial(session: Session, denial_id: int, *, settings: Settings, plugins, reviewer: Reviewer,
                    recorder: StatusRecorder, actor: str, reason: str = "") -> DenialResolution:
    """Correct and resubmit: replace the denied claim version with one built from the encounter as stored now
    (fix it in the EHR first; the next sync pulls the change), frequency 7 with the payer's claim number as
    REF*F8, scrubbed like intake does (ready, or held with its findings). The denied version moves to
    ``corrected``; this denial and the version's other open denials are resolved as ``resubmitted``."""
    denial, remitted = _open_denial(session, denial_id)
    claim, version = _claim_version(session, denial, remitted)
    if claim is None:
        raise FatalError(f"denial #{denial.id} is on a remittance claim (PCN {remitted.pcn} as sent) that matched "
                         f"no claim; there is nothing to resubmit")
    code = f"{denial.group}-{denial.reason}"
    note = f"replacement for denial #{denial.id} ({code})" + (f": {reason}" if reason.strip() else "")
    outcome = replace_version(session, claim, version, settings=settings, plugins=plugins, reviewer=reviewer,
                              recorder=recorder, actor=actor, reason_ready=note,
                              payer_claim_number=remitted.payer_claim_number)
    resolved = [denial, *_other_open_denials(session, denial, claim.id, version.version)]
    _mark_resolved(resolved, RESUBMITTED, actor, replacement_version=outcome.version.version)
    result = "ready" if outcome.ready else f"held: {outcome.review.hold_reason()}"
    detail = (f"denial #{denial.id} ({code}, {denial.amount:.2f}, PCN {remitted.pcn}): resubmitted as "
              f"{outcome.version.pcn} (frequency {outcome.version.frequency}), {result}")
    if len(resolved) > 1:
        detail += f"; also resolved {', '.join(f'#{d.id}' for d in resolved[1:])}"
    if reason.strip():
        detail += f"; reason: {reason}"
    session.add(AuditEntry(actor=actor, action="denial_resubmit", claim_id=claim.id, detail=detail))
    log.info("denial %s resubmitted as %s by %s", denial.id, outcome.version.pcn, actor)
    return DenialResolution(denial.id, RESUBMITTED, [d.id for d in resolved], remitted.pcn,
                            outcome.version.status, outcome)


def release_claim(session: Session, pcn: str, *, settings: Settings, plugins, reviewer: Reviewer,
                  recorder: StatusRecorder, actor: str, reason: str) -> tuple[ReplacementOutcome, list[int]]:
    """``claimbridge claims release``: :func:`~claimbridge.claims.intake.release_replacement`, and the open
    denials of the version it replaces are resolved as ``resubmitted`` (the replacement answers them).
    Returns the outcome and the ids of the denials resolved."""
    outcome = release_replacement(session, pcn, settings=settings, plugins=plugins, reviewer=reviewer,
                                  recorder=recorder, actor=actor, reason=reason)
    answered = list(session.execute(
        select(Denial).join(RemittanceClaim, RemittanceClaim.id == Denial.remittance_claim_id)
        .where(Denial.status == OPEN, RemittanceClaim.claim_id == outcome.replaced.claim_id,
               RemittanceClaim.version == outcome.replaced.version)).scalars())
    _mark_resolved(answered, RESUBMITTED, actor, replacement_version=outcome.version.version)
    return outcome, [d.id for d in answered]


# -- remittances ----------------------------------------------------------------------------------------------------


def list_remittances(store: Store) -> list[dict]:
    """Posted remittances, newest payment first."""
    with store.transaction() as session:
        rows = session.execute(
            select(Remittance, InboundFile.name)
            .join(InboundFile, InboundFile.id == Remittance.file_id)
            .order_by(Remittance.payment_date.desc(), Remittance.id.desc())).all()
        return [_remittance_row(remittance, file_name) for remittance, file_name in rows]


def show_remittance(store: Store, remittance_id: int) -> dict:
    """One remittance: its payment, each claim with outcome, amounts, adjustments and lines, and the provider
    adjustments (PLB)."""
    with store.transaction() as session:
        found = session.execute(select(Remittance, InboundFile.name)
                                .join(InboundFile, InboundFile.id == Remittance.file_id)
                                .where(Remittance.id == remittance_id)).one_or_none()
        if found is None:
            raise FatalError(f"no remittance #{remittance_id}; `claimbridge remits list` shows them")
        remittance, file_name = found
        out = _remittance_row(remittance, file_name)
        out.update(payee_name=remittance.payee_name, payee_id=remittance.payee_id,
                   control_number=remittance.control_number, total_charge=remittance.total_charge,
                   total_paid=remittance.total_paid,
                   provider_adjustment_total=remittance.provider_adjustment_total)
        claims = session.execute(select(RemittanceClaim).where(RemittanceClaim.remittance_id == remittance_id)
                                 .order_by(RemittanceClaim.segment, RemittanceClaim.id)).scalars().all()
        lines: dict[int, list[dict]] = {}
        for line in session.execute(select(RemittanceLine).join(
                RemittanceClaim, RemittanceClaim.id == RemittanceLine.remittance_claim_id)
                .where(RemittanceClaim.remittance_id == remittance_id).order_by(RemittanceLine.id)).scalars():
            lines.setdefault(line.remittance_claim_id, []).append(_line_dict(line))
        out["claims"] = [_remittance_claim_dict(rc) | {"lines": lines.get(rc.id, [])} for rc in claims]
        out["provider_adjustments"] = [
            {"provider_id": p.provider_id, "fiscal_date": p.fiscal_date, "reason": p.reason,
             "reference": p.reference, "amount": p.amount}
            for p in session.execute(select(ProviderAdjustmentRow)
                                     .where(ProviderAdjustmentRow.remittance_id == remittance_id)
                                     .order_by(ProviderAdjustmentRow.id)).scalars()]
        return out


def unmatched_remittances(store: Store) -> list[dict]:
    """The unmatched-remittance queue: 835 claims whose PCN named no claim version, oldest first."""
    with store.transaction() as session:
        rows = session.execute(
            select(RemittanceClaim, Remittance, InboundFile.name)
            .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
            .join(InboundFile, InboundFile.id == Remittance.file_id)
            .where(RemittanceClaim.match == "unmatched")
            .order_by(Remittance.posted_at, RemittanceClaim.id)).all()
        return [_remittance_claim_dict(rc) | {
            "remittance_id": remittance.id, "payer": remittance.payer_name, "payer_key": remittance.payer_key,
            "trace_number": remittance.trace_number, "payment_date": remittance.payment_date, "file": file_name}
            for rc, remittance, file_name in rows]


def dismiss_unmatched(session: Session, remittance_claim_id: int, *, reason: str, actor: str) -> dict:
    """Take one claim off the unmatched-remittance queue with a reason (e.g. "another practice's patient; payer
    told"). Its open denials are dismissed with it. Written to the audit log."""
    if not reason.strip():
        raise FatalError("dismissing an unmatched remittance needs a written reason (--reason)")
    remitted = session.get(RemittanceClaim, remittance_claim_id)
    if remitted is None:
        raise FatalError(f"no remittance claim #{remittance_claim_id}; `claimbridge remits unmatched` lists the "
                         f"queue")
    if remitted.match != "unmatched":
        raise FatalError(f"remittance claim #{remittance_claim_id} is {remitted.match}, not in the unmatched "
                         f"queue; nothing to dismiss")
    remittance = session.get(Remittance, remitted.remittance_id)
    remitted.match = RESOLVED
    remitted.match_note = f"dismissed by {actor} at {utcnow():%Y-%m-%d %H:%M} UTC: {reason}"
    denials = list(session.execute(select(Denial).where(Denial.remittance_claim_id == remitted.id,
                                                        Denial.status == OPEN)).scalars())
    _mark_resolved(denials, RESOLUTIONS["dismiss"], actor)
    detail = (f"unmatched remittance claim #{remitted.id} (PCN {remitted.pcn} as sent; payer {remittance.payer_key} "
              f"trace {remittance.trace_number}; paid {remitted.paid:.2f}): dismissed; reason: {reason}")
    session.add(AuditEntry(actor=actor, action="remit_dismiss", claim_id=None, detail=detail))
    log.info("unmatched remittance claim %s dismissed by %s", remitted.id, actor)
    return {"id": remitted.id, "pcn": remitted.pcn, "match": remitted.match,
            "denials_dismissed": [d.id for d in denials]}


# -- helpers ----------------------------------------------------------------------------------------------------


def _denial_query():
    version = aliased(ClaimVersion)
    line = aliased(RemittanceLine)
    return (select(Denial, RemittanceClaim, Remittance, version, line)
            .join(RemittanceClaim, RemittanceClaim.id == Denial.remittance_claim_id)
            .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
            .outerjoin(version, (version.claim_id == RemittanceClaim.claim_id)
                       & (version.version == RemittanceClaim.version))
            .outerjoin(line, line.id == Denial.remittance_line_id))


def _denial_row(denial: Denial, remitted: RemittanceClaim, remittance: Remittance, version: ClaimVersion | None,
                line: RemittanceLine | None) -> dict:
    return {
        "id": denial.id, "status": denial.status, "created_at": denial.created_at,
        "category": denial.category, "action": denial.action, "group": denial.group, "reason": denial.reason,
        "code": f"{denial.group}-{denial.reason}", "remarks": denial.remarks.split(),
        "amount": denial.amount, "explanation": denial.explanation,
        "payer": remittance.payer_name, "payer_key": remittance.payer_key,
        "trace_number": remittance.trace_number, "payment_date": remittance.payment_date,
        "remittance_id": remittance.id, "remittance_claim_id": remitted.id,
        "pcn": version.pcn if version is not None else remitted.pcn,
        "claim_id": denial.claim_id if denial.claim_id is not None else remitted.claim_id,
        "version": remitted.version, "claim_status": version.status if version is not None else None,
        "payer_claim_number": remitted.payer_claim_number,
        "procedure": line.procedure if line is not None else None,
        "resolution": denial.resolution, "resolved_by": denial.resolved_by, "resolved_at": denial.resolved_at,
        "replacement_version": denial.replacement_version,
    }


def _open_denial(session: Session, denial_id: int) -> tuple[Denial, RemittanceClaim]:
    denial = session.get(Denial, denial_id)
    if denial is None:
        raise FatalError(f"no denial #{denial_id}; `claimbridge denials list` shows the open ones")
    if denial.status != OPEN:
        raise FatalError(f"denial #{denial_id} is already resolved ({denial.resolution} by {denial.resolved_by} "
                         f"on {denial.resolved_at:%Y-%m-%d})")
    return denial, session.get(RemittanceClaim, denial.remittance_claim_id)


def _claim_version(session: Session, denial: Denial, remitted: RemittanceClaim
                   ) -> tuple[Claim | None, ClaimVersion | None]:
    claim_id = denial.claim_id if denial.claim_id is not None else remitted.claim_id
    if claim_id is None:
        return None, None
    claim = session.get(Claim, claim_id)
    number = remitted.version if remitted.version is not None else claim.current_version
    version = session.execute(select(ClaimVersion).where(ClaimVersion.claim_id == claim_id,
                                                         ClaimVersion.version == number)).scalar_one()
    return claim, version


def _require_current(claim: Claim, version: ClaimVersion) -> None:
    if version.version != claim.current_version:
        raise FatalError(f"the denial is on version {version.version} ({version.pcn}) but the claim is at version "
                         f"{claim.current_version} ({claim.pcn}, {claim.status}); work that version")


def _other_open_denials(session: Session, denial: Denial, claim_id: int, version: int) -> list[Denial]:
    return list(session.execute(
        select(Denial).join(RemittanceClaim, RemittanceClaim.id == Denial.remittance_claim_id)
        .where(Denial.status == OPEN, Denial.id != denial.id, RemittanceClaim.claim_id == claim_id,
               RemittanceClaim.version == version).order_by(Denial.id)).scalars())


def _mark_resolved(denials: list[Denial], resolution: str, actor: str, *,
                   replacement_version: int | None = None) -> None:
    now = utcnow()
    for denial in denials:
        denial.status, denial.resolution, denial.resolved_by, denial.resolved_at = RESOLVED, resolution, actor, now
        if replacement_version is not None:
            denial.replacement_version = replacement_version


def _history(session: Session, claim_id: int | None) -> list[dict]:
    if claim_id is None:
        return []
    events = [{"at": e.at, "actor": e.actor, "version": e.version,
               "what": (f"{e.from_status or '—'} → {e.to_status}: {e.reason}" if e.from_status != e.to_status
                        else e.reason)}
              for e in session.execute(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id)).scalars()]
    audits = [{"at": a.at, "actor": a.actor, "version": None, "what": f"[{a.action}] {a.detail}"}
              for a in session.execute(select(AuditEntry).where(AuditEntry.claim_id == claim_id)).scalars()]
    return sorted(events + audits, key=lambda entry: entry["at"])


def _adjustments(text: str | None) -> list[dict]:
    out = []
    for adjustment in json.loads(text or "[]"):
        entry = dict(adjustment)
        if entry.get("amount") is not None:
            entry["amount"] = Decimal(str(entry["amount"]))
        out.append(entry)
    return out


def _line_dict(line: RemittanceLine) -> dict:
    return {"procedure": line.procedure, "modifiers": line.modifiers.split(),
            "charge": line.charge, "paid": line.paid, "allowed": line.allowed, "units": line.units,
            "control_number": line.control_number, "service_date": line.service_date,
            "sequence": line.sequence, "matched_by": line.matched_by,
            "adjustments": _adjustments(line.adjustments), "remarks": json.loads(line.remarks or "[]")}


def _remittance_row(remittance: Remittance, file_name: str) -> dict:
    return {"id": remittance.id, "payer": remittance.payer_name, "payer_key": remittance.payer_key,
            "trace_number": remittance.trace_number, "payment_date": remittance.payment_date,
            "amount": remittance.amount, "method": remittance.method, "claim_count": remittance.claim_count,
            "file": file_name, "posted_at": remittance.posted_at}


def _remittance_claim_dict(rc: RemittanceClaim) -> dict:
    return {"id": rc.id, "pcn": rc.pcn, "claim_id": rc.claim_id, "version": rc.version,
            "status_code": rc.status_code, "outcome": rc.outcome, "match": rc.match, "match_note": rc.match_note,
            "charge": rc.charge, "paid": rc.paid, "patient_responsibility": rc.patient_responsibility,
            "allowed": rc.allowed, "payer_claim_number": rc.payer_claim_number,
            "adjustments": _adjustments(rc.adjustments), "remarks": json.loads(rc.remarks or "[]")}
