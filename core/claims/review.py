"""Scrubbing inside the pipeline: a built claim version is checked against every rule with what the store
knows (other claims' lines, visits used, authorizations), and becomes ``ready`` or ``held`` with its findings.

Also where a biller's override of one finding is applied: recorded (override row, claim event, audit log),
then the version is scrubbed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from claimbridge.claims import build
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.scrub.base import ClaimFacts, Finding, PriorClaimLine, ScrubContext, Severity
from claimbridge.claims.scrub.facts import facts_from_claim
from claimbridge.claims.states import ClaimStatus
from claimbridge.errors import FatalError
from claimbridge.store.models import (
    AuditEntry,
    Claim,
    ClaimEvent,
    ClaimLine,
    ClaimVersion,
    EligibilityCheck,
    FindingOverride,
    utcnow,
)

ACTOR = "claimbridge/scrub"
#: claim versions whose lines count against a new claim (duplicates, one code per day, visits used)
ACTIVE = frozenset({ClaimStatus.READY, ClaimStatus.BATCHED, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED,
                    ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED})


@dataclass
class Review:
    """The outcome of scrubbing one version: what blocks it and everything that was found."""

    findings: list[Finding]
    overridden: set[str]

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.ERROR and f.rule not in self.overridden]

    def hold_reason(self) -> str:
        blocking = self.blocking
        head = f"{len(blocking)} scrub error{'s' if len(blocking) != 1 else ''}: "
        return head + "; ".join(f"{f.rule}: {f.message}" for f in blocking[:3]) + (
            f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else "")

    def to_json(self) -> str:
        return json.dumps([f.to_dict() | {"overridden": f.rule in self.overridden} for f in self.findings])


@dataclass
class Reviewer:
    """Scrubs claim versions of one pipeline pass. Lines of versions reviewed earlier in the same pass count
    like stored ones, without a flush per claim."""

    scrubber: object
    today: date
    authorizations: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    _pass_lines: dict[str, list[tuple[int, PriorClaimLine, str | None, str | None]]] = field(
        default_factory=dict)
    _stored: dict[str, list[tuple[int, PriorClaimLine, str | None, str | None]]] = field(default_factory=dict)
    _answers: dict[str, dict[tuple[str, str], list[dict]]] = field(default_factory=dict)

    def missed_appointments(self, payer_id: str | None) -> list[str]:
        """The missed appointments (``late_cancel``, ``no_show``) billed to ``payer_id``: its payer profile's
        ``bill_missed_appointments``."""
        profiles = getattr(self.scrubber, "profiles", None)
        return list(profiles.for_payer(payer_id).bill_missed_appointments) if profiles is not None else []

    def review(self, session: Session, claim: Claim, version: ClaimVersion, claim_json: dict,
               recorder: StatusRecorder, *, reason_ready: str) -> Review:
        """Scrub ``version`` (its FHIR Claim is ``claim_json``), store the findings and its lines, and move it
        to ``ready`` or ``held``."""
        facts = facts_from_claim(claim_json)
        context = self._context(session, claim.id, facts)
        result = self.scrubber.scrub(facts, context=context)
        overridden: set[str] = set()
        if version.id is not None:  # a version not flushed yet is new: nothing was overridden or stored
            with session.no_autoflush:
                overridden = set(session.execute(select(FindingOverride.rule).where(
                    FindingOverride.claim_id == claim.id, FindingOverride.version == version.version)).scalars())
        review = Review(findings=list(result.findings), overridden=overridden)
        version.findings = review.to_json()
        self._store_lines(session, claim, version, facts)
        if review.blocking:
            reason = review.hold_reason()
            version.hold_reason = reason
            recorder.set_status(session, claim, version, ClaimStatus.HELD, actor=ACTOR, reason=reason)
        else:
            version.hold_reason = None
            warnings = sum(1 for f in review.findings if f.severity == Severity.WARNING)
            note = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
            if version.status != ClaimStatus.READY.value:
                recorder.set_status(session, claim, version, ClaimStatus.READY, actor=ACTOR,
                                    reason=reason_ready + note)
        return review

    def _context(self, session: Session, claim_id: int, facts: ClaimFacts) -> ScrubContext:
        context = ScrubContext(today=self.today)
        key = facts.patient_key
        if not key:
            return context
        this_pass = [entry for entry in self._pass_lines.get(key, []) if entry[0] != claim_id]
        fresh = {entry[0] for entry in self._pass_lines.get(key, [])}  # claims whose lines this pass rewrote
        lines = this_pass + [entry for entry in self._stored_lines(session, key)
                             if entry[0] != claim_id and entry[0] not in fresh]
        context.prior_lines = [prior for _c, prior, _p, _a in lines]
        dates: dict[tuple[str, str, str], set[date]] = {}
        for _c, prior, payer, auth in lines:
            dates.setdefault((key, payer or "", auth or ""), set()).add(prior.service_date)
        context.visits_used = {k: len(v) for k, v in dates.items()}
        context.authorizations = {k: v for k, v in self.authorizations.items() if k[0] == key}
        context.eligibility = self._eligibility(session, key)
        return context

    def _eligibility(self, session: Session, key: str) -> dict[tuple[str, str], list[dict]]:
        """The eligibility answers about the patient, read once per pass."""
        cached = self._answers.get(key)
        if cached is None:
            cached = {}
            with session.no_autoflush:
                rows = session.execute(select(
                    EligibilityCheck.id, EligibilityCheck.payer_id, EligibilityCheck.service_date,
                    EligibilityCheck.coverage_status, EligibilityCheck.summary, EligibilityCheck.answered_at)
                    .where(EligibilityCheck.patient_key == key, EligibilityCheck.status == "answered")).all()
            for check_id, payer, day, status, summary, answered in rows:
                active = json.loads(summary).get("active_on_service_date") if summary else None
                cached.setdefault((key, payer), []).append({"service_date": day, "active": active,
                                                            "coverage_status": status, "answered_at": answered,
                                                            "check": check_id})
            self._answers[key] = cached
        return cached

    def _stored_lines(self, session: Session, key: str) -> list[tuple[int, PriorClaimLine, str | None, str | None]]:
        """Lines of active claim versions stored before this pass, per patient, read once per pass."""
        cached = self._stored.get(key)
        if cached is None:
            with session.no_autoflush:
                rows = session.execute(
                    select(ClaimLine.claim_id, ClaimLine.pcn, ClaimLine.rendering_npi, ClaimLine.code,
                           ClaimLine.service_date, ClaimLine.payer_id, ClaimLine.authorization,
                           ClaimVersion.status)
                    .join(ClaimVersion, ClaimVersion.id == ClaimLine.version_id)
                    .join(Claim, (Claim.id == ClaimLine.claim_id) & (Claim.current_version == ClaimVersion.version))
                    .where(ClaimLine.patient_key == key)).all()
            cached = self._stored[key] = [
                (claim_id, PriorClaimLine(pcn=pcn, patient_key=key, rendering_npi=npi, code=code,
                                          service_date=day), payer, auth)
                for claim_id, pcn, npi, code, day, payer, auth, status in rows if status in ACTIVE]
        return cached

    def _store_lines(self, session: Session, claim: Claim, version: ClaimVersion, facts: ClaimFacts) -> None:
        if version.id is not None:
            with session.no_autoflush:
                session.execute(delete(ClaimLine).where(ClaimLine.version_id == version.id))
        auth = facts.prior_authorizations[0] if facts.prior_authorizations else None
        npi = facts.rendering.npi if facts.rendering else None
        dates = [line.service_date for line in facts.lines if line.service_date]
        claim.payer_id, claim.rendering_npi, claim.patient_key = facts.payer_id, npi, facts.patient_key
        claim.service_date = min(dates) if dates else None
        # the dashboard's charge (migration 0008); rounded to the cent like the SQL backfill
        charge = None if facts.total is None else facts.total.quantize(Decimal("0.01"), ROUND_HALF_UP)
        # a total no 837 amount element can hold (18 digits) fails the 837's validation; the store keeps no
        # charge for it rather than overflow a 64-bit column
        claim.charge = charge if charge is not None and abs(charge) < MAX_CHARGE else None
        entries = self._pass_lines.setdefault(facts.patient_key or "", [])
        entries[:] = [e for e in entries if e[0] != claim.id]
        for line in facts.lines:
            if not (line.code and line.service_date and facts.patient_key):
                continue
            session.add(ClaimLine(version=version, claim_id=claim.id, pcn=version.pcn,
                                  patient_key=facts.patient_key, payer_id=facts.payer_id, rendering_npi=npi,
                                  code=line.code, service_date=line.service_date, authorization=auth))
            entries.append((claim.id, PriorClaimLine(pcn=version.pcn, patient_key=facts.patient_key,
                                                     rendering_npi=npi, code=line.code,
                                                     service_date=line.service_date),
                            facts.payer_id, auth))


#: the largest charge the 837P carries (CLM02/SV102: 18 digits with the cents), within a 64-bit count of cents
MAX_CHARGE = Decimal("1e16")


def authorizations_by_patient(settings) -> dict[tuple[str, str], list[dict]]:
    """Configured authorizations keyed the way ``ScrubContext.authorizations`` wants them."""
    from claimbridge.claims.scrub.facts import patient_key

    out: dict[tuple[str, str], list[dict]] = {}
    for auth in settings.claims.authorizations:
        key = patient_key(auth.member_id, auth.birth_date)
        out.setdefault((key, auth.payer_id), []).append(
            {"number": auth.number, "codes": list(auth.codes), "start": auth.start, "end": auth.end,
             "visits": auth.visits})
    return out


def override_finding(session: Session, reviewer: Reviewer, pcn: str, rule: str, *, reason: str, actor: str,
                     recorder: StatusRecorder) -> Review:
    """Let ``rule``'s finding on the claim version ``pcn`` pass, for ``reason``; then scrub it again."""
    if not reason.strip():
        raise FatalError("an override needs a written reason (--reason)")
    version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn.upper())).scalar_one_or_none()
    if version is None:
        raise FatalError(f"no claim version with PCN {pcn}; `claimbridge claims held` lists the held ones")
    claim = session.get(Claim, version.claim_id)
    if version.version != claim.current_version or version.status not in (ClaimStatus.HELD, ClaimStatus.READY):
        raise FatalError(f"claim {version.pcn} is {version.status}; only a held or ready current version can be "
                         f"overridden")
    if version.fhir is None:
        raise FatalError(f"claim {version.pcn} could not be built ({version.hold_reason}); fix it in the EHR")
    found = {f["rule"] for f in json.loads(version.findings or "[]")}
    if rule not in found:
        raise FatalError(f"claim {version.pcn} has no finding of rule {rule}; it has: "
                         f"{', '.join(sorted(found)) or 'none'}")
    earlier = session.execute(select(FindingOverride).where(
        FindingOverride.claim_id == claim.id, FindingOverride.version == version.version,
        FindingOverride.rule == rule)).scalar_one_or_none()
    if earlier is not None:
        raise FatalError(f"{rule} on claim {version.pcn} was already overridden by {earlier.actor}: {earlier.reason}")
    session.add(FindingOverride(claim_id=claim.id, version=version.version, rule=rule, reason=reason, actor=actor))
    note = f"override of {rule}: {reason}"
    session.add(ClaimEvent(claim_id=claim.id, version=version.version, from_status=version.status,
                           to_status=version.status, actor=actor, reason=note, at=utcnow()))
    session.add(AuditEntry(actor=actor, action="override", claim_id=claim.id, detail=f"{version.pcn}: {note}"))
    session.flush()
    return reviewer.review(session, claim, version, build.claim_from_json(version.fhir), recorder,
                           reason_ready=f"released after the override of {rule}")
