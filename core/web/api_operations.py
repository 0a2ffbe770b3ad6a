"""The operations part of ``/api/v1``: denials (show, resubmit), claim release, remittances (payments,
balancing, posted claims, the unmatched queue), batches with their acknowledgments, inbound files (reprocess a
quarantined one), clearinghouses, connector tests and "run now", scheduled jobs and plugins.

Each operation reuses the function the command line uses (``claimbridge.claims.worklist``,
``claimbridge.posting.manual``, ``claimbridge.inbound``, ``claimbridge.schedule``, ``claimbridge.pipeline``);
the read helpers here (``batch_rows``, ``inbound_rows``, ``remittance_detail`` …) also feed the pages in
:mod:`claimbridge.web.ui_operations`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import request
from sqlalchemy import func, select

from claimbridge.store.models import (
    Acknowledgment,
    Batch,
    ClaimVersion,
    Denial,
    InboundDelivery,
    InboundFile,
    Remittance,
    RemittanceClaim,
    SyncRun,
)
from claimbridge.web import audit, principal, runtime
from claimbridge.web.api import (
    PAGE_PARAMS,
    ApiError,
    _body,
    _json,
    _page_args,
    _path,
    _query,
    _required_text,
    operation,
)

ZERO = Decimal("0.00")


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: money as the exact decimal string, dates in ISO 8601."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")) if value.as_tuple().exponent > -2 else value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [plain(v) for v in value]
    return value


def actor() -> str:
    return f"web:{principal().username}"


def page_of(items: list[dict], limit: int, cursor: int | None, count: bool) -> dict:
    """Keyset paging over a list already in its order: ``cursor`` is the id of the last item of the page before."""
    start = 0
    if cursor is not None:
        start = next((i + 1 for i, item in enumerate(items) if item["id"] == cursor), len(items))
    chosen = items[start:start + limit]
    more = start + limit < len(items)
    page: dict[str, Any] = {"items": plain(chosen), "next_cursor": str(chosen[-1]["id"]) if more else None}
    if count:
        page["total"] = len(items)
    return page


MAX_ID = 2**63 - 1


def _exists(model, ident: int, what: str) -> None:
    if not 0 < ident <= MAX_ID:
        raise ApiError(404, "not_found", f"no {what} #{ident}")
    with runtime().store.transaction() as session:
        if session.get(model, ident) is None:
            raise ApiError(404, "not_found", f"no {what} #{ident}")


def _optional_text(data: dict, key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise ApiError(400, "bad_request", f"{key} must be a string")
    return value.strip()


# -- read helpers shared with the pages ------------------------------------------------------------------------


def denial_detail(denial_id: int) -> dict:
    """One denial as ``claimbridge denials show`` has it (audited when it names a claim)."""
    from claimbridge.claims.denials import code_lists_for
    from claimbridge.claims.worklist import show_denial

    rt = runtime()
    _exists(Denial, denial_id, "denial")
    data = show_denial(rt.store, denial_id, codes=code_lists_for(rt.config_path))
    with rt.store.transaction() as session:
        audit(session, "view_denial", f"denial #{denial_id} PCN {data['pcn']}", claim_id=data["claim_id"])
    return data


def balancing(remittance: dict) -> dict:
    """Payment = Σ claim payments − provider adjustments (PLB; positive lowers the payment)."""
    claims_paid = sum((c["paid"] for c in remittance["claims"]), ZERO)
    plb = sum((p["amount"] for p in remittance["provider_adjustments"]), ZERO)
    expected = claims_paid - plb
    return {"claims_paid": claims_paid, "provider_adjustments": plb, "expected_payment": expected,
            "payment": remittance["amount"], "difference": remittance["amount"] - expected,
            "balanced": remittance["amount"] == expected}


def remittance_detail(remittance_id: int) -> dict:
    from claimbridge.claims.worklist import show_remittance

    _exists(Remittance, remittance_id, "remittance")
    data = show_remittance(runtime().store, remittance_id)
    data["balancing"] = balancing(data)
    return data


def remittance_rows(payer: str | None = None, method: str | None = None) -> list[dict]:
    from claimbridge.claims.worklist import list_remittances

    rows = list_remittances(runtime().store)
    if payer:
        needle = payer.lower()
        rows = [r for r in rows if r["payer_key"] == payer or needle in (r["payer"] or "").lower()]
    if method:
        rows = [r for r in rows if r["method"] == method]
    return rows


def unmatched_rows(payer: str | None = None) -> list[dict]:
    from claimbridge.claims.worklist import unmatched_remittances

    rows = unmatched_remittances(runtime().store)
    if payer:
        rows = [r for r in rows if r["payer_key"] == payer or payer.lower() in (r["payer"] or "").lower()]
    return rows


BATCH_SORTS = {"id": Batch.id, "created_at": Batch.created_at, "status": Batch.status,
               "clearinghouse": Batch.clearinghouse, "claim_count": Batch.claim_count, "ack_status": Batch.ack_status,
               "submitted_at": Batch.submitted_at}


def _batch_row(b: Batch) -> dict:
    return {"id": b.id, "clearinghouse": b.clearinghouse, "status": b.status, "ack_status": b.ack_status,
            "claim_count": b.claim_count, "file_name": b.file_name, "isa13": b.isa13, "gs06": b.gs06,
            "st02": b.st02, "usage": b.usage, "created_at": b.created_at, "submitted_at": b.submitted_at,
            "acked_at": b.acked_at, "ack_detail": b.ack_detail, "error": b.error}


def batch_rows(*, status: str | None = None, clearinghouse: str | None = None, ack: str | None = None,
               sort: str = "id", descending: bool = True, limit: int = 500, cursor: int | None = None) -> list[dict]:
    """Batches (outbound interchanges) with what their TA1/999 said; ``ack`` ``none`` means no answer yet."""
    column = BATCH_SORTS[sort]
    query = select(Batch)
    if status:
        query = query.where(Batch.status == status)
    if clearinghouse:
        query = query.where(Batch.clearinghouse == clearinghouse)
    if ack == "none":
        query = query.where(Batch.ack_status.is_(None))
    elif ack:
        query = query.where(Batch.ack_status == ack)
    if cursor is not None:
        query = query.where(Batch.id < cursor)
    order = column.desc() if descending else column.asc()
    with runtime().store.transaction() as session:
        rows = session.execute(query.order_by(order, Batch.id.desc()).limit(limit)).scalars().all()
        return [_batch_row(b) for b in rows]


def batch_detail(batch_id: int) -> dict:
    _exists(Batch, batch_id, "batch")
    with runtime().store.transaction() as session:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise ApiError(404, "not_found", f"no batch #{batch_id}")
        data = _batch_row(batch) | {"partner": batch.partner, "sha256": batch.sha256, "remote_path": batch.remote_path}
        data["claims"] = [{"pcn": v.pcn, "version": v.version, "status": v.status, "frequency": v.frequency}
                          for v in session.execute(select(ClaimVersion).where(ClaimVersion.batch_id == batch_id)
                                                   .order_by(ClaimVersion.pcn)).scalars()]
        data["acknowledgments"] = [
            {"kind": a.kind, "reference": a.reference, "outcome": a.outcome, "codes": a.codes, "detail": a.detail,
             "file_id": a.file_id, "at": a.at}
            for a in session.execute(select(Acknowledgment).where(Acknowledgment.batch_id == batch_id)
                                     .order_by(Acknowledgment.id)).scalars()]
    return data


INBOUND_SORTS = {"id": InboundFile.id, "received_at": InboundFile.received_at, "name": InboundFile.name,
                 "status": InboundFile.status, "clearinghouse": InboundFile.clearinghouse, "size": InboundFile.size}


def inbound_rows(*, status: str | None = None, clearinghouse: str | None = None, kind: str | None = None,
                 sort: str = "id", descending: bool = True, limit: int = 500, cursor: int | None = None
                 ) -> list[dict]:
    """Inbound files, newest first, with what became of them and how often they were delivered."""
    deliveries = func.count(InboundDelivery.id)
    column = INBOUND_SORTS[sort]
    query = (select(InboundFile, deliveries).outerjoin(InboundDelivery, InboundDelivery.file_id == InboundFile.id)
             .group_by(InboundFile.id))
    if status:
        query = query.where(InboundFile.status == status)
    if clearinghouse:
        query = query.where(InboundFile.clearinghouse == clearinghouse)
    if kind:
        query = query.where(InboundFile.kinds.contains(kind))
    if cursor is not None:
        query = query.where(InboundFile.id < cursor)
    order = column.desc() if descending else column.asc()
    with runtime().store.transaction() as session:
        return [{"id": f.id, "name": f.name, "clearinghouse": f.clearinghouse, "kinds": f.kinds or "",
                 "status": f.status, "size": f.size, "received_at": f.received_at, "processed_at": f.processed_at,
                 "deliveries": n, "error": f.error}
                for f, n in session.execute(query.order_by(order, InboundFile.id.desc()).limit(limit))]


def inbound_detail(file_id: int) -> dict:
    _exists(InboundFile, file_id, "inbound file")
    with runtime().store.transaction() as session:
        row = session.get(InboundFile, file_id)
        if row is None:
            raise ApiError(404, "not_found", f"no inbound file #{file_id}")
        return {
            "id": row.id, "name": row.name, "clearinghouse": row.clearinghouse, "sha256": row.sha256,
            "size": row.size, "kinds": row.kinds, "status": row.status, "error": row.error,
            "received_at": row.received_at, "processed_at": row.processed_at,
            "kept": bool(row.stored_path) and Path(row.stored_path).is_file(),
            "summary": json.loads(row.summary) if row.summary else None,
            "validation": json.loads(row.validation) if row.validation else [],
            "deliveries": [{"name": d.name, "clearinghouse": d.clearinghouse, "at": d.at, "duplicate": d.duplicate}
                           for d in session.execute(select(InboundDelivery).where(InboundDelivery.file_id == file_id)
                                                    .order_by(InboundDelivery.id)).scalars()],
            "acknowledgments": [{"kind": a.kind, "reference": a.reference, "outcome": a.outcome, "detail": a.detail,
                                 "matched": a.matched, "batch_id": a.batch_id}
                                for a in session.execute(select(Acknowledgment).where(Acknowledgment.file_id == file_id)
                                                         .order_by(Acknowledgment.id)).scalars()],
            "remittances": [{"id": r.id, "payer": r.payer_name, "payer_key": r.payer_key,
                             "trace_number": r.trace_number, "amount": r.amount, "claims": r.claim_count}
                            for r in session.execute(select(Remittance).where(Remittance.file_id == file_id)
                                                     .order_by(Remittance.id)).scalars()],
        }


def reprocess_inbound_file(file_id: int, who: str) -> dict:
    """Post a quarantined inbound file again from its kept copy (:func:`claimbridge.inbound.reprocess_file`)."""
    from claimbridge.inbound import reprocess_file

    _exists(InboundFile, file_id, "inbound file")
    done = reprocess_file(runtime(), file_id, actor=who)
    answer = {"id": file_id, "name": done.name, "status": done.status, "reason": done.reason, "counts": done.counts}
    if done.status == "posted":
        answer.update(money=plain(done.money), hook_errors=done.hook_errors)
    return answer


def _audit_entry(who: str, action: str, detail: str):
    from claimbridge.store.models import AuditEntry

    return AuditEntry(actor=who, action=action, detail=detail)


def _entry(kind: str, name: str):
    entries = runtime().settings.sources if kind == "source" else runtime().settings.clearinghouses
    for entry in entries:
        if entry.name == name:
            return entry
    raise ApiError(404, "not_found", f"no {kind} named {name!r} in the configuration")


def test_connector(kind: str, name: str) -> dict:
    """Open the connector named ``name`` and run its ``check()``; the outcome (not the secret settings) is audited."""
    rt = runtime()
    entry = _entry(kind, name)
    ok, error, seconds = rt.connectors.test(kind, entry)
    with rt.store.transaction() as session:
        audit(session, f"{kind}_test", f"{kind} {name}: " + ("ok" if ok else f"failed: {error}"))
    return {"name": name, "kind": kind, "type": entry.type, "ok": ok, "error": error, "seconds": seconds}


def run_source_now(name: str) -> dict:
    """Pull the source ``name`` now (from its bookmarks), then build and scrub claims for what came in."""
    from claimbridge import pipeline

    rt = runtime()
    _entry("source", name)
    pulled = pipeline.pull(rt, [name])
    built = pipeline.build_claims(rt)
    outcome = pulled.sources[0] if pulled.sources else None
    data = {"name": name, "ok": not pulled.errors and not built.errors,
            "status": outcome.status if outcome else "disabled",
            "pulled": plain(asdict(outcome)) if outcome else None,
            "claims": built.counts(), "errors": pulled.errors + built.errors}
    with rt.store.transaction() as session:
        audit(session, "source_run", f"source {name}: {data['status']}; "
              + ", ".join(f"{k} {v}" for k, v in data["claims"].items() if v)
              + (f"; errors: {'; '.join(data['errors'])}" if data["errors"] else ""))
    return data


def last_sync(session, name: str) -> dict | None:
    last = session.execute(select(SyncRun).where(SyncRun.source == name).order_by(SyncRun.id.desc()).limit(1)
                           ).scalar_one_or_none()
    if last is None:
        return None
    return {"status": last.status, "started_at": last.started_at, "finished_at": last.finished_at,
            "records_read": last.records_read, "records_new": last.records_new,
            "records_quarantined": last.records_quarantined, "error": last.error}


def connectors_view() -> dict:
    """Sources and clearinghouses with their latest activity, and every scheduled job with last/next run."""
    from claimbridge.schedule.service import describe_jobs

    rt = runtime()
    jobs = describe_jobs(rt)
    by_job = {job["job"]: job for job in jobs}
    sources, clearinghouses = [], []
    with rt.store.transaction() as session:
        for entry in rt.settings.sources:
            job = by_job.get(f"pull:{entry.name}")
            sources.append({"name": entry.name, "type": entry.type, "enabled": entry.enabled,
                            "last_run": last_sync(session, entry.name),
                            "next_run": job["next_run"] if job else None,
                            "job": job})
        for entry in rt.settings.clearinghouses:
            batch = session.execute(select(Batch).where(Batch.clearinghouse == entry.name)
                                    .order_by(Batch.id.desc()).limit(1)).scalar_one_or_none()
            received = session.execute(select(func.count(InboundFile.id), func.max(InboundFile.received_at))
                                       .where(InboundFile.clearinghouse == entry.name)).one()
            quarantined = session.execute(select(func.count(InboundFile.id)).where(
                InboundFile.clearinghouse == entry.name, InboundFile.status == "quarantined")).scalar_one()
            job = by_job.get(f"responses:{entry.name}")
            clearinghouses.append({
                "name": entry.name, "type": entry.type, "enabled": entry.enabled,
                "last_batch": None if batch is None else {"id": batch.id, "status": batch.status,
                                                          "ack_status": batch.ack_status,
                                                          "created_at": batch.created_at, "error": batch.error},
                "files_received": received[0], "last_file_at": received[1], "files_quarantined": quarantined,
                "next_run": job["next_run"] if job else None, "job": job})
    return {"sources": sources, "clearinghouses": clearinghouses, "jobs": jobs}


def plugins_view() -> dict:
    host = runtime().plugins
    return {"plugins": [asdict(info) for info in host.describe()],
            "failed": [f._asdict() for f in host.failed], "disabled": [d._asdict() for d in host.disabled]}


# -- denials and claims ------------------------------------------------------------------------------------------

ID = _path("id", "numeric id", {"type": "integer"})
REASON_BODY = {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}


@operation("GET", "/denials/{id}", "One denial: claim, codes with their texts, what to do, history (audited)",
           parameters=[_path("id", "denial id", {"type": "integer"})])
def denial_show(id: int):  # noqa: A002 - the path parameter's name
    return _json(plain(denial_detail(id)))


def resubmit(denial_id: int, reason: str, who: str) -> dict:
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import resubmit_denial

    rt = runtime()
    _exists(Denial, denial_id, "denial")
    recorder = StatusRecorder()
    with rt.store.transaction() as session:
        done = resubmit_denial(session, denial_id, settings=rt.settings, plugins=rt.plugins, reviewer=rt.reviewer(),
                               recorder=recorder, actor=who, reason=reason)
        new, old = done.replacement.version, done.replacement.replaced
        data = {"denial_id": done.denial_id, "pcn": done.pcn, "replacement": new.pcn, "version": new.version,
                "frequency": new.frequency, "status": new.status, "ready": done.replacement.ready,
                "hold_reason": None if done.replacement.ready else done.replacement.review.hold_reason(),
                "replaced": old.pcn, "replaced_status": old.status, "resolved": list(done.resolved)}
    recorder.announce(rt.plugins)
    return data


@operation("POST", "/denials/{id}/resubmit", "Correct and resubmit: a replacement claim (frequency 7) is built",
           role="biller", parameters=[_path("id", "denial id", {"type": "integer"})],
           body={"type": "object", "properties": {"reason": {"type": "string"}}})
def denial_resubmit(id: int):  # noqa: A002 - the path parameter's name
    data = request.get_json(silent=True) or {}
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "send a JSON object")
    return _json(resubmit(id, _optional_text(data, "reason"), actor()))


def release(pcn: str, reason: str, who: str) -> dict:
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import release_claim

    rt = runtime()
    with rt.store.transaction() as session:
        if session.execute(select(ClaimVersion.id).where(ClaimVersion.pcn == pcn.upper())).first() is None:
            raise ApiError(404, "not_found", f"no claim version with PCN {pcn.upper()}")
    recorder = StatusRecorder()
    with rt.store.transaction() as session:
        outcome, answered = release_claim(session, pcn.upper(), settings=rt.settings, plugins=rt.plugins,
                                          reviewer=rt.reviewer(), recorder=recorder, actor=who, reason=reason)
        data = {"pcn": outcome.version.pcn, "frequency": outcome.version.frequency, "status": outcome.version.status,
                "ready": outcome.ready, "hold_reason": None if outcome.ready else outcome.review.hold_reason(),
                "replaces": outcome.replaced.pcn, "replaced_status": outcome.replaced.status,
                "denials_resolved": answered}
    recorder.announce(rt.plugins)
    return data


@operation("POST", "/claims/{pcn}/release", "Release a held replacement claim with a reason", role="biller",
           parameters=[_path("pcn", "PCN of the held replacement")], body=REASON_BODY)
def claim_release(pcn: str):
    return _json(release(pcn, _required_text(_body(), "reason"), actor()))


# -- remittances -------------------------------------------------------------------------------------------------


@operation("GET", "/remittances", "Posted remittances (payments), newest payment first",
           parameters=[_query("payer", "payer id or part of its name"), _query("method", "payment method (ACH, CHK …)"),
                       *PAGE_PARAMS])
def remittances_list():
    limit, cursor, count = _page_args()
    rows = remittance_rows(request.args.get("payer"), request.args.get("method"))
    return _json(page_of(rows, limit, cursor, count))


@operation("GET", "/remittances/{id}", "One remittance: payment, balancing, posted claims with lines, provider "
                                      "adjustments", parameters=[_path("id", "remittance id", {"type": "integer"})])
def remittance_show(id: int):  # noqa: A002 - the path parameter's name
    return _json(plain(remittance_detail(id)))


@operation("GET", "/remittances/unmatched", "Claim payments whose PCN named no claim, oldest first",
           parameters=[_query("payer", "payer id or part of its name"), *PAGE_PARAMS])
def unmatched_list():
    limit, cursor, count = _page_args()
    return _json(page_of(unmatched_rows(request.args.get("payer")), limit, cursor, count))


def match(remittance_claim_id: int, pcn: str, reason: str, who: str) -> dict:
    from claimbridge.claims.denials import code_lists_for
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.posting.manual import match_by_hand

    rt = runtime()
    _exists(RemittanceClaim, remittance_claim_id, "claim payment")
    recorder = StatusRecorder()
    with rt.store.transaction() as session:
        done = match_by_hand(session, remittance_claim_id, pcn, reason=reason, actor=who, recorder=recorder,
                             codes=code_lists_for(rt.config_path))
    recorder.announce(rt.plugins)
    return plain(done)


def dismiss(remittance_claim_id: int, reason: str, who: str) -> dict:
    from claimbridge.claims.worklist import dismiss_unmatched

    _exists(RemittanceClaim, remittance_claim_id, "claim payment")
    with runtime().store.transaction() as session:
        return dismiss_unmatched(session, remittance_claim_id, reason=reason, actor=who)


@operation("POST", "/remittances/unmatched/{id}/match", "Match an unmatched claim payment to a claim and post it",
           role="biller", parameters=[_path("id", "claim payment id (from the unmatched list)", {"type": "integer"})],
           body={"type": "object", "required": ["pcn", "reason"],
                 "properties": {"pcn": {"type": "string"}, "reason": {"type": "string"}}})
def unmatched_match(id: int):  # noqa: A002 - the path parameter's name
    data = _body()
    return _json(match(id, _required_text(data, "pcn"), _required_text(data, "reason"), actor()))


@operation("POST", "/remittances/unmatched/{id}/dismiss", "Take a claim payment off the unmatched queue",
           role="biller", parameters=[_path("id", "claim payment id (from the unmatched list)", {"type": "integer"})],
           body=REASON_BODY)
def unmatched_dismiss(id: int):  # noqa: A002 - the path parameter's name
    return _json(plain(dismiss(id, _required_text(_body(), "reason"), actor())))


# -- batches and inbound files -----------------------------------------------------------------------------------


@operation("GET", "/batches", "Outbound batches (837 interchanges) with their acknowledgment status, newest first",
           parameters=[_query("status", "created, validated, transmitting, submitted or failed"),
                       _query("clearinghouse", "only this clearinghouse"),
                       _query("ack", "accepted, accepted_with_errors, rejected, or none (no answer yet)"),
                       *PAGE_PARAMS])
def batches_list():
    limit, cursor, count = _page_args()
    filters = {k: request.args.get(k) or None for k in ("status", "clearinghouse", "ack")}
    rows = batch_rows(**filters, limit=limit + 1, cursor=cursor)
    page: dict[str, Any] = {"items": plain(rows[:limit]),
                            "next_cursor": str(rows[limit - 1]["id"]) if len(rows) > limit else None}
    if count:
        page["total"] = len(batch_rows(**filters, limit=10**9))
    return _json(page)


@operation("GET", "/batches/{id}", "One batch: its claims and the TA1/999 answers",
           parameters=[_path("id", "batch id", {"type": "integer"})])
def batch_show(id: int):  # noqa: A002 - the path parameter's name
    return _json(plain(batch_detail(id)))


@operation("GET", "/inbound-files", "Files received from clearinghouses, newest first",
           parameters=[_query("status", "posted or quarantined"), _query("clearinghouse", "only this clearinghouse"),
                       _query("kind", "835, 999, TA1 or 277CA"), *PAGE_PARAMS])
def inbound_list():
    limit, cursor, count = _page_args()
    filters = {k: request.args.get(k) or None for k in ("status", "clearinghouse", "kind")}
    rows = inbound_rows(**filters, limit=limit + 1, cursor=cursor)
    page: dict[str, Any] = {"items": plain(rows[:limit]),
                            "next_cursor": str(rows[limit - 1]["id"]) if len(rows) > limit else None}
    if count:
        page["total"] = len(inbound_rows(**filters, limit=10**9))
    return _json(page)


@operation("GET", "/inbound-files/{id}", "One inbound file: deliveries, pyx12 findings, acknowledgments, remittances",
           parameters=[_path("id", "inbound file id", {"type": "integer"})])
def inbound_show(id: int):  # noqa: A002 - the path parameter's name
    return _json(plain(inbound_detail(id)))


@operation("POST", "/inbound-files/{id}/reprocess", "Post a quarantined file again from its kept copy",
           role="biller", parameters=[_path("id", "inbound file id", {"type": "integer"})])
def inbound_reprocess(id: int):  # noqa: A002 - the path parameter's name
    return _json(reprocess_inbound_file(id, actor()))


# -- connectors, jobs, plugins -----------------------------------------------------------------------------------


@operation("GET", "/clearinghouses", "Configured clearinghouses: last batch, files received and quarantined, next run")
def clearinghouses_list():
    return _json({"items": plain(connectors_view()["clearinghouses"])})


@operation("POST", "/sources/{name}/test", "Test the connection to an EHR source (its check())", role="admin",
           parameters=[_path("name", "source name")])
def source_test(name: str):
    return _json(test_connector("source", name))


@operation("POST", "/clearinghouses/{name}/test", "Test the connection to a clearinghouse (its check())",
           role="admin", parameters=[_path("name", "clearinghouse name")])
def clearinghouse_test(name: str):
    return _json(test_connector("clearinghouse", name))


@operation("POST", "/sources/{name}/run", "Pull one source now, then build and scrub claims", role="admin",
           parameters=[_path("name", "source name")])
def source_run(name: str):
    return _json(run_source_now(name))


@operation("GET", "/jobs", "Scheduled jobs: trigger, last run, next run, backoff")
def jobs_list():
    from claimbridge.schedule.service import describe_jobs

    return _json({"items": plain(describe_jobs(runtime()))})


@operation("GET", "/plugins", "Loaded plugins with what each registers; failed and disabled ones")
def plugins_list():
    return _json(plain(plugins_view()))
