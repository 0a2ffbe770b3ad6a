"""Prior authorizations: codes that need one, and authorized visit counts and date ranges.

Authorizations come in :attr:`ScrubContext.authorizations` (from configuration or the EHR), keyed by
(patient_key, payer_id); each is a dict with ``number`` (the authorization number, ``""`` when unknown),
``codes`` (the codes it covers; empty: any), ``start`` and ``end`` (dates, inclusive; absent: open) and
``visits`` (the number of visits authorized; absent: no limit). :attr:`ScrubContext.visits_used` counts the
visits already billed under an authorization, on other claims: this claim is one more visit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from claimbridge.claims.scrub.base import ClaimFacts, Line, ScrubContext, ScrubRule, Severity
from claimbridge.claims.scrub.examples import EXAMPLE_SERVICE_DATE, example

PRE_AUTH = "Claim.insurance[0].preAuthRef"
#: for the examples: an authorization number
_NUMBER = "PA26-0048812"


def _tracked_as(**authorization: Any) -> Callable[[ClaimFacts], dict]:
    """For the examples: ``ScrubContext.authorizations`` tracking one authorization (number :data:`_NUMBER`
    unless given) for the example's patient and payer."""
    authorization.setdefault("number", _NUMBER)
    return lambda facts: {(facts.patient_key, facts.payer_id): [dict(authorization)]}


def _used(visits: int) -> Callable[[ClaimFacts], dict]:
    """For the examples: ``ScrubContext.visits_used`` with ``visits`` already billed under :data:`_NUMBER`."""
    return lambda facts: {(facts.patient_key, facts.payer_id, _NUMBER): visits}


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _tracked(facts: ClaimFacts, context: ScrubContext) -> list[dict[str, Any]]:
    if not context.authorizations or not facts.patient_key or not facts.payer_id:
        return []
    return [a for a in context.authorizations.get((facts.patient_key, facts.payer_id), ()) if isinstance(a, dict)]


def _covers_code(auth: dict[str, Any], code: str | None) -> bool:
    codes = auth.get("codes") or ()
    return not codes or code in codes


def _covers_date(auth: dict[str, Any], day: date) -> bool:
    start, end = _day(auth.get("start")), _day(auth.get("end"))
    return (start is None or day >= start) and (end is None or day <= end)


def _number(auth: dict[str, Any]) -> str:
    return str(auth.get("number") or "")


def _authorization_for(facts: ClaimFacts, tracked: list[dict[str, Any]], line: Line) -> dict[str, Any] | None:
    """The tracked authorization a line is billed under: the one whose number the claim carries, else one that
    covers the line's code and date, else one that covers its code."""
    candidates = [a for a in tracked if _covers_code(a, line.code)]
    if not candidates:
        return None
    numbered = [a for a in candidates if _number(a) and _number(a) in facts.prior_authorizations]
    if numbered:
        return numbered[0]
    if line.service_date is not None:
        for auth in candidates:
            if _covers_date(auth, line.service_date):
                return auth
    return candidates[0]


class AuthorizationRequired(ScrubRule):
    id = "authorizations.required"
    title = "Codes the payer lists need a prior authorization number (REF*G1)"
    fix = ("Get the authorization from the payer and record its number on the encounter (identifier system "
           "https://claimbridge.dev/fhir/sid/prior-authorization) in the EHR.")
    path = PRE_AUTH
    source = "payer policy (payer profile authorization_required_codes); 837P REF*G1"

    passes = (example("the example claim (the default profile requires no authorization)"),
              example("90837 with an authorization number, the payer requires one", prior_authorizations=(_NUMBER,),
                      profile={"authorization_required_codes": ["90837"]}),
              example("the payer requires one for 90834 only", profile={"authorization_required_codes": ["90834"]}))
    fails = (example("90837 without an authorization number, the payer requires one",
                     profile={"authorization_required_codes": ["90837"]}),
             example("a second line (90785) that needs one", more_lines=[{"code": "90785"}],
                     profile={"authorization_required_codes": ["90785"]}))

    def check(self, facts, profile, context):
        if facts.prior_authorizations or not profile.authorization_required_codes:
            return
        needing = sorted({line.code for line in facts.lines if line.code in profile.authorization_required_codes})
        if needing:
            yield self.finding(f"{profile.name} needs prior authorization for {', '.join(needing)}, and the claim "
                               "has no authorization number")


class AuthorizationKnown(ScrubRule):
    id = "authorizations.number_known"
    severity = Severity.WARNING
    title = "The claim's authorization number is one of the patient's tracked authorizations"
    fix = "Check the authorization number on the encounter against the payer's approval letter."
    path = PRE_AUTH
    source = "practice authorization tracking (configuration or EHR)"

    passes = (example("the example claim (no authorization number, none tracked)"),
              example("the number of the patient's tracked authorization", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as()}),
              example("an authorization number, none tracked for the patient", prior_authorizations=(_NUMBER,)))
    fails = (example("a number that is not among the patient's tracked authorizations",
                     prior_authorizations=("PA26-9999999",), context={"authorizations": _tracked_as()}),)

    def check(self, facts, profile, context):
        tracked = _tracked(facts, context)
        if not tracked or not facts.prior_authorizations:
            return
        known = {_number(a) for a in tracked}
        unknown = [n for n in facts.prior_authorizations if n not in known]
        if unknown and len(unknown) == len(facts.prior_authorizations):
            yield self.finding(f"authorization {unknown[0]} is not among the patient's tracked authorizations "
                               f"for payer {facts.payer_id}")


class AuthorizationDates(ScrubRule):
    id = "authorizations.date_range"
    title = "Dates of service fall within the authorized date range"
    fix = "Ask the payer to extend the authorization (or get a new one) before billing; then record its number."
    path = "Claim.item.servicedDate"
    source = "payer authorization (tracked in configuration or the EHR)"

    passes = (example("the example claim (no authorization tracked)"),
              example("a date of service within the authorized range", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as(start="2026-11-01", end="2026-12-31")}),
              example("a date of service on the authorization's last day", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as(start="2026-08-01", end=EXAMPLE_SERVICE_DATE)}),
              example("an expired authorization for another code only",
                      context={"authorizations": _tracked_as(end="2026-10-31", codes=["90834"])}))
    fails = (example("a date of service after the authorization ended", prior_authorizations=(_NUMBER,),
                     context={"authorizations": _tracked_as(start="2026-06-01", end="2026-10-31")}),
             example("a date of service before the authorization starts", prior_authorizations=(_NUMBER,),
                     context={"authorizations": _tracked_as(start="2026-11-06", end="2027-05-05")}))

    def check(self, facts, profile, context):
        tracked = _tracked(facts, context)
        if not tracked:
            return
        for line in facts.lines:
            if line.service_date is None:
                continue
            auth = _authorization_for(facts, tracked, line)
            if auth is not None and not _covers_date(auth, line.service_date):
                start, end = _day(auth.get("start")), _day(auth.get("end"))
                span = f"{start or 'open'} to {end or 'open'}"
                label = f"authorization {_number(auth)}" if _number(auth) else "the authorization"
                yield self.finding(f"line {line.index + 1} ({line.code}) on {line.service_date} is outside "
                                   f"{label} ({span})", path=f"Claim.item[{line.index}].servicedDate")


class AuthorizationVisits(ScrubRule):
    id = "authorizations.visit_limit"
    title = ("Authorized visits are not exceeded (warning when authorization_warning_visits or fewer remain, "
             "error once exceeded)")
    fix = "Request more visits from the payer before the next session; a visit beyond the authorization is denied."
    path = PRE_AUTH
    source = "payer authorization (tracked in configuration or the EHR); payer profile authorization_warning_visits"

    passes = (example("the example claim (no authorization tracked)"),
              example("visit 6 of 12 authorized", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as(visits=12), "visits_used": _used(5)}),
              example("visit 9 of 12: 3 remain, one more than the warning threshold", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as(visits=12), "visits_used": _used(8)}),
              example("an authorization without a visit limit", prior_authorizations=(_NUMBER,),
                      context={"authorizations": _tracked_as(), "visits_used": _used(40)}))
    fails = (example("visit 13 of 12 authorized", prior_authorizations=(_NUMBER,),
                     context={"authorizations": _tracked_as(visits=12), "visits_used": _used(12)}),
             example("visit 10 of 12: 2 remain, a warning", prior_authorizations=(_NUMBER,),
                     context={"authorizations": _tracked_as(visits=12), "visits_used": _used(9)}),
             example("the last authorized visit: 0 remain, a warning", prior_authorizations=(_NUMBER,),
                     context={"authorizations": _tracked_as(visits=12), "visits_used": _used(11)}))

    def check(self, facts, profile, context):
        tracked = _tracked(facts, context)
        if not tracked:
            return
        seen: set[int] = set()
        for line in facts.lines:
            auth = _authorization_for(facts, tracked, line)
            if auth is None or id(auth) in seen:
                continue
            seen.add(id(auth))  # one claim is one visit, however many lines it has
            allowed = auth.get("visits")
            if not isinstance(allowed, int):
                continue
            number = _number(auth)
            used = context.visits_used.get((facts.patient_key, facts.payer_id, number), 0)
            label = f"authorization {number}" if number else "the authorization"
            remaining = allowed - used - 1
            if remaining < 0:
                yield self.finding(f"{label} allows {allowed} visits and {used} are already billed; this visit "
                                   "exceeds it")
            elif remaining <= profile.authorization_warning_visits:
                yield self.finding(f"{label}: {remaining} of {allowed} visits remain after this one",
                                   severity=Severity.WARNING)


RULES: list[type[ScrubRule]] = [AuthorizationRequired, AuthorizationKnown, AuthorizationDates, AuthorizationVisits]
