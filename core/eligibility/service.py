"""Eligibility before each session: ask (270) about the upcoming appointments the sources brought in, send the
questions to the clearinghouse exactly once, post the answers (271) to the questions, and list the sessions at
risk.

* :func:`check_upcoming` — the scheduled job: every active appointment from today through
  ``eligibility.days_ahead`` that has no fresh answer gets a question; then :func:`send_pending`.
* :func:`send_pending` — pending questions into 270 batches (the ``batches`` table, ``kind`` 270, control
  numbers from the same counters as the 837s), each checked structurally, kept, and submitted through the
  clearinghouse connector like an 837: a batch left half-done by a crash is finished by the next run, and a
  file already delivered is not delivered again.
* :func:`post_271` / :func:`fail_batch` — called while an inbound file is posted (one transaction): each answer
  finds its question by the trace number echoed in TRN02; a 999 or TA1 rejecting a 270 batch fails its
  questions with the reason.
* :func:`check_now` — one question on demand, through a real-time transport when a plugin registered one for
  the clearinghouse's type (answered at once), else as a 270 file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from claimbridge.eligibility.assess import RISK_WORDS, assess
from claimbridge.eligibility.inquiries import (
    Appointment,
    AppointmentProblem,
    appointment_of,
    inquiry_from_json,
    inquiry_json,
    inquiry_sha256,
)
from claimbridge.errors import ClaimbridgeError, FatalError, RetryableError
from claimbridge.store.models import Batch, EligibilityCheck, SourceRecord, SyncRun, utcnow
from claimbridge.x12.eligibility.model import Eligibility271, EligibilityResponse, Provider

__all__ = ["APPOINTMENTS", "EligibilityRun", "check_now", "check_upcoming", "fail_batch", "list_checks",
           "post_271", "send_pending"]

log = logging.getLogger(__name__)

#: the stream of appointment bundles (docs/claim-profile.md)
APPOINTMENTS = "appointments"
#: inquiries per 270 file (batch 270s may hold many; clearinghouses commonly take up to a few thousand)
MAX_PER_FILE = 1000
ACTOR = "eligibility"


@dataclass
class EligibilityRun:
    """What one :func:`check_upcoming` did."""

    appointments: int = 0
    asked: int = 0
    fresh: int = 0  # answered recently, or waiting for an answer
    not_active: int = 0  # cancelled, no-show …
    cannot_check: int = 0
    batches: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"appointments": self.appointments, "inquiries_asked": self.asked, "inquiries_fresh": self.fresh,
                "appointments_not_active": self.not_active, "appointments_cannot_check": self.cannot_check,
                "eligibility_batches": len(self.batches),
                "inquiries_sent": sum(b["inquiries"] for b in self.batches if b["status"] == "submitted")}


# -- which appointments, and which need a question ---------------------------------------------------------


def upcoming_appointments(runtime, today: date) -> list[tuple[str, str, dict]]:
    """(source, key, bundle) of every stored appointment of an enabled source that starts from ``today``
    through ``eligibility.days_ahead`` days later."""
    last = today + timedelta(days=runtime.settings.eligibility.days_ahead)
    sources = [s.name for s in runtime.settings.sources if s.enabled]
    found = []
    with runtime.store.transaction() as session:
        rows = []
        for source in sources:
            # the stream is read whole every run: an appointment the latest successful run did not yield was
            # deleted in the EHR or left the window, and is not asked about
            latest = session.execute(select(func.max(SyncRun.id)).where(
                SyncRun.source == source, SyncRun.status == "succeeded")).scalar_one()
            query = select(SourceRecord.source, SourceRecord.key, SourceRecord.payload).where(
                SourceRecord.stream == APPOINTMENTS, SourceRecord.source == source)
            if latest is not None:
                query = query.where(SourceRecord.last_run_id >= latest)
            rows += session.execute(query).all()
    for source, key, payload in rows:
        bundle = json.loads(payload)
        start = _first_start(bundle)
        if start is not None and today <= start <= last:
            found.append((source, key, bundle))
    return sorted(found, key=lambda item: (_first_start(item[2]), item[0], item[1]))


def _first_start(bundle: dict) -> date | None:
    try:
        start = bundle["entry"][0]["resource"]["start"]
        return datetime.fromisoformat(str(start).replace("Z", "+00:00")).date()
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _provider(settings) -> Provider:
    return Provider(npi=settings.practice.npi, name=settings.practice.name, organization=True)


def _trace_number() -> str:
    return "CB" + secrets.token_hex(10).upper()


def _needs_question(latest: EligibilityCheck | None, digest: str, now: datetime, settings) -> bool:
    if latest is None or latest.inquiry_sha256 != digest:
        return True
    if latest.status in ("answered", "rejected", "failed"):
        return (latest.answered_at or latest.created_at) < now - settings.recheck_after
    if latest.status == "sent":
        return (latest.sent_at or latest.created_at) < now - settings.answer_timeout
    return False  # pending: goes out with the next batch


def check_upcoming(runtime, *, today: date | None = None) -> EligibilityRun:
    """Ask about every upcoming appointment that has no fresh answer, then send what is pending."""
    settings = runtime.settings.eligibility
    now = utcnow()
    today = today or now.date()
    run = EligibilityRun()
    provider = _provider(runtime.settings)
    for source, key, bundle in upcoming_appointments(runtime, today):
        run.appointments += 1
        with runtime.store.transaction() as session:
            latest = session.execute(select(EligibilityCheck).where(
                EligibilityCheck.source == source, EligibilityCheck.appointment_key == key)
                .order_by(EligibilityCheck.id.desc()).limit(1)).scalar_one_or_none()
            try:
                appointment = appointment_of(key, bundle)
            except AppointmentProblem as exc:
                run.cannot_check += 1
                _record_problem(session, latest, source, key, bundle, exc, now, settings)
                continue
            if not appointment.active:
                run.not_active += 1
                continue
            inquiry = appointment.inquiry(provider=provider, trace_number=_trace_number(),
                                          service_types=settings.service_types_for(appointment.payer_id))
            digest = inquiry_sha256(inquiry)
            if not _needs_question(latest, digest, now, settings):
                run.fresh += 1
                continue
            session.add(_new_check(source, appointment, inquiry, digest,
                                   _clearinghouse_name(runtime, appointment.payer_id), "scheduler"))
            run.asked += 1
    try:
        run.batches = send_pending(runtime, errors=run.errors)
    except ClaimbridgeError as exc:
        run.errors.append(f"eligibility: {exc}")
    return run


def _new_check(source: str | None, appointment: Appointment, inquiry, digest: str, clearinghouse: str | None,
               requested_by: str, transport: str = "batch") -> EligibilityCheck:
    return EligibilityCheck(
        source=source, appointment_key=appointment.key, appointment_start=appointment.start,
        patient_key=appointment.patient_key, payer_id=appointment.payer_id, payer_name=appointment.payer_name,
        service_date=appointment.service_date, service_types=" ".join(inquiry.service_types),
        trace_number=inquiry.trace_number, inquiry=inquiry_json(inquiry), inquiry_sha256=digest,
        clearinghouse=clearinghouse, status="pending", requested_by=requested_by, transport=transport)


def _record_problem(session, latest, source, key, bundle, exc: AppointmentProblem, now, settings) -> None:
    """An appointment that cannot make a question is listed as at risk ("cannot be checked"), once per
    problem until it is old enough to look again."""
    reason = f"{exc} ({exc.field})"
    if (latest is not None and latest.status == "failed" and latest.error == reason
            and latest.created_at >= now - settings.recheck_after):
        return
    start = None
    with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):
        start = datetime.fromisoformat(str(bundle["entry"][0]["resource"]["start"]).replace("Z", "+00:00"))
    session.add(EligibilityCheck(
        source=source, appointment_key=key, appointment_start=start if start and start.tzinfo else None,
        patient_key=f"{source}:{key}", payer_id="", service_date=start.date() if start else None,
        service_types="", trace_number=_trace_number(), inquiry="{}", inquiry_sha256="", status="failed",
        risks="cannot_check", error=reason, requested_by="scheduler", answered_at=now))


def _clearinghouse_name(runtime, payer_id: str | None = None) -> str | None:
    """Where a payer's questions go: ``eligibility.clearinghouse`` when set, else the payer's route (its payer
    profile's ``clearinghouse``, else the first enabled one). The name may be of one not enabled: they wait."""
    from claimbridge.outbound import Routing

    wanted = runtime.settings.eligibility.clearinghouse
    if wanted is not None:
        return wanted
    return Routing(runtime.settings, getattr(runtime.scrubber, "profiles", None)).clearinghouse_for(payer_id)


# -- sending --------------------------------------------------------------------------------------------------


def send_pending(runtime, *, errors: list[str] | None = None) -> list[dict]:
    """For every clearinghouse with questions to send: finish the 270 batches an earlier run left, then put its
    pending questions in new ones and send them; one dict per batch (id, file, inquiries, status, error).
    Questions routed to a clearinghouse that is not enabled wait, and ``errors`` says so."""
    enabled = {c.name: c for c in runtime.settings.clearinghouses if c.enabled}
    with runtime.store.transaction() as session:
        pending = dict(session.execute(select(EligibilityCheck.clearinghouse, func.count(EligibilityCheck.id)).where(
            EligibilityCheck.status == "pending", EligibilityCheck.batch_id.is_(None),
            EligibilityCheck.transport == "batch").group_by(EligibilityCheck.clearinghouse)).all())
        unfinished = set(session.execute(select(Batch.clearinghouse).distinct().where(
            Batch.kind == "270", Batch.status.in_(("created", "validated", "transmitting")))).scalars())
    done: list[dict] = []
    for name in sorted(set(pending) | unfinished, key=str):
        if name not in enabled:
            if errors is not None:
                errors.append(f"eligibility: {pending.get(name, 0)} question(s) wait for clearinghouse {name!r}, "
                              "which is not enabled")
            continue
        done += _send_to(runtime, enabled[name])
    return done


def _send_to(runtime, entry) -> list[dict]:
    from claimbridge.config import connector_settings
    from claimbridge.outbound import Outbound, partner_key

    outbound = Outbound(runtime.store, runtime.settings, runtime.plugins)
    outbox = runtime.settings.workdir / "outbound"
    done: list[dict] = []
    cls = runtime.plugins.clearinghouse_class(entry.type)
    with outbound._exclusive(f"outbound:{partner_key(entry)}"):
        created = _allocate(runtime, entry)
        with runtime.store.transaction() as session:
            unfinished = [(b.id, b.status) for b in session.execute(select(Batch).where(
                Batch.kind == "270", Batch.clearinghouse == entry.name,
                Batch.status.in_(("created", "validated", "transmitting"))).order_by(Batch.id)).scalars()]
        if not unfinished:
            return done
        with cls(entry.name, connector_settings(entry, cls.settings_model,
                                                runtime.config_path.parent.resolve())) as clearinghouse:
            for batch_id, status in unfinished:
                if status == "created" and not _encode(runtime, entry, batch_id):
                    done.append(_batch_summary(runtime, batch_id))
                    continue
                outbound.transmit(batch_id, clearinghouse, outbox)
                with runtime.store.transaction() as session:
                    batch = session.get(Batch, batch_id)
                    for check in _checks_of(session, batch_id):
                        if check.status == "pending":
                            check.status, check.sent_at = "sent", batch.submitted_at
                done.append(_batch_summary(runtime, batch_id, new=batch_id in created))
    return done


def _allocate(runtime, entry) -> list[int]:
    from claimbridge.outbound import partner_key

    partner = partner_key(entry)
    created = []
    while True:
        with runtime.store.transaction() as session:
            query = (select(EligibilityCheck).where(EligibilityCheck.status == "pending",
                                                    EligibilityCheck.batch_id.is_(None),
                                                    EligibilityCheck.transport == "batch",
                                                    EligibilityCheck.clearinghouse == entry.name)
                     .order_by(EligibilityCheck.id).limit(MAX_PER_FILE))
            if runtime.store.is_postgresql:
                query = query.with_for_update(skip_locked=True)
            checks = list(session.execute(query).scalars())
            if not checks:
                return created
            store = runtime.store
            batch = Batch(kind="270", clearinghouse=entry.name, partner=partner, usage=entry.trading_partner.usage,
                          isa13=store.allocate_control_number(session, partner, "ISA13"),
                          gs06=store.allocate_control_number(session, partner, "GS06"),
                          st02=store.allocate_control_number(session, partner, "ST02"),
                          claim_count=len(checks), status="created")
            session.add(batch)
            session.flush()
            batch.file_name = f"claimbridge-{entry.name}-{batch.isa13:09d}.270"
            for check in checks:
                check.batch_id = batch.id
            created.append(batch.id)


def _checks_of(session, batch_id: int) -> list[EligibilityCheck]:
    return list(session.execute(select(EligibilityCheck).where(EligibilityCheck.batch_id == batch_id)
                                .order_by(EligibilityCheck.id)).scalars())


def _originator(settings) -> str:
    """TRN03: ``1`` and the practice's EIN."""
    return "1" + settings.practice.tax_id


def _encode(runtime, entry, batch_id: int) -> bool:
    """Encode and check one created 270 batch; a failing check fails the batch and its questions."""
    from claimbridge.outbound import envelope_for
    from claimbridge.x12.eligibility import InquiryEncodeError, check_270, encode_270

    with runtime.store.transaction() as session:
        batch = session.get(Batch, batch_id)
        checks = _checks_of(session, batch_id)
        inquiries = [inquiry_from_json(c.inquiry) for c in checks]
        envelope = envelope_for(entry, batch)
        try:
            encoded = encode_270(inquiries, envelope=envelope, trace_originator=_originator(runtime.settings))
        except InquiryEncodeError as exc:
            _fail(batch, checks, f"the 270 could not be built: {exc}")
            return False
        report = check_270(encoded.text, name=batch.file_name)
        if not report.ok:
            problems = "; ".join(p.describe(redact=True) for p in report.errors[:5])
            _fail(batch, checks, f"the 270 failed its structural check: {problems}")
            return False
        batch.content = encoded.text
        batch.sha256 = hashlib.sha256(encoded.text.encode("ascii")).hexdigest()
        batch.status = "validated"
    return True


def _fail(batch: Batch, checks: list[EligibilityCheck], reason: str) -> None:
    batch.status, batch.error = "failed", reason
    now = utcnow()
    for check in checks:
        check.status, check.error, check.answered_at = "failed", reason, now
        check.risks = "cannot_check"


def _batch_summary(runtime, batch_id: int, *, new: bool = True) -> dict:
    with runtime.store.transaction() as session:
        batch = session.get(Batch, batch_id)
        return {"id": batch.id, "file": batch.file_name, "inquiries": batch.claim_count, "status": batch.status,
                "error": batch.error, "new": new}


# -- answers ------------------------------------------------------------------------------------------------------


def fail_batch(session, batch: Batch, words: str) -> int:
    """A 999/TA1 rejected a 270 batch: its questions that have no answer fail with the reason."""
    failed = 0
    now = utcnow()
    for check in _checks_of(session, batch.id):
        if check.status in ("pending", "sent"):
            check.status, check.error, check.answered_at, check.risks = "failed", words, now, "cannot_check"
            failed += 1
    return failed


def post_271(session, file_id: int, tx: Eligibility271, settings) -> dict[str, int]:
    """Post each answer of a 271 to its question (by the echoed trace number; an answer that rejects the whole
    request at the payer level, without one, answers every question of the batch its BHT03 names)."""
    counts = {"eligibility_answers": 0, "eligibility_unmatched": 0, "eligibility_at_risk": 0}
    for response in tx.responses:
        checks = _questions_for(session, response, tx)
        if not checks:
            counts["eligibility_unmatched"] += 1
            continue
        for check in checks:
            _answer(check, response, file_id, settings)
            counts["eligibility_answers"] += 1
            counts["eligibility_at_risk"] += int(bool(check.risks))
    return counts


def _questions_for(session, response: EligibilityResponse, tx: Eligibility271) -> list[EligibilityCheck]:
    traces = response.our_trace_numbers
    if traces:
        return list(session.execute(select(EligibilityCheck).where(
            EligibilityCheck.trace_number.in_(traces))).scalars())
    if response.level == "payer" and tx.reference and tx.reference.isdigit():
        batch = session.execute(select(Batch).where(Batch.kind == "270", Batch.isa13 == int(tx.reference))
                                .order_by(Batch.id.desc()).limit(1)).scalar_one_or_none()
        if batch is not None:
            return [c for c in _checks_of(session, batch.id) if c.status in ("pending", "sent")]
    return []


def _answer(check: EligibilityCheck, response: EligibilityResponse, file_id: int | None, settings) -> None:
    types = tuple(check.service_types.split()) or ("30",)
    result = assess(response, check.service_date, types, settings.eligibility.responsibility_threshold)
    check.status = "rejected" if response.rejected else "answered"
    check.coverage_status = result.coverage_status
    check.risks = ",".join(result.risks) or None
    check.summary = json.dumps({**result.summary, "reasons": result.reasons}, default=str)
    check.response = json.dumps(asdict(response), default=str)
    check.inbound_file_id = file_id
    check.answered_at = utcnow()
    check.error = None


# -- on demand ----------------------------------------------------------------------------------------------------


def check_now(runtime, *, patient: str, payer: str | None = None, service_date: date | None = None,
              actor: str = "cli") -> dict:
    """Ask now about ``patient`` (an EHR patient id, ``Patient/<id>`` or bare, as the appointments name it)
    with ``payer`` (a payer id; default the primary coverage's) for ``service_date`` (default today). Through
    a real-time transport the answer is posted before this returns; otherwise the 270 file is sent now and
    the answer comes with the next responses fetch."""
    from claimbridge.inbound import receive_file

    service_date = service_date or utcnow().date()
    appointment, source = _appointment_for(runtime, patient, payer, service_date)
    settings = runtime.settings.eligibility
    clearinghouse = _clearinghouse_name(runtime, appointment.payer_id)
    if clearinghouse is None or clearinghouse not in {c.name for c in runtime.settings.clearinghouses if c.enabled}:
        raise FatalError(f"no enabled clearinghouse to ask payer {appointment.payer_id} through "
                         f"({clearinghouse or 'none configured'}; eligibility.clearinghouse or the payer profile)")
    inquiry = appointment.inquiry(provider=_provider(runtime.settings), trace_number=_trace_number(),
                                  service_types=settings.service_types_for(appointment.payer_id))
    entry = runtime.settings.clearinghouse(clearinghouse)
    transport_cls = runtime.plugins.eligibility_transports.get(entry.type)
    with runtime.store.transaction() as session:
        check = _new_check(source, appointment, inquiry, inquiry_sha256(inquiry), clearinghouse,
                           actor, "realtime" if transport_cls else "batch")
        check.appointment_key = None  # asked on demand, not for one appointment
        session.add(check)
        session.flush()
        check_id = check.id
    if transport_cls is not None:
        try:
            answer = _realtime(runtime, entry, transport_cls, check_id, inquiry)
        except RetryableError as exc:
            log.warning("real-time eligibility through %s unavailable (%s); sending it as a file", entry.name, exc)
            with runtime.store.transaction() as session:
                session.get(EligibilityCheck, check_id).transport = "batch"
        else:
            receive_file(runtime, entry.name, f"realtime-{check_id}.271", answer)
            return describe(runtime, check_id)
    send_pending(runtime)
    return describe(runtime, check_id)


def _realtime(runtime, entry, transport_cls, check_id: int, inquiry) -> bytes:
    from claimbridge.config import connector_settings
    from claimbridge.outbound import envelope_for, partner_key
    from claimbridge.x12.eligibility import encode_270

    partner = partner_key(entry)
    with runtime.store.transaction() as session:
        store = runtime.store
        batch = Batch(kind="270", clearinghouse=entry.name, partner=partner, usage=entry.trading_partner.usage,
                      isa13=store.allocate_control_number(session, partner, "ISA13"),
                      gs06=store.allocate_control_number(session, partner, "GS06"),
                      st02=store.allocate_control_number(session, partner, "ST02"), claim_count=1,
                      status="transmitting")
        session.add(batch)
        session.flush()
        batch.file_name = f"claimbridge-{entry.name}-{batch.isa13:09d}.270"
        encoded = encode_270([inquiry], envelope=envelope_for(entry, batch),
                             trace_originator=_originator(runtime.settings))
        batch.content = encoded.text
        check = session.get(EligibilityCheck, check_id)
        check.batch_id = batch.id
        batch_id = batch.id
    cls = runtime.plugins.clearinghouse_class(entry.type)
    with cls(entry.name, connector_settings(entry, cls.settings_model,
                                            runtime.config_path.parent.resolve())) as clearinghouse:
        answer = transport_cls(clearinghouse).inquire(encoded.text.encode("ascii"))
    with runtime.store.transaction() as session:
        batch = session.get(Batch, batch_id)
        batch.status, batch.submitted_at, batch.remote_path = "submitted", utcnow(), "real-time"
        check = session.get(EligibilityCheck, check_id)
        if check.status == "pending":
            check.status, check.sent_at = "sent", batch.submitted_at
    return answer


def _appointment_for(runtime, patient: str, payer: str | None, service_date: date) -> tuple[Appointment, str]:
    """The newest stored appointment of ``patient`` (with ``payer`` when given), re-dated to ``service_date``."""
    wanted = patient if patient.startswith("Patient/") else f"Patient/{patient}"
    best: tuple[Appointment, str] | None = None
    with runtime.store.transaction() as session:
        rows = session.execute(select(SourceRecord.source, SourceRecord.key, SourceRecord.payload).where(
            SourceRecord.stream == APPOINTMENTS).order_by(SourceRecord.id.desc())).all()
    problems = []
    for source, key, payload in rows:
        bundle = json.loads(payload)
        if not any(f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}" == wanted
                   for e in bundle.get("entry") or () if isinstance(e.get("resource"), dict)):
            continue
        try:
            appointment = appointment_of(key, bundle)
        except AppointmentProblem as exc:
            problems.append(f"{key}: {exc} ({exc.field})")
            continue
        if payer and appointment.payer_id != payer:
            continue
        best = (appointment, source)
        break
    if best is None:
        why = f" ({'; '.join(problems[:3])})" if problems else ""
        raise FatalError(f"no stored appointment of {wanted}" + (f" with payer {payer}" if payer else "")
                         + f" to take the coverage from{why}; pull the source first")
    appointment, source = best
    redated = Appointment(**{**appointment.__dict__, "service_date": service_date})
    return redated, source


# -- listing ------------------------------------------------------------------------------------------------------


def describe(runtime, check_id: int) -> dict:
    with runtime.store.transaction() as session:
        return _row(session.get(EligibilityCheck, check_id), full=True)


def _row(check: EligibilityCheck, *, full: bool = False) -> dict[str, Any]:
    summary = json.loads(check.summary) if check.summary else {}
    risks = check.risks.split(",") if check.risks else []
    row = {"id": check.id, "source": check.source, "appointment": check.appointment_key,
           "appointment_start": check.appointment_start.isoformat() if check.appointment_start else None,
           "service_date": check.service_date.isoformat() if check.service_date else None,
           "payer_id": check.payer_id, "payer": check.payer_name, "patient_key": check.patient_key,
           "service_types": check.service_types.split(), "status": check.status, "transport": check.transport,
           "coverage_status": check.coverage_status, "risks": risks,
           "risk_words": [RISK_WORDS.get(r, r) for r in risks],
           "reasons": summary.get("reasons") or ([check.error] if check.error else []),
           "trace_number": check.trace_number, "batch_id": check.batch_id,
           "created_at": check.created_at.isoformat(),
           "sent_at": check.sent_at.isoformat() if check.sent_at else None,
           "answered_at": check.answered_at.isoformat() if check.answered_at else None, "error": check.error}
    if full:
        row["summary"] = summary
    return row


def list_checks(store, *, at_risk: bool = False, upcoming_from: date | None = None, limit: int = 500,
                status: str | None = None) -> list[dict]:
    """The latest check of each appointment (and every on-demand check), newest appointment first; with
    ``at_risk`` only those with a risk; with ``upcoming_from`` only sessions from that day on."""
    with store.transaction() as session:
        latest = (select(func.max(EligibilityCheck.id)).where(EligibilityCheck.appointment_key.is_not(None))
                  .group_by(EligibilityCheck.source, EligibilityCheck.appointment_key))
        query = select(EligibilityCheck).where(
            EligibilityCheck.id.in_(latest) | EligibilityCheck.appointment_key.is_(None))
        if at_risk:
            query = query.where(EligibilityCheck.risks.is_not(None))
        if status:
            query = query.where(EligibilityCheck.status == status)
        if upcoming_from is not None:
            query = query.where(EligibilityCheck.service_date >= upcoming_from)
        query = query.order_by(EligibilityCheck.service_date.asc(), EligibilityCheck.appointment_start.asc(),
                               EligibilityCheck.id.desc()).limit(limit)
        return [_row(check) for check in session.execute(query).scalars()]
