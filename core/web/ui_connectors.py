"""The connectors pages: every EHR source and clearinghouse with its latest activity and scheduled jobs; admins
test a connection, pull a source now, and add, edit or remove the connectors kept in the database.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, render_template

from claimbridge.errors import ClaimbridgeError
from claimbridge.web import api_operations as ops_api
from claimbridge.web.api import ApiError
from claimbridge.web.ui_operations import _done, csv_response, forbidden, list_helpers, wants_csv

conn = Blueprint("conn", __name__)
conn.context_processor(list_helpers)

JOB_COLUMNS = ["job", "trigger", "next_run", "last_status", "last_started_at", "last_error", "backoff_until"]


@conn.get("/connectors")
def connectors():
    view = ops_api.connectors_view()
    if wants_csv():
        rows = [{**job, "last_status": (job["last_run"] or {}).get("status"),
                 "last_started_at": (job["last_run"] or {}).get("started_at"),
                 "last_error": (job["last_run"] or {}).get("error")} for job in view["jobs"]]
        return csv_response(rows, JOB_COLUMNS, "jobs.csv")
    return render_template("connectors.html", **view)


@conn.post("/connectors/<kind>/<name>/test")
def connector_test(kind: str, name: str):
    if not g.principal.can("admin"):
        return forbidden("admin", "Testing a connection")
    if kind not in ("source", "clearinghouse"):
        return render_template("error.html", status=404, code="not_found", message="No such connector."), 404
    try:
        done = ops_api.test_connector(kind, name)
    except ApiError as exc:
        flash(exc.message, "error")
        return _done("conn.connectors")
    if done["ok"]:
        flash(f"{kind.capitalize()} {name}: the connection works ({done['seconds']} s).", "info")
    else:
        flash(f"{kind.capitalize()} {name}: the connection failed: {done['error']}", "error")
    return _done("conn.connectors")


@conn.post("/connectors/source/<name>/run")
def source_run(name: str):
    if not g.principal.can("admin"):
        return forbidden("admin", "Running a source now")
    try:
        done = ops_api.run_source_now(name)
    except (ClaimbridgeError, ApiError) as exc:
        flash(str(exc), "error")
        return _done("conn.connectors")
    pulled = done["pulled"] or {}
    claims = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done["claims"].items() if v) or "no new claims"
    text = (f"Source {name}: {done['status']}; read {pulled.get('read', 0)}, new {pulled.get('new', 0)}, "
            f"changed {pulled.get('changed', 0)}, quarantined {pulled.get('quarantined', 0)}; {claims}")
    if done["errors"]:
        text += "; " + "; ".join(done["errors"])
    flash(text, "info" if done["ok"] else "error")
    return _done("conn.connectors")
