"""eligibility.coverage_inactive: what the payer's 271 said about coverage on the date of service."""

from __future__ import annotations

import datetime as dt

from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.rules.eligibility import CoverageInactive

from .conftest import context, demo_claim, facts_of, run_rule


def _answers(claim, *answers):
    facts = facts_of(claim)
    return context(eligibility={(facts.patient_key, facts.payer_id): list(answers)})


def _answer(day, active, at=dt.datetime(2026, 11, 1, 9, 0), check=7, status=None):
    return {"service_date": day, "active": active, "answered_at": at, "check": check,
            "coverage_status": status or ("active" if active else "inactive")}


def test_an_inactive_answer_for_the_date_of_service_is_an_error():
    claim = demo_claim("enc-002")
    day = facts_of(claim).lines[0].service_date
    [finding] = run_rule(CoverageInactive, claim, context=_answers(claim, _answer(day, False)))
    assert finding.severity is Severity.ERROR and finding.rule == "eligibility.coverage_inactive"
    assert f"(check #7) says coverage is inactive on {day}" in finding.message
    assert "on 2026-11-01" in finding.message


def test_the_newest_answer_for_the_day_counts_and_other_days_do_not():
    claim = demo_claim("enc-002")
    day = facts_of(claim).lines[0].service_date
    later = _answer(day, True, at=dt.datetime(2026, 11, 2, 9, 0), check=8)
    assert run_rule(CoverageInactive, claim, context=_answers(claim, _answer(day, False), later)) == []
    assert run_rule(CoverageInactive, claim, context=_answers(
        claim, _answer(day - dt.timedelta(days=1), False))) == []
    assert run_rule(CoverageInactive, claim, context=_answers(claim, _answer(day, None))) == []
    assert run_rule(CoverageInactive, claim) == []  # nothing asked: nothing to say
    pending = _answer(day, False, status="inactive_pending_update")
    [finding] = run_rule(CoverageInactive, claim, context=_answers(claim, pending))
    assert "coverage is inactive pending update" in finding.message
