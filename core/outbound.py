"""Outbound claims: ready claim versions → batches (one 837P interchange each) → validated files → the
clearinghouse, exactly once.

The steps and their commits (a crash between any two leaves a state the next run finishes):
1. *allocate*: one transaction takes ready versions (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), allocates
   ISA13/GS06/ST02 from the durable per-partner counters, records the batch ``created`` and marks the versions
   ``batched``. A number that was allocated is never used again, whatever happens next.
2. *encode*: the 837P is written and validated with pyx12; a valid file is stored with the batch
   (``validated``); an invalid one fails the batch, holds the claims it names and frees the others.
3. *transmit*: the batch is marked ``transmitting`` before the upload; the clearinghouse connector uploads under
   a temporary name and renames, and looks in the remote folder first, so a batch found ``transmitting`` after
   a crash is completed without a second upload; then the batch is ``submitted``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import or_, select

from claimbridge.claims import build
from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.states import ClaimStatus
from claimbridge.config import ClearinghouseEntry, Settings
from claimbridge.connectors import Clearinghouse, OutboundFile
from claimbridge.errors import FatalError
from claimbridge.store.db import Store
from claimbridge.store.models import Batch, Claim, ClaimVersion, utcnow
from claimbridge.x12.encode_837p import ClaimEncodeError, Envelope, Submitter, encode_837p
from claimbridge.x12.validate import validate_x12

log = logging.getLogger(__name__)

ACTOR = "claimbridge/outbound"


@dataclass
class BatchSummary:
    batch_id: int
    clearinghouse: str
    isa13: int
    gs06: int
    st02: int
    claims: int
    status: str
    file_name: str | None = None
    remote_path: str | None = None
    already_present: bool = False
    error: str | None = None


@dataclass
class OutboundResult:
    batches: list[BatchSummary] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)  # (pcn, reason) held by validation


def partner_key(entry: ClearinghouseEntry) -> str:
    tp = entry.trading_partner
    return f"{tp.sender_qualifier}:{tp.sender_id}>{tp.receiver_qualifier}:{tp.receiver_id}"


def envelope_for(entry: ClearinghouseEntry, batch: Batch) -> Envelope:
    """The interchange envelope of a batch (837P or 270): the trading partner's ids, the batch's control numbers."""
    tp = entry.trading_partner
    return Envelope(sender_qualifier=tp.sender_qualifier, sender_id=tp.sender_id,
                    receiver_qualifier=tp.receiver_qualifier, receiver_id=tp.receiver_id,
                    gs_sender=tp.gs_sender or tp.sender_id, gs_receiver=tp.gs_receiver or tp.receiver_id,
                    usage=batch.usage, isa13=batch.isa13, gs06=batch.gs06, st02=batch.st02,
                    created=batch.created_at)


def file_name_for(batch: Batch) -> str:
    return f"claimbridge-{batch.clearinghouse}-{batch.isa13:09d}.837"


class Routing:
    """Which clearinghouse a payer's claims and eligibility inquiries go to: its payer profile's
    ``clearinghouse``, else the first enabled one. A route to a clearinghouse that is not enabled (or not
    configured) is kept: those claims wait rather than go somewhere the payer may not be set up."""

    def __init__(self, settings: Settings, profiles=None):
        self.enabled = [c.name for c in settings.clearinghouses if c.enabled]
        self.default = self.enabled[0] if self.enabled else None
        self.profiles = profiles

    def clearinghouse_for(self, payer_id: str | None) -> str | None:
        routed = self.profiles.for_payer(payer_id).clearinghouse if self.profiles is not None else None
        return routed or self.default

    def waiting(self, payer_ids) -> dict[str, list[str]]:
        """Clearinghouses that are routed to but not enabled → the payer ids waiting for them."""
        out: dict[str, list[str]] = {}
        for payer_id in payer_ids:
            name = self.clearinghouse_for(payer_id)
            if name is not None and name not in self.enabled:
                out.setdefault(name, []).append(payer_id or "(none)")
        return out


class Outbound:
    def __init__(self, store: Store, settings: Settings, plugins, routing: Routing | None = None):
        self.store = store
        self.settings = settings
        self.plugins = plugins
        #: without one, every ready claim goes to the clearinghouse :meth:`run` is given
        self.routing = routing

    # -- step 1 ---------------------------------------------------------------------------------------------
    def allocate_batches(self, entry: ClearinghouseEntry) -> list[int]:
        """Put every ready claim version into batches of at most ``max_claims_per_file``; return their ids."""
        created = []
        while True:
            batch_id = self._allocate_one(entry)
            if batch_id is None:
                return created
            created.append(batch_id)

    def _allocate_one(self, entry: ClearinghouseEntry) -> int | None:
        recorder = StatusRecorder()
        partner = partner_key(entry)
        with self.store.transaction() as session:
            query = (select(ClaimVersion, Claim).join(Claim, Claim.id == ClaimVersion.claim_id)
                     .where(ClaimVersion.status == ClaimStatus.READY.value)
                     .order_by(ClaimVersion.id)
                     .limit(entry.trading_partner.max_claims_per_file))
            if self.routing is not None:
                payers = session.execute(select(Claim.payer_id).distinct().join(
                    ClaimVersion, ClaimVersion.claim_id == Claim.id).where(
                    ClaimVersion.status == ClaimStatus.READY.value)).scalars().all()
                mine = [p for p in payers if self.routing.clearinghouse_for(p) == entry.name]
                if not mine:
                    return None
                known = [p for p in mine if p is not None]
                query = query.where(or_(Claim.payer_id.in_(known), Claim.payer_id.is_(None)) if None in mine
                                    else Claim.payer_id.in_(known))
            if self.store.is_postgresql:
                query = query.with_for_update(of=ClaimVersion, skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return None
            batch = Batch(clearinghouse=entry.name, partner=partner, usage=entry.trading_partner.usage,
                          isa13=self.store.allocate_control_number(session, partner, "ISA13"),
                          gs06=self.store.allocate_control_number(session, partner, "GS06"),
                          st02=self.store.allocate_control_number(session, partner, "ST02"),
                          claim_count=len(rows), status="created")
            session.add(batch)
            session.flush()
            batch.file_name = file_name_for(batch)
            for version, claim in rows:
                version.batch_id = batch.id
                recorder.set_status(session, claim, version, ClaimStatus.BATCHED, actor=ACTOR,
                                    reason=f"in batch {batch.id} (ISA13 {batch.isa13:09d})")
            batch_id = batch.id
        recorder.announce(self.plugins)
        return batch_id

    # -- step 2 ---------------------------------------------------------------------------------------------
    def encode_batch(self, batch_id: int, entry: ClearinghouseEntry, result: OutboundResult) -> bool:
        """Write and validate the 837 of a ``created`` batch. Returns True when the file may leave."""
        with self.store.transaction() as session:
            batch = session.get(Batch, batch_id)
            versions = session.execute(select(ClaimVersion).where(ClaimVersion.batch_id == batch_id)
                                       .order_by(ClaimVersion.id)).scalars().all()
            claims = [build.claim_from_json(v.fhir) for v in versions]
            envelope = self._envelope(entry, batch)
            file_name = batch.file_name
        reasons: dict[str | None, str] = {}
        try:
            encoded = encode_837p(claims, envelope=envelope, submitter=self._submitter(),
                                  receiver_name=entry.trading_partner.receiver_name)
        except ClaimEncodeError as exc:
            reasons[exc.record] = f"the 837P cannot be written: {exc.field}: {exc.reason}"
        else:
            report = validate_x12(encoded.text, name=file_name)
            if not report.ok:
                grouped: dict[str | None, list] = {}
                for problem in report.problems:
                    if problem.severity == "error":
                        grouped.setdefault(problem.pcn, []).append(problem)
                reasons = {pcn: "the 837P failed validation: " + _describe_problems(problems)
                           for pcn, problems in (grouped or {None: report.problems}).items()}
        recorder = StatusRecorder()
        with self.store.transaction() as session:
            batch = session.get(Batch, batch_id)
            rows = session.execute(select(ClaimVersion, Claim).join(Claim, Claim.id == ClaimVersion.claim_id)
                                   .where(ClaimVersion.batch_id == batch_id)).all()
            if not reasons:
                batch.content = encoded.text
                batch.sha256 = hashlib.sha256(encoded.text.encode("ascii")).hexdigest()
                batch.status = "validated"
                for version, _claim in rows:
                    version.x12_segments = "\n".join(encoded.claim_segments.get(version.pcn, []))
            else:
                self._fail_batch(session, batch, rows, reasons, recorder, result)
        recorder.announce(self.plugins)
        return not reasons

    def _fail_batch(self, session, batch: Batch, rows, reasons: dict[str | None, str],
                    recorder: StatusRecorder, result: OutboundResult) -> None:
        """An invalid file never leaves: the batch fails, the claims its problems name are held with the
        reason, the rest go back to ready for the next batch. The batch's control numbers are not reused."""
        batch.status = "failed"
        batch.error = "; ".join(f"{pcn or 'file'}: {reason}" for pcn, reason in reasons.items())
        named = {version.pcn for version, _claim in rows if version.pcn in reasons}
        for version, claim in rows:
            version.batch_id = None
            # a problem that names no claim (envelope, header) holds every claim: freeing them would only
            # produce the same invalid file again
            if version.pcn in reasons or not named:
                reason = reasons.get(version.pcn) or next(iter(reasons.values()))
                version.hold_reason = reason
                recorder.set_status(session, claim, version, ClaimStatus.HELD, actor=ACTOR, reason=reason)
                result.held.append((version.pcn, reason))
            else:
                recorder.set_status(session, claim, version, ClaimStatus.READY, actor=ACTOR,
                                    reason=f"batch {batch.id} failed validation for other claims; ready again")
        log.error("batch %s (%s) failed: %s", batch.id, batch.file_name, batch.error)

    def _envelope(self, entry: ClearinghouseEntry, batch: Batch) -> Envelope:
        return envelope_for(entry, batch)

    def _submitter(self) -> Submitter:
        sub = self.settings.submitter
        return Submitter(id=sub.id, name=sub.name, contact_name=sub.contact.name, phone=sub.contact.phone,
                         email=sub.contact.email)

    # -- step 3 ---------------------------------------------------------------------------------------------
    def transmit(self, batch_id: int, clearinghouse: Clearinghouse, outbox: Path) -> BatchSummary:
        with self.store.transaction() as session:
            batch = session.get(Batch, batch_id)
            batch.status = "transmitting"
            content = batch.content.encode("ascii")
            name = batch.file_name
        outbox.mkdir(parents=True, exist_ok=True)
        local = outbox / name
        if not local.exists():
            tmp = local.with_suffix(".part")
            tmp.write_bytes(content)
            tmp.replace(local)
        outcome = clearinghouse.submit(OutboundFile(name=name, content=content))
        recorder = StatusRecorder()
        with self.store.transaction() as session:
            batch = session.get(Batch, batch_id)
            batch.status, batch.submitted_at, batch.remote_path = "submitted", utcnow(), outcome.remote_path
            rows = session.execute(select(ClaimVersion, Claim).join(Claim, Claim.id == ClaimVersion.claim_id)
                                   .where(ClaimVersion.batch_id == batch_id)).all()
            for version, claim in rows:
                if version.status != ClaimStatus.BATCHED:
                    continue  # the clearinghouse's answer was posted first and already moved it on
                recorder.set_status(session, claim, version, ClaimStatus.SUBMITTED, actor=ACTOR,
                                    reason=f"{name} delivered to {batch.clearinghouse}")
            summary = _summary(batch, already_present=outcome.already_present)
        recorder.announce(self.plugins)
        return summary

    def run(self, entry: ClearinghouseEntry, clearinghouse: Clearinghouse, outbox: Path) -> OutboundResult:
        """Finish what an earlier run left, then batch, encode, validate and send every ready claim."""
        result = OutboundResult()
        with self._exclusive(f"outbound:{partner_key(entry)}"):
            self.allocate_batches(entry)
            with self.store.transaction() as session:
                unfinished = session.execute(
                    select(Batch.id, Batch.status).where(Batch.clearinghouse == entry.name, Batch.kind == "837P",
                                                         Batch.status.in_(("created", "validated", "transmitting")))
                    .order_by(Batch.id)).all()
            for batch_id, status in unfinished:
                if status == "created" and not self.encode_batch(batch_id, entry, result):
                    with self.store.transaction() as session:
                        result.batches.append(_summary(session.get(Batch, batch_id)))
                    # claims freed by the failed batch go out in a fresh one
                    for new_id in self.allocate_batches(entry):
                        unfinished.append((new_id, "created"))
                    continue
                result.batches.append(self.transmit(batch_id, clearinghouse, outbox))
        return result


    def _exclusive(self, name: str):
        """One sender per trading partner at a time, across processes: the PostgreSQL advisory lock of
        :meth:`Store.exclusive`; on SQLite an ``flock`` in ``WORKDIR/locks``. Without it, two senders (say a
        ``claimbridge sync`` beside ``claimbridge run``) could both pick up the same ``created`` batch and
        encode and transmit it twice. Raises :class:`FatalError` when another sender holds it."""
        if self.store.is_postgresql:
            return self.store.exclusive(name)
        return _file_exclusive(self.store, self.settings.workdir / "locks", name)


@contextlib.contextmanager
def _file_exclusive(store: Store, folder: Path, name: str) -> Iterator[None]:
    from claimbridge.schedule.locks import cluster_lock  # the schedule package imports this module

    with cluster_lock(store, folder, name) as held:
        if not held:
            raise FatalError(f"{name} is already running in another worker; try again when it ends")
        yield


def _summary(batch: Batch, already_present: bool = False) -> BatchSummary:
    return BatchSummary(batch_id=batch.id, clearinghouse=batch.clearinghouse, isa13=batch.isa13, gs06=batch.gs06,
                        st02=batch.st02, claims=batch.claim_count, status=batch.status, file_name=batch.file_name,
                        remote_path=batch.remote_path, already_present=already_present, error=batch.error)


def _describe_problems(problems) -> str:
    shown = [p.describe(redact=True) for p in problems[:3]]
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "; ".join(shown) + more
