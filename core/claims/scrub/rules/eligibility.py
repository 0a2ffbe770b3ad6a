"""What the payer said about coverage (271 answers to the 270s asked before the session).

Answers come in :attr:`ScrubContext.eligibility`, keyed by (patient_key, payer_id); each is a dict with
``service_date`` (the date asked about), ``active`` (True, False, or None when the answer did not say),
``coverage_status``, ``answered_at`` and ``check`` (the eligibility check's id). The newest answer for a line's
date of service is the one that counts.
"""

from __future__ import annotations

from datetime import date, datetime

from claimbridge.claims.scrub.base import ClaimFacts, ScrubRule
from claimbridge.claims.scrub.examples import EXAMPLE_SERVICE_DATE, example


def _answered(active: bool | None, day: date = EXAMPLE_SERVICE_DATE, check: int = 12):
    """For the examples: one 271 answer about the example's patient and payer for ``day``."""
    return lambda facts: {(facts.patient_key, facts.payer_id): [{
        "service_date": day, "active": active, "coverage_status": "active" if active else "inactive",
        "answered_at": datetime(2026, 11, 4, 9, 0), "check": check}]}


class CoverageInactive(ScrubRule):
    id = "eligibility.coverage_inactive"
    title = "The payer's eligibility answer (271) says coverage is not active on the date of service"
    fix = ("Verify the patient's coverage with the payer (claimbridge eligibility check --patient …): update the "
           "insurance in the EHR, bill the right payer, or bill the patient; override with a reason if the payer "
           "confirmed coverage another way.")
    path = "Claim.insurance[0].coverage"
    source = "X12 271 (005010X279A1) EB01 6–8, or eligibility dates that exclude the date of service"

    passes = (example("the example claim (no eligibility answer on file)"),
              example("the payer answered active for the date of service", context={"eligibility": _answered(True)}),
              example("an inactive answer, but for another day",
                      context={"eligibility": _answered(False, date(2026, 10, 1))}),
              example("an answer that did not say (a rejection)", context={"eligibility": _answered(None)}))
    fails = (example("the payer answered inactive for the date of service",
                     context={"eligibility": _answered(False)}),)

    def check(self, facts: ClaimFacts, profile, context):
        answers = (context.eligibility or {}).get((facts.patient_key, facts.payer_id)) if facts.patient_key else None
        if not answers:
            return
        for day in sorted({line.service_date for line in facts.lines if line.service_date}):
            on_day = [a for a in answers if a.get("service_date") == day]
            if not on_day:
                continue
            newest = max(on_day, key=lambda a: a.get("answered_at") or datetime.min)
            if newest.get("active") is False:
                when = newest.get("answered_at")
                said = f" on {when:%Y-%m-%d}" if isinstance(when, datetime) else ""
                yield self.finding(f"the payer's eligibility answer{said} (check #{newest.get('check')}) says "
                                   f"coverage is {str(newest.get('coverage_status') or 'inactive').replace('_', ' ')}"
                                   f" on {day}")


RULES = [CoverageInactive]
