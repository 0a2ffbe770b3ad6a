"""The JSON API, ``/api/v1``. Every operation is declared with :func:`operation`, which also writes its entry in
the OpenAPI document (``/api/v1/openapi.json``), so the two cannot drift apart.

Lists page by keyset: ``?limit=`` (1–500, default 50) and ``?cursor=`` (the ``next_cursor`` of the page before);
``?count=true`` adds the total. Errors have one shape: ``{"error": {"status", "code", "message"}}``. Money is a
string holding the exact decimal. Claims are addressed by PCN, never by anything about the patient.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import func, select

from claimbridge.errors import ClaimbridgeError, FatalError, InvalidTransition
from claimbridge.store.models import (
    AuditEntry,
    QuarantinedRecord,
    SyncRun,
)
from claimbridge.web import audit, error_response, principal, runtime
from claimbridge.web.auth import ROLES

api = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_LIMIT = 500
#: ids are 32-bit INTEGER columns on PostgreSQL
MAX_ID = 2**31 - 1


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    role: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] | None = None
    response: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    endpoint: str = ""
    status: int = 200


OPERATIONS: list[Operation] = []


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@api.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.status, exc.code, exc.message)


def operation(method: str, path: str, summary: str, *, role: str = "viewer", parameters=(), body=None,
              response=None, status: int = 200):
    """Declare an API operation: route, minimum role, OpenAPI entry."""
    if role not in ROLES:
        raise ValueError(role)

    def wrap(fn: Callable):
        @wraps(fn)
        def guarded(*args, **kwargs):
            if not 1 <= kwargs.get("id", 1) <= MAX_ID:  # beyond any row: not found (and no database overflow)
                raise ApiError(404, "not_found", f"no such record #{kwargs['id']}")
            who = principal()
            if not who.can(role):
                raise ApiError(403, "forbidden", f"this needs the {role} role; you are {who.role}")
            try:
                return fn(*args, **kwargs)
            except (FatalError, InvalidTransition) as exc:
                raise ApiError(409, "conflict", str(exc)) from exc
            except ClaimbridgeError as exc:
                raise ApiError(422, "unprocessable", str(exc)) from exc

        flask_path = path.replace("{", "<").replace("}", ">")
        for name in ("id",):
            flask_path = flask_path.replace(f"<{name}>", f"<int:{name}>")
        api.add_url_rule(flask_path, fn.__name__, guarded, methods=[method])
        OPERATIONS.append(Operation(method, path, summary, role, list(parameters), body,
                                    response or {"type": "object"}, endpoint=f"api.{fn.__name__}", status=status))
        return guarded

    return wrap


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def _path(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


PAGE_PARAMS = [_query("limit", "items per page (1–500, default 50)", {"type": "integer", "minimum": 1,
                                                                       "maximum": MAX_LIMIT}),
               _query("cursor", "next_cursor of the previous page"),
               _query("count", "true adds the total", {"type": "boolean"})]


def _page_args() -> tuple[int, int | None, bool]:
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        raise ApiError(400, "bad_request", "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "bad_request", f"limit must be between 1 and {MAX_LIMIT}")
    cursor = request.args.get("cursor")
    if cursor is not None:
        try:
            cursor = int(cursor)
        except ValueError:
            raise ApiError(400, "bad_request", "cursor must be the next_cursor of a previous page") from None
    return limit, cursor, request.args.get("count", "").lower() in ("1", "true", "yes")


def _json(data: Any, *, status: int = 200) -> Response:
    """A JSON response with an ETag; a matching If-None-Match gets 304."""
    body = json.dumps(data, separators=(",", ":"), default=str)
    tag = hashlib.sha256(body.encode()).hexdigest()[:32]
    response = Response(body, status=status, mimetype="application/json")
    response.set_etag(tag)
    if status == 200 and request.if_none_match.contains(tag):
        return Response(status=304, headers={"ETag": f'"{tag}"'})
    return response


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "bad_request", "send a JSON object (Content-Type: application/json)")
    return data


def _required_text(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "bad_request", f"{key} is required (a non-empty string)")
    return value.strip()


# -- who am I ------------------------------------------------------------------------------------------------


@operation("GET", "/me", "The signed-in user and role")
def me():
    who = principal()
    return _json({"username": who.username, "role": who.role, "via": who.via})


# -- claims --------------------------------------------------------------------------------------------------

CLAIM_ROW = {"type": "object", "properties": {
    "pcn": {"type": "string"}, "status": {"type": "string"}, "version": {"type": "integer"},
    "frequency": {"type": "string"}, "source": {"type": "string"}, "payer": {"type": "string", "nullable": True},
    "provider": {"type": "string", "nullable": True},
    "service_date": {"type": "string", "format": "date", "nullable": True}, "hold_reason": {"type": "string", "nullable": True},
    "updated_at": {"type": "string", "format": "date-time"}}}


def _page_schema(item: dict) -> dict:
    return {"type": "object", "properties": {"items": {"type": "array", "items": item},
                                             "next_cursor": {"type": "string", "nullable": True},
                                             "total": {"type": "integer"}}}


@operation("GET", "/claims", "Claims, newest first, by status and source",
           parameters=[_query("status", "only claims whose current version has this status"),
                       _query("source", "only claims from this EHR source"),
                       _query("payer", "payer id (NIIP)"), _query("provider", "rendering provider NPI"),
                       _query("service_from", "first date of service on or after (YYYY-MM-DD)", {"type": "string",
                                                                                                 "format": "date"}),
                       _query("service_to", "first date of service on or before (YYYY-MM-DD)", {"type": "string",
                                                                                               "format": "date"}),
                       _query("patient", "the patient key a claim detail shows (opaque, not a name)"),
                       *PAGE_PARAMS],
           response=_page_schema(CLAIM_ROW))
def claims_list():
    from claimbridge.web.claims_query import count_claims, list_claims

    limit, cursor, count = _page_args()
    filters = _claim_filters()
    with runtime().store.transaction() as session:
        rows = list_claims(session, filters, limit=limit + 1, cursor=cursor)
        items = [{"pcn": v.pcn, "status": c.status, "version": v.version, "frequency": v.frequency,
                  "source": source, "payer": c.payer_id, "provider": c.rendering_npi,
                  "service_date": c.service_date.isoformat() if c.service_date else None,
                  "hold_reason": v.hold_reason, "updated_at": c.updated_at.isoformat()}
                 for c, v, source in rows[:limit]]
        page: dict[str, Any] = {"items": items,
                                "next_cursor": str(rows[limit - 1][0].id) if len(rows) > limit else None}
        if count:
            page["total"] = count_claims(session, filters)
    return _json(page)


def _claim_filters():
    """The claims list's filters from the query parameters (a bad date is a 400)."""
    from claimbridge.web.claims_query import BadFilter, ClaimFilters

    try:
        return ClaimFilters.from_args(request.args)
    except BadFilter as exc:
        raise ApiError(400, "bad_request", str(exc)) from None


@operation("GET", "/claims/{pcn}", "One claim version: FHIR Claim, findings, history, 837 segments (audited)",
           parameters=[_path("pcn", "patient control number of any version")])
def claim_detail(pcn: str):
    from claimbridge.web.claims_query import claim_view

    store = runtime().store
    with store.transaction() as session:
        view = claim_view(session, pcn)
        if view is None:
            raise ApiError(404, "not_found", f"no claim version with PCN {pcn.upper()}")
        version, claim = view.version, view.claim
        audit(session, "view_claim", f"{version.pcn} (api)", claim_id=claim.id)
        data = {
            "pcn": version.pcn, "version": version.version, "current_version": claim.current_version,
            "status": version.status, "claim_status": claim.status, "frequency": version.frequency,
            "source": view.source, "hold_reason": version.hold_reason, "payer": claim.payer_id,
            "provider": claim.rendering_npi, "patient": claim.patient_key,
            "service_date": claim.service_date.isoformat() if claim.service_date else None,
            "payer_claim_number": version.payer_claim_number,
            "findings": json.loads(version.findings or "[]"),
            "versions": [{"pcn": p, "version": n, "status": s, "frequency": f} for p, n, s, f in view.versions],
            "history": [{"at": e.at.isoformat(), "version": e.version, "from": e.from_status, "to": e.to_status,
                         "actor": e.actor, "reason": e.reason} for e in view.events],
            "x12_segments": (version.x12_segments or "").splitlines(),
            "fhir": json.loads(version.fhir) if version.fhir else None,
        }
    return _json(data)


@operation("GET", "/held-claims", "Held claims with what to fix, oldest first")
def held():
    from claimbridge.claims.queries import held_claims

    return _json({"items": held_claims(runtime().store)})


@operation("POST", "/claims/{pcn}/overrides", "Let one scrub finding of a held claim pass, with a reason",
           role="biller", parameters=[_path("pcn", "PCN of the held claim version")],
           body={"type": "object", "required": ["rule", "reason"],
                 "properties": {"rule": {"type": "string"}, "reason": {"type": "string"}}})
def claim_override(pcn: str):
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.review import override_finding

    data = _body()
    rule, reason = _required_text(data, "rule"), _required_text(data, "reason")
    rt = runtime()
    recorder = StatusRecorder()
    with rt.store.transaction() as session:
        review = override_finding(session, rt.reviewer(), pcn, rule, reason=reason,
                                  actor=f"web:{principal().username}", recorder=recorder)
    recorder.announce(rt.plugins)
    return _json({"pcn": pcn.upper(), "rule": rule, "held": bool(review.blocking),
                  "hold_reason": review.hold_reason() if review.blocking else None})


# -- quarantine ----------------------------------------------------------------------------------------------


@operation("GET", "/quarantine", "Records and files a source could not use, newest first",
           parameters=[_query("source", "only this source"),
                       _query("all", "true includes resolved records", {"type": "boolean"}), *PAGE_PARAMS])
def quarantine_list():
    limit, cursor, count = _page_args()
    with runtime().store.transaction() as session:
        query = select(QuarantinedRecord)
        counting = select(func.count(QuarantinedRecord.id))
        if request.args.get("source"):
            query = query.where(QuarantinedRecord.source == request.args["source"])
            counting = counting.where(QuarantinedRecord.source == request.args["source"])
        if request.args.get("all", "").lower() not in ("1", "true", "yes"):
            query = query.where(QuarantinedRecord.resolved_at.is_(None))
            counting = counting.where(QuarantinedRecord.resolved_at.is_(None))
        if cursor is not None:
            query = query.where(QuarantinedRecord.id < cursor)
        rows = session.execute(query.order_by(QuarantinedRecord.id.desc()).limit(limit + 1)).scalars().all()
        items = [{"id": r.id, "source": r.source, "stream": r.stream, "record": r.record_key, "field": r.field,
                  "reason": r.reason, "created_at": r.created_at.isoformat(),
                  "resolved_at": r.resolved_at.isoformat() if r.resolved_at else None} for r in rows[:limit]]
        page: dict[str, Any] = {"items": items, "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None}
        if count:
            page["total"] = session.execute(counting).scalar_one()
    return _json(page)


@operation("POST", "/quarantine/{id}/resolve", "Mark a quarantined record resolved", role="biller",
           parameters=[_path("id", "quarantine record id", {"type": "integer"})])
def quarantine_resolve(id: int):  # noqa: A002 - the path parameter's name
    from claimbridge.store.models import utcnow

    with runtime().store.transaction() as session:
        record = session.get(QuarantinedRecord, id)
        if record is None:
            raise ApiError(404, "not_found", f"no quarantined record #{id}")
        if record.resolved_at is None:
            record.resolved_at = utcnow()
            audit(session, "quarantine_resolve", f"#{id} {record.source}/{record.stream} {record.record_key}")
        return _json({"id": id, "resolved_at": record.resolved_at.isoformat()})


def reprocess_quarantined(record_id: int) -> dict:
    """Read the quarantined record's source again from the start (its records as the EHR has them now), then
    build and scrub claims. A record that now reads cleanly has its quarantine resolved by the sync; one that
    still fails stays (with the reason it fails for now)."""
    from claimbridge import pipeline

    rt = runtime()
    with rt.store.transaction() as session:
        record = session.get(QuarantinedRecord, record_id)
        if record is None:
            raise ApiError(404, "not_found", f"no quarantined record #{record_id}")
        source, stream, key = record.source, record.stream, record.record_key
        if record.resolved_at is not None:
            raise ApiError(409, "conflict", f"quarantined record #{record_id} is resolved already")
    entry = next((s for s in rt.settings.sources if s.name == source), None)
    if entry is None or not entry.enabled:
        raise ApiError(409, "conflict", f"source {source} is {'disabled' if entry else 'no longer configured'}; "
                                        "enable or add it, or resolve the record by hand")
    pulled = pipeline.pull(rt, [source], reread=True)
    built = pipeline.build_claims(rt)
    with rt.store.transaction() as session:
        resolved = session.get(QuarantinedRecord, record_id).resolved_at is not None
        latest = session.execute(select(QuarantinedRecord).where(
            QuarantinedRecord.source == source, QuarantinedRecord.stream == stream,
            QuarantinedRecord.record_key == key, QuarantinedRecord.resolved_at.is_(None))
            .order_by(QuarantinedRecord.id.desc()).limit(1)).scalar_one_or_none()
        still = None if latest is None else {"id": latest.id, "field": latest.field, "reason": latest.reason}
        outcome = "now reads cleanly" if resolved else ("still quarantined" if still else "not read this time")
        audit(session, "quarantine_reprocess", f"#{record_id} {source}/{stream} {key}: {outcome}")
    done = pulled.sources[0] if pulled.sources else None
    return {"id": record_id, "source": source, "stream": stream, "record": key, "resolved": resolved,
            "still_quarantined": still, "released": done.released if done else 0,
            "claims": built.counts(), "errors": pulled.errors + built.errors}


@operation("POST", "/quarantine/{id}/reprocess", "Read the record's source again; a record that now reads cleanly "
           "is resolved", role="biller", parameters=[_path("id", "quarantine record id", {"type": "integer"})])
def quarantine_reprocess(id: int):  # noqa: A002 - the path parameter's name
    return _json(reprocess_quarantined(id))


# -- denials -------------------------------------------------------------------------------------------------


@operation("GET", "/denials", "The denial work queue with totals by category",
           parameters=[_query("status", "open (default), resolved or all"), _query("category", "denial category"),
                       _query("action", "next action"), _query("payer", "payer id or part of its name")])
def denials_list():
    from claimbridge.claims.worklist import list_denials

    status = request.args.get("status", "open")
    if status not in ("open", "resolved", "all"):
        raise ApiError(400, "bad_request", "status must be open, resolved or all")
    queue = list_denials(runtime().store, status=None if status == "all" else status,
                         category=request.args.get("category"), action=request.args.get("action"),
                         payer=request.args.get("payer"))
    return _json(queue.to_dict())


@operation("POST", "/denials/{id}/resolve", "Record what was done about a denial", role="biller",
           parameters=[_path("id", "denial id", {"type": "integer"})],
           body={"type": "object", "required": ["resolution", "reason"],
                 "properties": {"resolution": {"type": "string", "enum": ["appeal", "write_off", "bill_patient",
                                                                          "rebill_other_payer", "dismiss"]},
                                "reason": {"type": "string"}}})
def denial_resolve(id: int):  # noqa: A002 - the path parameter's name
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.worklist import RESOLUTIONS, resolve_denial

    data = _body()
    resolution, reason = _required_text(data, "resolution"), _required_text(data, "reason")
    if resolution not in RESOLUTIONS:
        raise ApiError(400, "bad_request", f"resolution must be one of {', '.join(RESOLUTIONS)}")
    rt = runtime()
    recorder = StatusRecorder()
    with rt.store.transaction() as session:
        done = resolve_denial(session, id, resolution=resolution, reason=reason,
                              actor=f"web:{principal().username}", recorder=recorder)
    recorder.announce(rt.plugins)
    return _json({"denial_id": done.denial_id, "resolution": done.resolution, "pcn": done.pcn,
                  "claim_status": done.claim_status, "resolved": list(done.resolved)})


# -- sources, reports, audit -----------------------------------------------------------------------------------


@operation("GET", "/sources", "Configured EHR sources with their last sync run")
def sources():
    rt = runtime()
    items = []
    with rt.store.transaction() as session:
        for entry in rt.settings.sources:
            last = session.execute(select(SyncRun).where(SyncRun.source == entry.name)
                                   .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()
            items.append({"name": entry.name, "type": entry.type, "enabled": entry.enabled,
                          "last_run": None if last is None else {
                              "status": last.status, "started_at": last.started_at.isoformat(),
                              "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                              "records_read": last.records_read, "records_new": last.records_new,
                              "records_quarantined": last.records_quarantined, "error": last.error}})
    return _json({"items": items})


@operation("GET", "/reports/revenue", "Money billed, paid, adjusted, patient responsibility; open denials")
def revenue():
    from claimbridge.posting.report import revenue_summary
    from claimbridge.web.cache import snapshot_response

    return snapshot_response("revenue", lambda: revenue_summary(runtime().store))


@operation("GET", "/reports/claims-by-status", "How many claims are in each status")
def claims_by_status():
    from claimbridge.web.cache import snapshot_response
    from claimbridge.web.reports import claims_by_status as by_status

    return snapshot_response("claims_by_status", lambda: {"items": [
        {"status": s, "count": n} for s, n in by_status(runtime().store).items()]})


@operation("GET", "/audit", "The audit log, newest first (append-only)", role="admin", parameters=PAGE_PARAMS)
def audit_log():
    limit, cursor, count = _page_args()
    with runtime().store.transaction() as session:
        query = select(AuditEntry)
        if cursor is not None:
            query = query.where(AuditEntry.id < cursor)
        rows = session.execute(query.order_by(AuditEntry.id.desc()).limit(limit + 1)).scalars().all()
        items = [{"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "action": r.action, "claim_id": r.claim_id,
                  "detail": r.detail} for r in rows[:limit]]
        page: dict[str, Any] = {"items": items, "next_cursor": str(rows[limit - 1].id) if len(rows) > limit else None}
        if count:
            page["total"] = session.execute(select(func.count(AuditEntry.id))).scalar_one()
    return _json(page)


# -- the OpenAPI document ------------------------------------------------------------------------------------

ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["status", "code", "message"],
    "properties": {"status": {"type": "integer"}, "code": {"type": "string"}, "message": {"type": "string"},
                   "problems": {"type": "array", "items": {"type": "string"}}}}}}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary, "operationId": op.endpoint.split(".", 1)[1],
            "description": f"Needs the {op.role} role.",
            "parameters": op.parameters,
            "responses": {
                str(op.status): {"description": "Created" if op.status == 201 else "OK",
                                 "content": {"application/json": {"schema": op.response}}},
                **{str(code): {"description": text, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}
                   for code, text in ((400, "bad request"), (401, "no or bad credentials"),
                                      (403, "the role does not allow it, or a stale CSRF token"),
                                      (404, "not found"), (409, "not possible in the claim's state"),
                                      (422, "the request is well formed but its data does not validate "
                                            "(error.problems lists each problem where there are several)"))},
            },
        }
        if op.body is not None:
            entry["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.0.3",
        "info": {"title": "claimbridge API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "claimbridge_session"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "paths": paths,
    }


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@api.route("/<path:anything>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(anything: str):
    raise ApiError(404, "not_found", f"no API resource /api/v1/{anything}")
