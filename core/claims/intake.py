"""Turns stored encounters into claim versions: new encounters become claims, changed ones are rebuilt while
nothing has left, or get a replacement version held for review once something has.

A replacement is frequency 7 with the payer's claim number of the version it replaces (REF*F8); a version the
payer rejected before adjudicating it is replaced by a new original (frequency 1). A person releases a held
replacement (:func:`release_replacement`), which builds it again from the encounter as stored and scrubs it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from claimbridge.claims import build
from claimbridge.claims.identifiers import make_pcn
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.review import Review, Reviewer, authorizations_by_patient
from claimbridge.claims.scrub.engine import create_scrubber
from claimbridge.claims.states import TRANSITIONS, ClaimStatus
from claimbridge.config import Settings
from claimbridge.errors import FatalError, NotBillable, RecordError
from claimbridge.store.db import Store
from claimbridge.store.models import (
    Acknowledgment,
    AuditEntry,
    Claim,
    ClaimEvent,
    ClaimVersion,
    RemittanceClaim,
    StoredEncounter,
    utcnow,
)

log = logging.getLogger(__name__)

ACTOR = "claimbridge/build"
#: a version in one of these statuses has not left: it may be rebuilt in place
UNSENT = {ClaimStatus.DRAFT.value, ClaimStatus.HELD.value, ClaimStatus.READY.value}
CHUNK = 200


@dataclass
class HeldClaim:
    pcn: str
    encounter: str
    reason: str


@dataclass
class IntakeResult:
    built: int = 0
    rebuilt: int = 0
    replacements: int = 0
    #: encounters not billed (missed appointments the payer profile does not bill): no claim made
    not_billable: int = 0
    held: list[HeldClaim] = field(default_factory=list)


def build_pending_claims(store: Store, settings: Settings, plugins, *, today: date | None = None,
                         reviewer: Reviewer | None = None) -> IntakeResult:
    """Build a claim version for every encounter that has none, or whose payload changed since its build,
    and scrub it (``reviewer``; by default one with the built-in rules, plugin rules and shipped profiles)."""
    result = IntakeResult()
    today = today or utcnow().date()
    reviewer = reviewer or Reviewer(create_scrubber(plugins), today, authorizations_by_patient(settings))
    while True:
        recorder = StatusRecorder()
        with store.transaction() as session:
            pending = session.execute(
                select(StoredEncounter, Claim)
                .outerjoin(Claim, Claim.encounter_id == StoredEncounter.id)
                .outerjoin(ClaimVersion, (ClaimVersion.claim_id == Claim.id)
                           & (ClaimVersion.version == Claim.current_version))
                .where((Claim.id.is_(None) & (StoredEncounter.not_billable_sha256.is_(None)
                                              | (StoredEncounter.not_billable_sha256
                                                 != StoredEncounter.payload_sha256)))
                       | (ClaimVersion.built_from_sha256 != StoredEncounter.payload_sha256))
                .order_by(StoredEncounter.id)
                .limit(CHUNK)
            ).all()
            # one flush gives every new claim its id (the PCN is made from it) in a single multi-row INSERT
            new = {encounter.id: Claim(encounter_id=encounter.id, current_version=1,
                                       status=ClaimStatus.DRAFT.value, pcn="")
                   for encounter, claim in pending if claim is None}
            if new:
                session.add_all(new.values())
                session.flush()
            for encounter, claim in pending:
                if claim is None:
                    _intake_new(session, encounter, new[encounter.id], settings, plugins, today, recorder,
                                result, reviewer)
                else:
                    _intake_changed(session, encounter, claim, settings, plugins, today, recorder, result, reviewer)
        recorder.announce(plugins)
        if len(pending) < CHUNK:
            return result


def _intake_new(session: Session, encounter: StoredEncounter, claim: Claim, settings: Settings, plugins,
                today: date, recorder: StatusRecorder, result: IntakeResult, reviewer: Reviewer) -> None:
    bundle = json.loads(encounter.payload)
    version = ClaimVersion(claim_id=claim.id, version=1, status="", frequency="1",
                           pcn=make_pcn(settings.claims.pcn_prefix, claim.id, 1),
                           built_from_sha256=encounter.payload_sha256)
    claim.pcn = version.pcn
    try:
        claim_json = _build(bundle, encounter, version, settings, plugins, today, reviewer=reviewer)
    except NotBillable as exc:
        # nothing to bill: no claim; the encounter says why and is looked at again when it changes
        session.delete(claim)
        encounter.not_billable_sha256, encounter.not_billable_reason = encounter.payload_sha256, exc.reason
        result.not_billable += 1
        return
    except RecordError:
        claim_json = None
    session.add(version)
    _build_into(session, claim, version, bundle, encounter, settings, plugins, today, recorder, result,
                reviewer, first=True, built=claim_json)
    result.built += 1


def _intake_changed(session: Session, encounter: StoredEncounter, claim: Claim, settings: Settings, plugins,
                    today: date, recorder: StatusRecorder, result: IntakeResult, reviewer: Reviewer) -> None:
    bundle = json.loads(encounter.payload)
    current = session.execute(select(ClaimVersion).where(
        ClaimVersion.claim_id == claim.id, ClaimVersion.version == claim.current_version)).scalar_one()
    if current.status in UNSENT:
        current.built_from_sha256 = encounter.payload_sha256
        if current.version > 1:
            # a replacement rebuilt in place is held again, even one already released: a person reviews what
            # goes back to the payer
            _hold_replacement(session, claim, current, bundle, encounter, settings, plugins, today, recorder,
                              result, reviewer)
        else:
            _build_into(session, claim, current, bundle, encounter, settings, plugins, today, recorder, result,
                        reviewer, first=False)
        result.rebuilt += 1
        return
    # Something already left for this encounter: never resubmit silently. Build the replacement and hold it.
    number = claim.current_version + 1
    replacement = ClaimVersion(claim_id=claim.id, version=number, status="", frequency="7",
                               pcn=make_pcn(settings.claims.pcn_prefix, claim.id, number),
                               built_from_sha256=encounter.payload_sha256)
    session.add(replacement)
    claim.current_version = number
    _hold_replacement(session, claim, replacement, bundle, encounter, settings, plugins, today, recorder, result,
                      reviewer)
    result.replacements += 1


def _hold_replacement(session: Session, claim: Claim, version: ClaimVersion, bundle: dict,
                      encounter: StoredEncounter, settings: Settings, plugins, today: date,
                      recorder: StatusRecorder, result: IntakeResult, reviewer: Reviewer) -> None:
    replaced = _replaced_version(session, claim.id, version.version)
    terms = replacement_terms(session, replaced)
    version.frequency, version.findings = terms.frequency, None
    changed = (f"the encounter changed in the EHR after version {replaced.version} ({replaced.pcn}) was "
               f"{replaced.status}")
    if terms.missing_payer_claim_number:
        version.fhir = None
        reason = (f"{changed}; the replacement (frequency 7) needs the payer's claim number of {replaced.pcn} "
                  f"(REF*F8) and no 277CA or 835 has named it yet; release it with `claimbridge claims release "
                  f"{version.pcn} --reason …` once one has, or void it")
    else:
        try:
            version.fhir = build.claim_to_json(_build(bundle, encounter, version, settings, plugins, today,
                                                      payer_claim_number=terms.payer_claim_number,
                                                      reviewer=reviewer))
            reason = (f"{changed}; review this {terms.kind} and release it (`claimbridge claims release "
                      f"{version.pcn} --reason …`), or void it")
        except RecordError as exc:
            version.fhir = None
            reason = f"{changed} and the change cannot be billed: {hold_reason(exc)}"
    recorder.set_status(session, claim, version, ClaimStatus.HELD, actor=ACTOR, reason=reason)
    version.hold_reason = reason
    result.held.append(HeldClaim(version.pcn, encounter.key, reason))


@dataclass(frozen=True)
class ReplacementTerms:
    """How a new version of a claim refers to the version it replaces."""

    frequency: str
    payer_claim_number: str | None

    @property
    def kind(self) -> str:
        return "replacement (frequency 7)" if self.frequency == "7" else "new original (frequency 1)"

    @property
    def missing_payer_claim_number(self) -> bool:
        return self.frequency == "7" and not self.payer_claim_number


def replacement_terms(session: Session, replaced: ClaimVersion, *,
                      payer_claim_number: str | None = None) -> ReplacementTerms:
    """Frequency 7 with the payer's claim number of ``replaced`` (``payer_claim_number`` when the caller knows
    it, e.g. from the 835 that denied it); frequency 1 when the payer rejected ``replaced`` without
    adjudicating it (there is nothing at the payer to replace)."""
    if payer_claim_number:
        return ReplacementTerms("7", payer_claim_number)
    number = payer_claim_number_of(session, replaced)
    if replaced.status == ClaimStatus.REJECTED.value and number is None:
        return ReplacementTerms("1", None)
    return ReplacementTerms("7", number)


def payer_claim_number_of(session: Session, version: ClaimVersion) -> str | None:
    """The payer's claim number of ``version``: from its latest 835 claim, else as stored on the version (277CA or
    835), else from its latest 277CA."""
    with session.no_autoflush:
        remitted = session.execute(
            select(RemittanceClaim.payer_claim_number)
            .where(RemittanceClaim.claim_id == version.claim_id, RemittanceClaim.version == version.version,
                   RemittanceClaim.payer_claim_number.is_not(None), RemittanceClaim.payer_claim_number != "")
            .order_by(RemittanceClaim.id.desc()).limit(1)).scalar_one_or_none()
        if remitted:
            return remitted
        if version.payer_claim_number:
            return version.payer_claim_number
        return session.execute(
            select(Acknowledgment.payer_claim_number)
            .where(Acknowledgment.claim_id == version.claim_id, Acknowledgment.version == version.version,
                   Acknowledgment.payer_claim_number.is_not(None), Acknowledgment.payer_claim_number != "")
            .order_by(Acknowledgment.id.desc()).limit(1)).scalar_one_or_none()


def _replaced_version(session: Session, claim_id: int, number: int) -> ClaimVersion:
    # a new version is only made once the one before it left, so version n replaces version n - 1
    return session.execute(select(ClaimVersion).where(
        ClaimVersion.claim_id == claim_id, ClaimVersion.version == number - 1)).scalar_one()


def hold_reason(exc: RecordError) -> str:
    """The error without the record key (the claim already names its encounter): ``field: reason``."""
    return f"{exc.field}: {exc.reason}" if exc.field else exc.reason


def _build(bundle: dict, encounter: StoredEncounter, version: ClaimVersion, settings: Settings, plugins,
           today: date, *, payer_claim_number: str | None = None, reviewer: Reviewer | None = None) -> dict:
    claim_json = build.build_claim(bundle, source=encounter.source, pcn=version.pcn, version=version.version,
                                   claim_settings=settings.claims, practice=settings.practice, created=today,
                                   frequency=version.frequency, payer_claim_number=payer_claim_number,
                                   missed_appointments=reviewer.missed_appointments if reviewer else None)
    if plugins.pm.hook.adjust_claim.get_hookimpls():
        plugins.pm.hook.adjust_claim(claim=claim_json, context={
            "source": encounter.source, "encounter_key": encounter.key, "version": version.version})
        build.validate_claim(claim_json, record=encounter.key)
    return claim_json


def _build_into(session: Session, claim: Claim, version: ClaimVersion, bundle: dict, encounter: StoredEncounter,
                settings: Settings, plugins, today: date, recorder: StatusRecorder, result: IntakeResult,
                reviewer: Reviewer, *, first: bool, built: dict | None = None) -> None:
    try:
        claim_json = built if built is not None else _build(bundle, encounter, version, settings, plugins, today,
                                                            reviewer=reviewer)
    except RecordError as exc:
        reason = hold_reason(exc)
        version.fhir, version.hold_reason, version.findings = None, reason, None
        result.held.append(HeldClaim(version.pcn, encounter.key, reason))
        recorder.set_status(session, claim, version, ClaimStatus.HELD, actor=ACTOR, reason=reason)
        return
    version.fhir = build.claim_to_json(claim_json)
    review = reviewer.review(session, claim, version, claim_json, recorder,
                             reason_ready="built from the EHR encounter" if first
                             else "rebuilt after the encounter changed in the EHR")
    if review.blocking:
        result.held.append(HeldClaim(version.pcn, encounter.key, review.hold_reason()))
    claim.updated_at = utcnow()


# -- replacements a person asks for ---------------------------------------------------------------------------


@dataclass
class ReplacementOutcome:
    """What :func:`replace_version` did: the new version (ready, or held with its findings), the version it
    replaces and whether that one moved to ``corrected``."""

    version: ClaimVersion
    replaced: ClaimVersion
    review: Review
    corrected: bool

    @property
    def ready(self) -> bool:
        return not self.review.blocking


def replace_version(session: Session, claim: Claim, replaced: ClaimVersion, *, settings: Settings, plugins,
                    reviewer: Reviewer, recorder: StatusRecorder, actor: str, reason_ready: str,
                    payer_claim_number: str | None = None) -> ReplacementOutcome:
    """Replace ``replaced`` (a version that left) with a version built from the claim's encounter as stored
    now, and scrub it like intake does: it becomes ready (and leaves with the next submission) or held with its
    findings. The current version is used when it is an unsent replacement of ``replaced`` (intake made it when
    the encounter changed in the EHR); otherwise a version is added. ``replaced`` moves to ``corrected`` when
    the lifecycle allows it (a version still with the payer, submitted or accepted, keeps its status).

    Raises :class:`FatalError` naming the fix when ``replaced`` is not the version to replace, the payer's
    claim number is not known, or the encounter cannot be built; nothing is changed then.
    """
    current = session.execute(select(ClaimVersion).where(
        ClaimVersion.claim_id == claim.id, ClaimVersion.version == claim.current_version)).scalar_one()
    encounter = session.get(StoredEncounter, claim.encounter_id)
    if current.version == replaced.version:
        if replaced.status in UNSENT:
            raise FatalError(f"claim {replaced.pcn} is {replaced.status}: it has not left, so there is nothing "
                             f"to replace; fix the encounter in the EHR and the next sync rebuilds it")
        version = ClaimVersion(claim_id=claim.id, version=current.version + 1, status="", frequency="7",
                               pcn=make_pcn(settings.claims.pcn_prefix, claim.id, current.version + 1),
                               built_from_sha256=encounter.payload_sha256)
    elif current.version == replaced.version + 1 and current.status in UNSENT:
        version = current
    else:
        raise FatalError(f"claim {replaced.pcn} (version {replaced.version}) was already replaced by version "
                         f"{current.version} ({current.pcn}, {current.status}); work that version instead")
    terms = replacement_terms(session, replaced, payer_claim_number=payer_claim_number)
    if terms.missing_payer_claim_number:
        raise FatalError(f"the payer's claim number of {replaced.pcn} is not known (no 277CA or 835 has named "
                         f"it), and a replacement (frequency 7) must carry it as REF*F8; wait for the payer's "
                         f"answer, or ask the payer for it")
    version.frequency = terms.frequency
    try:
        claim_json = _build(json.loads(encounter.payload), encounter, version, settings, plugins, reviewer.today,
                            payer_claim_number=terms.payer_claim_number, reviewer=reviewer)
    except RecordError as exc:
        raise FatalError(f"the replacement of {replaced.pcn} cannot be built from the encounter as stored "
                         f"({hold_reason(exc)}); fix it in the EHR, let the next sync pull it, and try "
                         f"again") from exc
    if version is not current:
        session.add(version)
        claim.current_version = version.version
    version.built_from_sha256 = encounter.payload_sha256
    version.fhir = build.claim_to_json(claim_json)
    review = reviewer.review(session, claim, version, claim_json, recorder, reason_ready=reason_ready)
    corrected = ClaimStatus.CORRECTED in TRANSITIONS[ClaimStatus(replaced.status)]
    if corrected:
        recorder.set_status(session, claim, replaced, ClaimStatus.CORRECTED, actor=actor,
                            reason=f"replaced by version {version.version} ({version.pcn}, frequency "
                                   f"{version.frequency})")
    claim.updated_at = utcnow()
    return ReplacementOutcome(version, replaced, review, corrected)


def release_replacement(session: Session, pcn: str, *, settings: Settings, plugins, reviewer: Reviewer,
                        recorder: StatusRecorder, actor: str, reason: str) -> ReplacementOutcome:
    """Release the held replacement ``pcn`` (made when its encounter changed after submission): build it again
    from the encounter as stored (so a payer claim number that arrived since is used), scrub it, and move it to
    ready, or keep it held with the findings. Recorded in the claim's history and the audit log."""
    if not reason.strip():
        raise FatalError("a release needs a written reason (--reason)")
    version = session.execute(select(ClaimVersion).where(ClaimVersion.pcn == pcn.strip().upper())
                              ).scalar_one_or_none()
    if version is None:
        raise FatalError(f"no claim version with PCN {pcn}; `claimbridge claims held` lists the held ones")
    claim = session.get(Claim, version.claim_id)
    if version.version != claim.current_version:
        raise FatalError(f"claim {version.pcn} is version {version.version}, but the claim is at version "
                         f"{claim.current_version} ({claim.pcn}); release that one")
    if version.status != ClaimStatus.HELD.value:
        raise FatalError(f"claim {version.pcn} is {version.status}; only a held replacement can be released")
    if version.version == 1:
        raise FatalError(f"claim {version.pcn} is an original (version 1), not a replacement; fix it in the EHR, "
                         f"or let one finding pass with `claimbridge claims override`")
    replaced = _replaced_version(session, claim.id, version.version)
    session.add(ClaimEvent(claim_id=claim.id, version=version.version, from_status=version.status,
                           to_status=version.status, actor=actor, reason=f"release asked: {reason}", at=utcnow()))
    outcome = replace_version(session, claim, replaced, settings=settings, plugins=plugins, reviewer=reviewer,
                              recorder=recorder, actor=actor, reason_ready=f"released by {actor}: {reason}")
    result = "ready" if outcome.ready else f"still held: {outcome.review.hold_reason()}"
    session.add(AuditEntry(actor=actor, action="release", claim_id=claim.id,
                           detail=f"{version.pcn} (replaces {replaced.pcn}, frequency {version.frequency}): "
                                  f"{result}; reason: {reason}"))
    log.info("claim %s released by %s: %s", version.pcn, actor, "ready" if outcome.ready else "still held")
    return outcome
