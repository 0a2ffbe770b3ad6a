"""authorizations.* rules."""

from __future__ import annotations

import datetime as dt

from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.rules import authorizations as auth

from .conftest import context, demo_claim, facts_of, run_rule

NUMBER = "PA26-0048812"  # enc-008 carries it; service on 2026-11-13, payer PSMCD


def _context(claim, *, visits_used=0, **authorization):
    facts = facts_of(claim)
    authorization.setdefault("number", NUMBER)
    return context(authorizations={(facts.patient_key, facts.payer_id): [authorization]},
                   visits_used={(facts.patient_key, facts.payer_id, authorization["number"]): visits_used})


def test_codes_the_profile_lists_need_an_authorization_number():
    assert run_rule(auth.AuthorizationRequired, demo_claim("enc-002"), authorization_required_codes=["90834"]) == []
    [finding] = run_rule(auth.AuthorizationRequired, demo_claim("enc-002"), authorization_required_codes=["90837"])
    assert "needs prior authorization for 90837" in finding.message
    assert run_rule(auth.AuthorizationRequired, demo_claim("enc-008"), authorization_required_codes=["90834"]) == []


def test_an_authorization_number_not_among_the_tracked_ones_is_a_warning():
    claim = demo_claim("enc-008")
    assert run_rule(auth.AuthorizationKnown, claim, context=_context(claim)) == []
    [finding] = run_rule(auth.AuthorizationKnown, claim, context=_context(claim, number="PA26-9999999"))
    assert finding.severity is Severity.WARNING and NUMBER in finding.message
    assert run_rule(auth.AuthorizationKnown, claim) == []  # nothing tracked: nothing to compare


def test_dates_outside_the_authorized_range():
    claim = demo_claim("enc-008")
    inside = _context(claim, start="2026-11-01", end="2026-12-31")
    assert run_rule(auth.AuthorizationDates, claim, context=inside) == []
    outside = _context(claim, start=dt.date(2026, 6, 1), end=dt.date(2026, 10, 31), codes=["90834"])
    [finding] = run_rule(auth.AuthorizationDates, claim, context=outside)
    assert "2026-11-13 is outside authorization PA26-0048812 (2026-06-01 to 2026-10-31)" in finding.message
    other_code = _context(claim, start="2026-06-01", end="2026-10-31", codes=["90837"])
    assert run_rule(auth.AuthorizationDates, claim, context=other_code) == []


def test_visit_limits_warn_before_they_run_out_and_err_once_exceeded():
    claim = demo_claim("enc-008")
    assert run_rule(auth.AuthorizationVisits, claim, context=_context(claim, visits=12, visits_used=5)) == []
    [warning] = run_rule(auth.AuthorizationVisits, claim, context=_context(claim, visits=12, visits_used=9))
    assert warning.severity is Severity.WARNING and "2 of 12 visits remain after this one" in warning.message
    [error] = run_rule(auth.AuthorizationVisits, claim, context=_context(claim, visits=12, visits_used=12))
    assert error.severity is Severity.ERROR and "allows 12 visits and 12 are already billed" in error.message
    # the last authorized visit itself is fine, with a warning
    [last] = run_rule(auth.AuthorizationVisits, claim, context=_context(claim, visits=12, visits_used=11))
    assert "0 of 12" in last.message
    # the warning threshold comes from the profile
    assert run_rule(auth.AuthorizationVisits, claim, context=_context(claim, visits=12, visits_used=9),
                    authorization_warning_visits=1) == []


def test_untracked_patients_have_no_visit_or_date_findings():
    claim = demo_claim("enc-002")
    for rule in (auth.AuthorizationDates, auth.AuthorizationVisits):
        assert run_rule(rule, claim, context=_context(demo_claim("enc-008"), visits=1, visits_used=5)) == []
