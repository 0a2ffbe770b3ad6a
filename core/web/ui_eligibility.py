"""The eligibility pages: upcoming sessions with what the payer said and why a session is at risk, one check in
full, and a check on demand."""

from __future__ import annotations

from flask import Blueprint, flash, g, render_template, request

from claimbridge.eligibility.assess import RISK_WORDS
from claimbridge.errors import ClaimbridgeError
from claimbridge.store.models import EligibilityCheck
from claimbridge.web import audit, runtime
from claimbridge.web.api import ApiError
from claimbridge.web.api_eligibility import eligibility_rows
from claimbridge.web.ui_operations import (
    _done,
    csv_response,
    forbidden,
    list_helpers,
    sort_args,
    sort_rows,
    wants_csv,
)

elig = Blueprint("elig", __name__)
elig.context_processor(list_helpers)


@elig.app_context_processor
def at_risk_helper():
    """``sessions_at_risk(limit)`` for the dashboard: upcoming sessions whose eligibility answer puts them at
    risk, soonest first (a small table: one row per upcoming appointment)."""
    from claimbridge.eligibility.service import list_checks
    from claimbridge.store.models import utcnow

    def sessions_at_risk(limit: int = 10) -> list[dict]:
        return list_checks(runtime().store, at_risk=True, upcoming_from=utcnow().date(), limit=limit)

    return {"sessions_at_risk": sessions_at_risk}

COLUMNS = ["id", "appointment_start", "service_date", "source", "appointment", "payer_id", "payer", "status",
           "coverage_status", "risks", "reasons", "answered_at"]
SORTS = ("id", "appointment_start", "payer_id", "status", "coverage_status")


@elig.get("/eligibility")
def eligibility():
    try:
        rows = eligibility_rows()
    except ApiError as exc:
        flash(exc.message, "error")
        rows = []
    sort, descending = sort_args(SORTS, "appointment_start", "asc")
    rows = sort_rows(rows, sort, descending)
    if wants_csv():
        flat = [{**r, "risks": " ".join(r["risks"]), "reasons": "; ".join(r["reasons"])} for r in rows]
        return csv_response(flat, COLUMNS, "eligibility.csv")
    return render_template("eligibility.html", rows=rows, risk_words=RISK_WORDS,
                           filters={k: request.args.get(k, "") for k in ("at_risk", "status", "all")})


@elig.get("/eligibility/<int:check_id>")
def eligibility_check(check_id: int):
    from claimbridge.eligibility.service import describe

    rt = runtime()
    with rt.store.transaction() as session:
        if check_id > 2**31 - 1 or session.get(EligibilityCheck, check_id) is None:
            return render_template("error.html", status=404, code="not_found",
                                   message=f"No eligibility check #{check_id}."), 404
        audit(session, "view_eligibility", f"eligibility check #{check_id}")
    return render_template("eligibility_check.html", row=describe(rt, check_id))


@elig.post("/eligibility/check")
def eligibility_ask():
    from claimbridge.eligibility.service import check_now

    if not g.principal.can("biller"):
        return forbidden("biller", "Checking eligibility")
    patient = (request.form.get("patient") or "").strip()
    if not patient:
        flash("Give the patient's EHR id (Patient/<id>).", "error")
        return _done("elig.eligibility")
    try:
        row = check_now(runtime(), patient=patient, payer=(request.form.get("payer") or "").strip() or None,
                        actor=f"web:{g.principal.username}")
    except ClaimbridgeError as exc:
        flash(str(exc), "error")
        return _done("elig.eligibility")
    with runtime().store.transaction() as session:
        audit(session, "eligibility_check", f"eligibility check #{row['id']} asked ({row['transport']}): "
              f"{row['status']}")
    if row["status"] in ("pending", "sent"):
        flash(f"Eligibility check #{row['id']} sent as a 270 file; the answer comes with the next responses fetch.",
              "info")
    else:
        said = ", ".join(row["risk_words"]) or "no risk found"
        flash(f"Eligibility check #{row['id']}: {row['status']} — {said}.", "info" if not row["risks"] else "error")
    return _done("elig.eligibility_check", check_id=row["id"])
