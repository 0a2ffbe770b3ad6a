"""Dashboard analytics under ``/api/v1/reports``: AR aging, denial rates, days to payment, expected cash and the
health of connectors and scheduled jobs (see :mod:`claimbridge.web.reports` for what each counts)."""

from __future__ import annotations

from datetime import date

from flask import request

from claimbridge.store.models import utcnow
from claimbridge.web import reports, runtime
from claimbridge.web.api import ApiError, _json, _query, operation
from claimbridge.web.cache import snapshot_response

_TODAY = _query("today", "the day to age from (YYYY-MM-DD; default today, UTC)", {"type": "string",
                                                                                   "format": "date"})


def _today() -> date:
    text = request.args.get("today")
    if not text:
        return utcnow().date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "bad_request", "today must be a date, YYYY-MM-DD") from None


@operation("GET", "/reports/ar-aging", "Outstanding claims and money by age of service: 0-30, 31-60, 61-90, 90+ days",
           parameters=[_TODAY])
def report_ar_aging():
    today = _today()
    return snapshot_response(("ar_aging", today), lambda: reports.ar_aging(runtime().store, today))


@operation("GET", "/reports/denial-rates", "Claims adjudicated vs denied, by payer and by denial category")
def report_denial_rates():
    return snapshot_response("denial_rates", lambda: reports.denial_rates(runtime().store))


@operation("GET", "/reports/days-to-payment", "Median and 90th percentile days from service to 835 payment, "
                                              "by payer")
def report_days_to_payment():
    return snapshot_response("days_to_payment", lambda: reports.days_to_payment(runtime().store))


@operation("GET", "/reports/expected-cash", "Money expected from payers in each of the coming weeks",
           parameters=[_TODAY, _query("weeks", "how many weeks (1-26, default 4)",
                                      {"type": "integer", "minimum": 1, "maximum": 26})])
def report_expected_cash():
    try:
        weeks = int(request.args.get("weeks", 4))
    except ValueError:
        raise ApiError(400, "bad_request", "weeks must be a whole number") from None
    if not 1 <= weeks <= 26:
        raise ApiError(400, "bad_request", "weeks must be between 1 and 26")
    today = _today()
    return snapshot_response(("expected_cash", today, weeks), lambda: reports.expected_cash(runtime().store, today, weeks))


@operation("GET", "/reports/health", "Each source, clearinghouse and scheduled job: last run, failures, next run")
def report_health():
    return _json(reports.connector_health(runtime()))
