"""Turns stored encounters into claim versions: new encounters become claims, changed ones are rebuilt while
nothing has left, or get a replacement version held for review once something has."""

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
from claimbridge.claims.review import Reviewer, authorizations_by_patient
from claimbridge.claims.scrub.engine import create_scrubber
from claimbridge.claims.states import ClaimStatus
from claimbridge.config import Settings
from claimbridge.errors import RecordError
from claimbridge.store.db import Store
from claimbridge.store.models import Claim, ClaimVersion, StoredEncounter, utcnow

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
                .where((Claim.id.is_(None)) | (ClaimVersion.built_from_sha256 != StoredEncounter.payload_sha256))
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
    session.add(version)
    _build_into(session, claim, version, bundle, encounter, settings, plugins, today, recorder, result,
                reviewer, first=True)
    result.built += 1


def _intake_changed(session: Session, encounter: StoredEncounter, claim: Claim, settings: Settings, plugins,
                    today: date, recorder: StatusRecorder, result: IntakeResult, reviewer: Reviewer) -> None:
    bundle = json.loads(encounter.payload)
    current = session.execute(select(ClaimVersion).where(
        ClaimVersion.claim_id == claim.id, ClaimVersion.version == claim.current_version)).scalar_one()
    if current.status in UNSENT:
        current.built_from_sha256 = encounter.payload_sha256
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
    try:
        replacement.fhir = build.claim_to_json(_build(bundle, encounter, replacement, settings, plugins, today))
        reason = (f"the encounter changed in the EHR after version {number - 1} ({current.pcn}) was "
                  f"{current.status}; review this replacement and release it, or void it")
    except RecordError as exc:
        reason = f"the encounter changed after submission and the change cannot be billed: {hold_reason(exc)}"
    recorder.set_status(session, claim, replacement, ClaimStatus.HELD, actor=ACTOR, reason=reason)
    replacement.hold_reason = reason
    result.replacements += 1
    result.held.append(HeldClaim(replacement.pcn, encounter.key, reason))


def hold_reason(exc: RecordError) -> str:
    """The error without the record key (the claim already names its encounter): ``field: reason``."""
    return f"{exc.field}: {exc.reason}" if exc.field else exc.reason


def _build(bundle: dict, encounter: StoredEncounter, version: ClaimVersion, settings: Settings, plugins,
           today: date) -> dict:
    claim_json = build.build_claim(bundle, source=encounter.source, pcn=version.pcn, version=version.version,
                                   claim_settings=settings.claims, practice=settings.practice, created=today,
                                   frequency="1")
    if plugins.pm.hook.adjust_claim.get_hookimpls():
        plugins.pm.hook.adjust_claim(claim=claim_json, context={
            "source": encounter.source, "encounter_key": encounter.key, "version": version.version})
        build.validate_claim(claim_json, record=encounter.key)
    return claim_json


def _build_into(session: Session, claim: Claim, version: ClaimVersion, bundle: dict, encounter: StoredEncounter,
                settings: Settings, plugins, today: date, recorder: StatusRecorder, result: IntakeResult,
                reviewer: Reviewer, *, first: bool) -> None:
    try:
        claim_json = _build(bundle, encounter, version, settings, plugins, today)
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
