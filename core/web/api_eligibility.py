"""Eligibility over the API: the sessions checked (and at risk), one check with the payer's answer in words,
and a check on demand (billers)."""

from __future__ import annotations

from datetime import date

from flask import request

from claimbridge.eligibility.service import check_now, describe, list_checks
from claimbridge.store.models import EligibilityCheck, utcnow
from claimbridge.web import audit, runtime
from claimbridge.web.api import ApiError, _body, _json, _path, _query, _required_text, operation
from claimbridge.web.api_operations import actor

STATUSES = ("pending", "sent", "answered", "rejected", "failed")
CHECK_BODY = {"type": "object", "required": ["patient"], "properties": {
    "patient": {"type": "string", "description": "the EHR's patient id (Patient/<id> or the bare id)"},
    "payer": {"type": "string", "description": "payer id (default: the primary coverage's)"},
    "date": {"type": "string", "format": "date", "description": "date of service (default today)"}}}


def eligibility_rows() -> list[dict]:
    """The checks the filters of this request ask for (``at_risk``, ``status``, ``all``)."""
    status = request.args.get("status") or None
    if status is not None and status not in STATUSES:
        raise ApiError(400, "bad_request", f"status must be one of {', '.join(STATUSES)}")
    at_risk = request.args.get("at_risk", "").lower() in ("1", "true", "yes")
    everything = request.args.get("all", "").lower() in ("1", "true", "yes")
    return list_checks(runtime().store, at_risk=at_risk, status=status, limit=5000,
                       upcoming_from=None if everything else utcnow().date())


@operation("GET", "/eligibility", "Upcoming sessions' eligibility checks, soonest first, with the risks in words",
           parameters=[_query("at_risk", "true: only sessions at risk", {"type": "boolean"}),
                       _query("status", "pending, sent, answered, rejected or failed"),
                       _query("all", "true: past sessions too", {"type": "boolean"})])
def eligibility_list():
    return _json({"items": eligibility_rows()})


@operation("GET", "/eligibility/{id}", "One eligibility check: the question and the payer's answer in words "
           "(audited)", parameters=[_path("id", "eligibility check id", {"type": "integer"})])
def eligibility_show(id: int):  # noqa: A002 - the path parameter's name
    rt = runtime()
    with rt.store.transaction() as session:
        if session.get(EligibilityCheck, id) is None:
            raise ApiError(404, "not_found", f"no eligibility check #{id}")
        audit(session, "view_eligibility", f"eligibility check #{id}")
    return _json(describe(rt, id))


@operation("POST", "/eligibility/check", "Ask now about one patient (real time where the clearinghouse offers it, "
           "else as a 270 file)", role="biller", body=CHECK_BODY)
def eligibility_check():
    data = _body()
    patient = _required_text(data, "patient")
    payer = data.get("payer")
    if payer is not None and not isinstance(payer, str):
        raise ApiError(400, "bad_request", "payer must be a string")
    day = None
    if data.get("date") is not None:
        try:
            day = date.fromisoformat(str(data["date"]))
        except ValueError:
            raise ApiError(400, "bad_request", "date must be a date, YYYY-MM-DD") from None
    row = check_now(runtime(), patient=patient, payer=payer or None, service_date=day, actor=actor())
    with runtime().store.transaction() as session:
        audit(session, "eligibility_check", f"eligibility check #{row['id']} asked ({row['transport']}): "
              f"{row['status']}")
    return _json(row)
