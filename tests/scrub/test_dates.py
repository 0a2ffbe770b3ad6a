"""dates.* rules."""

from __future__ import annotations

import datetime as dt

from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.rules import dates

from .conftest import TODAY, context, demo_claim, item, run_rule


def test_service_in_the_future():
    claim = demo_claim("enc-002")
    assert run_rule(dates.FutureService, claim) == []
    item(claim)["servicedDate"] = (TODAY + dt.timedelta(days=1)).isoformat()
    [finding] = run_rule(dates.FutureService, claim)
    assert "after today (2026-11-27)" in finding.message
    assert run_rule(dates.FutureService, claim, context=context(today=TODAY + dt.timedelta(days=1))) == []


def test_service_before_birth_never_shows_the_birth_date():
    claim = demo_claim("enc-002")  # patient born 1988-04-17
    assert run_rule(dates.BeforeBirth, claim) == []
    item(claim)["servicedDate"] = "1987-01-05"
    [finding] = run_rule(dates.BeforeBirth, claim)
    assert "1987-01-05, before the patient's birth date" in finding.message and "1988" not in finding.message


def test_timely_filing_warns_as_the_deadline_nears_and_errs_once_passed():
    claim = demo_claim("enc-002")  # service on 2026-11-05, 22 days before TODAY
    assert run_rule(dates.TimelyFiling, claim, timely_filing_days=90, timely_filing_warning_days=30) == []
    [warning] = run_rule(dates.TimelyFiling, claim, timely_filing_days=30, timely_filing_warning_days=10)
    assert warning.severity is Severity.WARNING
    assert "by 2026-12-05 (8 days left; test: 30 days)" in warning.message
    [error] = run_rule(dates.TimelyFiling, claim, timely_filing_days=20, timely_filing_warning_days=10)
    assert error.severity is Severity.ERROR and "past test's timely filing limit of 20 days" in error.message
    assert run_rule(dates.TimelyFiling, claim, timely_filing_days=30, timely_filing_warning_days=5) == []


def test_timely_filing_counts_from_the_earliest_line():
    claim = demo_claim("enc-007")
    item(claim, 1)["servicedDate"] = "2026-06-01"
    [error] = run_rule(dates.TimelyFiling, claim)  # default profile: 90 days
    assert error.path == "Claim.item[1].servicedDate" and "2026-06-01" in error.message
