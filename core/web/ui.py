"""Server-rendered pages: sign in and out, the dashboard, claims, the held-claims queue (override a finding).

No JavaScript is needed; forms post with the session's CSRF token. Pages that show a claim write an audit entry.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from claimbridge.errors import ClaimbridgeError
from claimbridge.web import audit, runtime
from claimbridge.web.auth import new_csrf_token, verify_password

ui = Blueprint("ui", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host) may follow a login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("ui.dashboard")
    parsed = urlparse(target)
    return target if not parsed.netloc and not parsed.scheme else url_for("ui.dashboard")


@ui.get("/healthz")
def healthz():
    return {"ok": True}


@ui.get("/favicon.ico")
def favicon():
    """Browsers ask for it on their own; an empty answer (not a redirect to /login)."""
    return "", 204


@ui.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        if not request.form.get("csrf_token") or request.form.get("csrf_token") != session.get("login_csrf"):
            return render_template("login.html", error="The form expired; try again.",
                                   login_csrf=_login_csrf()), 400
        who = verify_password(runtime().store, request.form.get("username", "").strip(),
                              request.form.get("password", ""))
        if who is None:
            time.sleep(0.2)  # slows guessing a little; the hash already costs more
            return render_template("login.html", error="Wrong username or password.",
                                   login_csrf=_login_csrf()), 401
        session.clear()
        session.permanent = True
        session.update(user_id=who.user_id, at=time.time(), csrf=new_csrf_token())
        return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=None, login_csrf=_login_csrf())


def _login_csrf() -> str:
    """The sign-in form's CSRF token: one per browser session (a new one on every GET would make a form already
    on screen stale as soon as anything else — the browser's own /favicon.ico, a second tab — loads /login)."""
    if "login_csrf" not in session:
        session["login_csrf"] = new_csrf_token()
    return session["login_csrf"]


@ui.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("ui.login"))


@ui.get("/")
def dashboard():
    from datetime import UTC, datetime

    from claimbridge.posting.report import revenue_summary
    from claimbridge.store.models import utcnow
    from claimbridge.web import reports
    from claimbridge.web.cache import report

    store = runtime().store
    today = utcnow().date()

    def totals() -> dict:
        by_status = reports.claims_by_status(store)
        return {"by_status": sorted(by_status.items()), "total": sum(by_status.values()),
                "revenue": revenue_summary(store), "aging": reports.ar_aging(store, today),
                "denials": reports.denial_rates(store), "days": reports.days_to_payment(store),
                "cash": reports.expected_cash(store, today)}

    snapshot = report(("dashboard", today), totals)
    return render_template("dashboard.html", **snapshot.value, health=reports.connector_health(runtime()),
                           as_of=datetime.fromtimestamp(snapshot.taken, UTC))


PAGE_SIZE = 50
#: a CSV export holds at most this many claims (narrow the filters for more)
CSV_LIMIT = 100_000


@ui.get("/claims")
def claims():
    from claimbridge.web.claims_query import (
        FILTERS,
        SORTS,
        BadFilter,
        ClaimFilters,
        list_claims,
        statuses_in_use,
    )
    from claimbridge.web.ui_operations import csv_response, wants_csv

    try:
        filters = ClaimFilters.from_args(request.args)
    except BadFilter as exc:
        flash(str(exc), "error")
        filters = ClaimFilters()
    sort = request.args.get("sort") if request.args.get("sort") in SORTS else None
    descending = request.args.get("dir", "asc" if sort else "desc") == "desc"
    cursor = request.args.get("cursor", type=int)
    page = max(request.args.get("page", 1, type=int), 1)
    with runtime().store.transaction() as db:
        if wants_csv():
            rows = list_claims(db, filters, limit=CSV_LIMIT, sort=sort, descending=descending)
        elif sort:
            rows = list_claims(db, filters, limit=PAGE_SIZE + 1, sort=sort, descending=descending,
                               offset=(page - 1) * PAGE_SIZE)
        else:
            rows = list_claims(db, filters, limit=PAGE_SIZE + 1, cursor=cursor or None)
        statuses = statuses_in_use(db)
    items = [{"pcn": v.pcn, "status": c.status, "version": v.version, "source": source, "payer": c.payer_id,
              "provider": c.rendering_npi, "service_date": c.service_date, "hold_reason": v.hold_reason,
              "updated_at": c.updated_at} for c, v, source in rows[:None if wants_csv() else PAGE_SIZE]]
    if wants_csv():
        return csv_response([{**item, "service_date": item["service_date"].isoformat() if item["service_date"]
                              else None, "updated_at": item["updated_at"].isoformat()} for item in items],
                            ["pcn", "status", "version", "source", "payer", "provider", "service_date",
                             "updated_at", "hold_reason"], "claims.csv")
    more = len(rows) > PAGE_SIZE
    next_cursor = rows[PAGE_SIZE - 1][0].id if more and not sort else None
    filters_shown = {k: v for k, v in request.args.items() if k in FILTERS and v}
    return render_template("claims.html", items=items, statuses=statuses, next_cursor=next_cursor,
                           next_page=page + 1 if more and sort else None, sort=sort,
                           dir="desc" if descending else "asc", filters=filters_shown)


@ui.get("/claims/<pcn>")
def claim(pcn: str):
    from claimbridge.web.claims_query import claim_view

    with runtime().store.transaction() as db:
        view = claim_view(db, pcn)
        if view is None:
            return render_template("error.html", status=404, code="not_found",
                                   message=f"No claim version with PCN {pcn.upper()}."), 404
        version = view.version
        audit(db, "view_claim", f"{version.pcn} (ui)", claim_id=view.claim.id)
        shown = {"pcn": version.pcn, "version": version.version, "status": version.status,
                 "frequency": version.frequency, "hold_reason": version.hold_reason,
                 "findings": json.loads(version.findings or "[]"),
                 "history": [{"at": e.at, "from": e.from_status, "to": e.to_status, "actor": e.actor,
                              "reason": e.reason} for e in view.events],
                 "segments": (version.x12_segments or "").splitlines(),
                 "fhir": json.dumps(json.loads(version.fhir), indent=2) if version.fhir else None}
    return render_template("claim.html", claim=shown)


@ui.get("/held")
def held():
    from claimbridge.claims.queries import held_claims

    return render_template("held.html", items=held_claims(runtime().store))


@ui.post("/claims/<pcn>/override")
def override(pcn: str):
    from claimbridge.claims.lifecycle import StatusRecorder
    from claimbridge.claims.review import override_finding

    if not g.principal.can("biller"):
        return render_template("error.html", status=403, code="forbidden",
                               message="Overriding a finding needs the biller role."), 403
    rule = request.form.get("rule", "").strip()
    reason = request.form.get("reason", "").strip()
    if not rule or not reason:
        flash("Give the reason the finding may pass.", "error")
        return redirect(url_for("ui.held"))
    rt = runtime()
    recorder = StatusRecorder()
    try:
        with rt.store.transaction() as db:
            review = override_finding(db, rt.reviewer(), pcn, rule, reason=reason,
                                      actor=f"web:{g.principal.username}", recorder=recorder)
    except ClaimbridgeError as exc:
        flash(str(exc), "error")
        return redirect(url_for("ui.held"))
    recorder.announce(rt.plugins)
    if review.blocking:
        flash(f"{pcn.upper()}: {rule} overridden; still held: {review.hold_reason()}", "info")
    else:
        flash(f"{pcn.upper()}: {rule} overridden; the claim is ready and goes out with the next submission.", "info")
    return redirect(url_for("ui.held"))
