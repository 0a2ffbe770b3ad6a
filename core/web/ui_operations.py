"""The operations pages: the denial work queue, remittances (balancing, posted claims, the unmatched queue),
batches and inbound files (each with a detail page; reprocess a quarantined file), quarantine, plugins and the
audit log (connectors are in :mod:`claimbridge.web.ui_connectors`).

Every list filters (GET parameters), sorts (``?sort=column&dir=asc|desc`` on the columns the page allows) and
exports CSV (``?format=csv``, the same filters). Actions are forms carrying the session's CSRF token; each
checks the role (a 403 page otherwise), does what the API operation of the same name does, flashes the result
and goes back to the page the form was on (:func:`_form_action`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from claimbridge.errors import ClaimbridgeError
from claimbridge.store.models import AuditEntry, QuarantinedRecord, utcnow
from claimbridge.web import api_operations as ops_api
from claimbridge.web import audit, runtime
from claimbridge.web.api import ApiError

ops = Blueprint("ops", __name__)

LIMIT = 500  # rows a page shows; CSV exports up to EXPORT_LIMIT
EXPORT_LIMIT = 100_000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


# -- helpers --------------------------------------------------------------------------------------------------


def csv_cell(value) -> str:
    """A value as a CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or CR) gets a
    leading quote; plain numbers (-12.50) stay numbers."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = value.isoformat(timespec="seconds")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, Decimal):
        text = f"{value:.2f}"
    elif isinstance(value, list | tuple):
        text = " ".join(str(v) for v in value)
    else:
        text = str(value)
    if text.startswith(_FORMULA) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_response(rows: Iterable[dict], columns: list[str], filename: str) -> Response:
    """``rows`` as a CSV download (header row = ``columns``; formula injection guarded)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(column)) for column in columns])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def wants_csv() -> bool:
    return request.args.get("format") == "csv"


def sort_args(allowed: Iterable[str], default: str, default_dir: str = "desc") -> tuple[str, bool]:
    """``?sort=`` (one of ``allowed``, else ``default``) and ``?dir=`` (asc|desc) → (column, descending)."""
    sort = request.args.get("sort", default)
    if sort not in allowed:
        sort = default
    direction = request.args.get("dir", default_dir)
    return sort, (direction if direction in ("asc", "desc") else default_dir) == "desc"


def sort_rows(rows: list[dict], sort: str, descending: bool) -> list[dict]:
    """Sort in Python (for lists the worklist functions return whole); empty values go last."""
    present = [r for r in rows if r.get(sort) is not None]
    missing = [r for r in rows if r.get(sort) is None]
    return sorted(present, key=lambda r: r[sort], reverse=descending) + missing


def forbidden(role: str, what: str):
    return render_template("error.html", status=403, code="forbidden",
                           message=f"{what} needs the {role} role; you are {g.principal.role}."), 403


def _arg(name: str) -> str | None:
    return request.args.get(name) or None


@ops.before_request
def ids_in_range():
    """An id past what the database holds is simply not there (instead of an overflow deep in the driver)."""
    for value in (request.view_args or {}).values():
        if isinstance(value, int) and not 0 < value <= ops_api.MAX_ID:
            return render_template("error.html", status=404, code="not_found", message="Nothing with that id."), 404
    return None


@ops.context_processor
def list_helpers():
    def sort_url(column: str) -> str:
        args = request.args.to_dict()
        current, descending = args.get("sort"), args.get("dir", "desc") == "desc"
        args.update(sort=column, dir="asc" if current == column and descending else "desc")
        args.pop("format", None)
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def export_url() -> str:
        args = request.args.to_dict()
        args["format"] = "csv"
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    def money(value) -> str:
        return "" if value is None else f"{value:,.2f}"

    return {"sort_url": sort_url, "export_url": export_url, "money": money,
            "sorted_by": request.args.get("sort"), "sorted_desc": request.args.get("dir", "desc") == "desc"}


def _done(endpoint: str, **values):
    return redirect(url_for(endpoint, **values))


def _error_page(exc: ApiError):
    return render_template("error.html", status=exc.status, code=exc.code, message=exc.message), exc.status


def _field(name: str) -> str:
    return request.form.get(name, "").strip()


def _actor() -> str:
    return f"web:{g.principal.username}"


def _form_action(role: str, what: str, call: Callable[[], dict], back: Response,
                 said: Callable[[dict], str | tuple[str, str]], *, needs: tuple[str, ...] = (), missing: str = ""):
    """What every action form does: without ``role``, a 403 page naming ``what``; with a form field of ``needs``
    empty, flash ``missing``; else ``call()`` the API function, flash its error or ``said(answer)`` (the text, or
    (text, category) for news that is not good); then go ``back``."""
    if not g.principal.can(role):
        return forbidden(role, what)
    if not all(_field(name) for name in needs):
        flash(missing, "error")
        return back
    try:
        done = call()
    except (ClaimbridgeError, ApiError) as exc:
        flash(str(exc), "error")
        return back
    message = said(done)
    text, category = message if isinstance(message, tuple) else (message, "info")
    flash(text, category)
    return back


# -- denials --------------------------------------------------------------------------------------------------

DENIAL_COLUMNS = ["id", "created_at", "status", "category", "action", "code", "remarks", "amount", "pcn",
                  "claim_status", "payer", "payer_key", "procedure", "resolution", "resolved_by", "resolved_at"]
DENIAL_SORTS = ("id", "created_at", "category", "action", "code", "amount", "pcn", "payer", "status")


@ops.get("/denials")
def denials():
    from claimbridge.claims.denials import ACTIONS, CATEGORIES
    from claimbridge.claims.worklist import RESOLUTIONS, list_denials

    status = request.args.get("status", "open")
    if status not in ("open", "resolved", "all"):
        status = "open"
    queue = list_denials(runtime().store, status=None if status == "all" else status,
                         category=_arg("category"), action=_arg("action"), payer=_arg("payer"))
    sort, descending = sort_args(DENIAL_SORTS, "created_at", "asc")
    rows = sort_rows(queue.rows, sort, descending)
    if wants_csv():
        return csv_response(rows, DENIAL_COLUMNS, "denials.csv")
    return render_template("denials.html", rows=rows, totals=queue.totals, status=status,
                           categories=CATEGORIES, actions=ACTIONS, resolutions=list(RESOLUTIONS),
                           filters={k: request.args.get(k, "") for k in ("category", "action", "payer")})


@ops.get("/denials/<int:denial_id>")
def denial(denial_id: int):
    from claimbridge.claims.worklist import RESOLUTIONS

    try:
        data = ops_api.denial_detail(denial_id)
    except ApiError as exc:
        return _error_page(exc)
    return render_template("denial.html", d=data, resolutions=list(RESOLUTIONS))


@ops.post("/denials/<int:denial_id>/resolve")
def denial_resolve(denial_id: int):
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import RESOLUTIONS, resolve_denial

    if not g.principal.can("biller"):
        return forbidden("biller", "Resolving a denial")
    resolution = request.form.get("resolution", "")
    reason = request.form.get("reason", "").strip()
    back = _back(denial_id)
    if resolution not in RESOLUTIONS or not reason:
        flash("Choose what was done and give the reason.", "error")
        return back
    rt = runtime()
    recorder = StatusRecorder()
    try:
        with rt.store.transaction() as db:
            done = resolve_denial(db, denial_id, resolution=resolution, reason=reason,
                                  actor=_actor(), recorder=recorder)
    except ClaimbridgeError as exc:
        flash(str(exc), "error")
        return back
    recorder.announce(rt.plugins)
    claim = f"claim {done.pcn} is {done.claim_status}" if done.claim_status else f"PCN {done.pcn} matched no claim"
    also = [f"#{i}" for i in done.resolved if i != done.denial_id]
    flash(f"Denial #{done.denial_id}: {done.resolution.replace('_', ' ')}; {claim}"
          + (f"; also resolved {', '.join(also)}" if also else ""), "info")
    return back


@ops.post("/denials/<int:denial_id>/resubmit")
def denial_resubmit(denial_id: int):
    def said(done: dict) -> str:
        state = "ready; it leaves with the next submission" if done["ready"] else f"held: {done['hold_reason']}"
        return (f"Denial #{denial_id}: {done['replacement']} (frequency {done['frequency']}) replaces "
                f"{done['replaced']}; it is {state}.")

    return _form_action("biller", "Resubmitting a denied claim",
                        lambda: ops_api.resubmit(denial_id, _field("reason"), _actor()), _back(denial_id), said)


def _back(denial_id: int):
    if request.form.get("back") == "denial":
        return _done("ops.denial", denial_id=denial_id)
    return _done("ops.denials")


@ops.post("/claims/<pcn>/release")
def claim_release(pcn: str):
    def said(done: dict) -> str:
        state = "ready" if done["ready"] else f"still held: {done['hold_reason']}"
        return f"{done['pcn']} (replaces {done['replaces']}): {state}."

    return _form_action("biller", "Releasing a replacement claim",
                        lambda: ops_api.release(pcn, _field("reason"), _actor()), _done("ui.held"), said,
                        needs=("reason",), missing="Give the reason the replacement may go.")


# -- remittances ----------------------------------------------------------------------------------------------

REMITTANCE_COLUMNS = ["id", "payment_date", "payer", "payer_key", "trace_number", "method", "amount", "claim_count",
                      "file", "posted_at"]
REMITTANCE_SORTS = ("id", "payment_date", "payer", "trace_number", "method", "amount", "claim_count", "posted_at")
UNMATCHED_COLUMNS = ["id", "remittance_id", "payer", "trace_number", "payment_date", "pcn", "status_code", "charge",
                     "paid", "patient_responsibility", "payer_claim_number", "file"]


@ops.get("/remittances")
def remittances():
    sort, descending = sort_args(REMITTANCE_SORTS, "payment_date")
    rows = sort_rows(ops_api.remittance_rows(_arg("payer"), _arg("method")), sort, descending)
    unmatched = ops_api.unmatched_rows(_arg("payer"))
    if wants_csv():
        if request.args.get("list") == "unmatched":
            return csv_response(unmatched, UNMATCHED_COLUMNS, "unmatched-remittances.csv")
        return csv_response(rows, REMITTANCE_COLUMNS, "remittances.csv")
    return render_template("remittances.html", rows=rows[:LIMIT], more=len(rows) > LIMIT, unmatched=unmatched,
                           filters={k: request.args.get(k, "") for k in ("payer", "method")})


@ops.get("/remittances/<int:remittance_id>")
def remittance(remittance_id: int):
    try:
        data = ops_api.remittance_detail(remittance_id)
    except ApiError as exc:
        return _error_page(exc)
    if wants_csv():
        return csv_response(data["claims"], ["id", "pcn", "outcome", "match", "status_code", "charge", "paid",
                                             "patient_responsibility", "allowed", "payer_claim_number"],
                            f"remittance-{remittance_id}-claims.csv")
    return render_template("remittance.html", r=data, b=data["balancing"])


@ops.post("/remittances/unmatched/<int:claim_payment>/match")
def unmatched_match(claim_payment: int):
    return _form_action(
        "biller", "Matching a claim payment",
        lambda: ops_api.match(claim_payment, _field("pcn"), _field("reason"), _actor()), _done("ops.remittances"),
        lambda done: f"Claim payment #{claim_payment} matched to {done['pcn']} and posted: {done['outcome']}; the "
                     f"claim is now {done['status']}.",
        needs=("pcn", "reason"), missing="Give the PCN of the claim and the reason it belongs to it.")


@ops.post("/remittances/unmatched/<int:claim_payment>/dismiss")
def unmatched_dismiss(claim_payment: int):
    return _form_action(
        "biller", "Dismissing a claim payment",
        lambda: ops_api.dismiss(claim_payment, _field("reason"), _actor()), _done("ops.remittances"),
        lambda done: f"Claim payment #{done['id']} (PCN {done['pcn']} as sent) dismissed.",
        needs=("reason",), missing="Give the reason it needs no posting.")


# -- batches, inbound files, quarantine -----------------------------------------------------------------------

BATCH_COLUMNS = ["id", "created_at", "clearinghouse", "status", "ack_status", "claim_count", "file_name", "isa13",
                 "submitted_at", "acked_at", "ack_detail", "error"]
INBOUND_COLUMNS = ["id", "received_at", "clearinghouse", "name", "kinds", "status", "size", "deliveries", "error"]


@ops.get("/batches")
def batches():
    sort, descending = sort_args(ops_api.BATCH_SORTS, "id")
    filters = {k: _arg(k) for k in ("status", "clearinghouse", "ack")}
    limit = EXPORT_LIMIT if wants_csv() else LIMIT + 1
    rows = ops_api.batch_rows(**filters, sort=sort, descending=descending, limit=limit)
    if wants_csv():
        return csv_response(rows, BATCH_COLUMNS, "batches.csv")
    return render_template("batches.html", rows=rows[:LIMIT], more=len(rows) > LIMIT,
                           filters={k: v or "" for k, v in filters.items()})


@ops.get("/batches/<int:batch_id>")
def batch(batch_id: int):
    """One batch: its interchange, its claims and the TA1/999 (and 277CA) answers about it (not audited, as
    ``GET /api/v1/batches/{id}`` is not)."""
    try:
        data = ops_api.batch_detail(batch_id)
    except ApiError as exc:
        return _error_page(exc)
    return render_template("batch.html", b=data)


@ops.get("/inbound")
def inbound():
    sort, descending = sort_args(ops_api.INBOUND_SORTS, "id")
    filters = {k: _arg(k) for k in ("status", "clearinghouse", "kind")}
    limit = EXPORT_LIMIT if wants_csv() else LIMIT + 1
    rows = ops_api.inbound_rows(**filters, sort=sort, descending=descending, limit=limit)
    if wants_csv():
        return csv_response(rows, INBOUND_COLUMNS, "inbound-files.csv")
    return render_template("inbound.html", rows=rows[:LIMIT], more=len(rows) > LIMIT,
                           filters={k: v or "" for k, v in filters.items()})


@ops.get("/inbound/<int:file_id>")
def inbound_file(file_id: int):
    """One inbound file: what it was, every delivery, pyx12's findings, what it answered and what it posted
    (not audited, as ``GET /api/v1/inbound-files/{id}`` is not: no claim's details are shown)."""
    try:
        data = ops_api.inbound_detail(file_id)
    except ApiError as exc:
        return _error_page(exc)
    posted = _counts_in_words(data["summary"]["counts"]) if data["summary"] else ""
    return render_template("inbound_file.html", f=data, posted=posted)


def _counts_in_words(counts: dict[str, int]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items()) if v)


@ops.post("/inbound/<int:file_id>/reprocess")
def inbound_reprocess(file_id: int):
    def said(done: dict) -> str | tuple[str, str]:
        if done["status"] != "posted":
            return f"File #{file_id} ({done['name']}) is still quarantined: {done['reason']}", "error"
        counts = _counts_in_words(done["counts"])
        return f"File #{file_id} ({done['name']}) posted" + (f": {counts}" if counts else "") + "."

    back = _done("ops.inbound_file", file_id=file_id) if request.form.get("back") == "file" else _done("ops.inbound")
    return _form_action("biller", "Reprocessing a file",
                        lambda: ops_api.reprocess_inbound_file(file_id, _actor()), back, said)


QUARANTINE_SORTS = {"id": QuarantinedRecord.id, "created_at": QuarantinedRecord.created_at,
                    "source": QuarantinedRecord.source, "stream": QuarantinedRecord.stream,
                    "record": QuarantinedRecord.record_key}
QUARANTINE_COLUMNS = ["id", "created_at", "source", "stream", "record", "field", "reason", "resolved_at"]


@ops.get("/quarantine")
def quarantine():
    sort, descending = sort_args(QUARANTINE_SORTS, "id")
    column = QUARANTINE_SORTS[sort]
    show_all = request.args.get("all") in ("1", "true", "yes")
    query = select(QuarantinedRecord)
    if _arg("source"):
        query = query.where(QuarantinedRecord.source == request.args["source"])
    if _arg("stream"):
        query = query.where(QuarantinedRecord.stream == request.args["stream"])
    if not show_all:
        query = query.where(QuarantinedRecord.resolved_at.is_(None))
    limit = EXPORT_LIMIT if wants_csv() else LIMIT + 1
    with runtime().store.transaction() as db:
        rows = [{"id": r.id, "created_at": r.created_at, "source": r.source, "stream": r.stream,
                 "record": r.record_key, "field": r.field, "reason": r.reason, "resolved_at": r.resolved_at}
                for r in db.execute(query.order_by(column.desc() if descending else column.asc(),
                                                   QuarantinedRecord.id.desc()).limit(limit)).scalars()]
    if wants_csv():
        return csv_response(rows, QUARANTINE_COLUMNS, "quarantine.csv")
    return render_template("quarantine.html", rows=rows[:LIMIT], more=len(rows) > LIMIT, show_all=show_all,
                           filters={k: request.args.get(k, "") for k in ("source", "stream")})


@ops.post("/quarantine/<int:record_id>/resolve")
def quarantine_resolve(record_id: int):
    if not g.principal.can("biller"):
        return forbidden("biller", "Resolving a quarantined record")
    with runtime().store.transaction() as db:
        record = db.get(QuarantinedRecord, record_id)
        if record is None:
            flash(f"No quarantined record #{record_id}.", "error")
            return _done("ops.quarantine")
        if record.resolved_at is None:
            record.resolved_at = utcnow()
            audit(db, "quarantine_resolve", f"#{record_id} {record.source}/{record.stream} {record.record_key}")
    flash(f"Quarantined record #{record_id} resolved.", "info")
    return _done("ops.quarantine")


def _reprocessed(done: dict) -> str | tuple[str, str]:
    where = f"Quarantined record #{done['id']} ({done['source']}/{done['stream']} {done['record']})"
    built = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done["claims"].items() if v)
    if done["resolved"]:
        return f"{where} now reads cleanly and is resolved" + (f"; {built}" if built else "") + "."
    if done["still_quarantined"]:
        return f"{where} still fails: {done['still_quarantined']['reason']}", "error"
    return (f"{where} was not read this time (gone from the source?); resolve it by hand once checked"
            + ("; " + "; ".join(done["errors"]) if done["errors"] else ""), "error")


@ops.post("/quarantine/<int:record_id>/reprocess")
def quarantine_reprocess(record_id: int):
    from claimbridge.web.api import reprocess_quarantined

    return _form_action("biller", "Reading a quarantined record again", lambda: reprocess_quarantined(record_id),
                        _done("ops.quarantine"), _reprocessed)


# -- plugins, audit -------------------------------------------------------------------------------------------

PLUGIN_COLUMNS = ["name", "version", "origin", "module", "sources", "clearinghouses", "scrub_rules",
                  "payer_profiles", "hooks"]


@ops.get("/plugins")
def plugins():
    view = ops_api.plugins_view()
    q = (request.args.get("q") or "").lower()
    rows = [p for p in view["plugins"] if not q or q in p["name"].lower() or q in p["module"].lower()]
    sort, descending = sort_args(("name", "version", "origin"), "name", "asc")
    rows = sort_rows(rows, sort, descending)
    if wants_csv():
        return csv_response(rows, PLUGIN_COLUMNS, "plugins.csv")
    return render_template("plugins.html", rows=rows, failed=view["failed"], disabled=view["disabled"], q=q)


AUDIT_SORTS = {"id": AuditEntry.id, "at": AuditEntry.at, "actor": AuditEntry.actor, "action": AuditEntry.action}
AUDIT_COLUMNS = ["id", "at", "actor", "action", "claim_id", "detail"]


@ops.get("/audit")
def audit_log():
    if not g.principal.can("admin"):
        return forbidden("admin", "The audit log")
    sort, descending = sort_args(AUDIT_SORTS, "id")
    column = AUDIT_SORTS[sort]
    query = select(AuditEntry)
    if _arg("actor"):
        query = query.where(AuditEntry.actor.contains(request.args["actor"]))
    if _arg("action"):
        query = query.where(AuditEntry.action == request.args["action"])
    limit = EXPORT_LIMIT if wants_csv() else LIMIT + 1
    with runtime().store.transaction() as db:
        rows = [{"id": a.id, "at": a.at, "actor": a.actor, "action": a.action, "claim_id": a.claim_id,
                 "detail": a.detail}
                for a in db.execute(query.order_by(column.desc() if descending else column.asc(),
                                                   AuditEntry.id.desc()).limit(limit)).scalars()]
        actions = [a for (a,) in db.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action))]
    if wants_csv():
        return csv_response(rows, AUDIT_COLUMNS, "audit-log.csv")
    return render_template("audit.html", rows=rows[:LIMIT], more=len(rows) > LIMIT, actions=actions,
                           filters={k: request.args.get(k, "") for k in ("actor", "action")})
