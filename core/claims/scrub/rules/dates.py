"""Date rules: dates of service that cannot be, and the payer's timely filing window."""

from __future__ import annotations

from datetime import date, timedelta

from claimbridge.claims.scrub.base import ScrubRule, Severity
from claimbridge.claims.scrub.examples import EXAMPLE_TODAY, example


class FutureService(ScrubRule):
    id = "dates.future_service"
    title = "No date of service is in the future"
    fix = "Correct the encounter date in the EHR; bill a session only after it took place."
    path = "Claim.item.servicedDate"
    source = "payer policy everywhere: services are billed after they are rendered"
    passes = (example("the example claim"), example("a service today", line={"service_date": EXAMPLE_TODAY}))
    fails = (example("a service tomorrow", line={"service_date": EXAMPLE_TODAY + timedelta(days=1)}),
             example("a second line dated tomorrow", more_lines=[{"service_date": EXAMPLE_TODAY + timedelta(days=1)}]))

    def check(self, facts, profile, context):
        today = context.today
        for line in facts.lines:
            if line.service_date is not None and line.service_date > today:
                yield self.finding(f"line {line.index + 1} ({line.code}) is dated {line.service_date}, after "
                                   f"today ({today})", path=f"Claim.item[{line.index}].servicedDate")


class BeforeBirth(ScrubRule):
    id = "dates.before_birth"
    title = "No date of service is before the patient's birth"
    fix = "Correct the patient's birth date or the encounter date in the EHR."
    path = "Claim.item.servicedDate"
    source = "837P TR3 005010X222A1 (DMG02 / DTP*472 consistency); payer front-end edits"
    passes = (example("the example claim"),
              example("a service on the patient's birth date", line={"service_date": date(1988, 4, 17)}),
              example("no birth date (structure.patient_birth_date reports it)", patient_birth_date=None))
    fails = (example("a service the year before the patient was born", line={"service_date": date(1987, 1, 5)}),)

    def check(self, facts, profile, context):
        born = facts.patient_birth_date
        if born is None:
            return
        for line in facts.lines:
            if line.service_date is not None and line.service_date < born:
                # the birth date itself is PHI: name the line, not the date of birth
                yield self.finding(f"line {line.index + 1} ({line.code}) is dated {line.service_date}, before the "
                                   "patient's birth date", path=f"Claim.item[{line.index}].servicedDate")


class TimelyFiling(ScrubRule):
    id = "dates.timely_filing"
    title = ("The claim reaches the payer within its timely filing window (warning as the deadline nears, error "
             "once passed)")
    fix = ("Send the claim today. Once the deadline has passed, only proof of timely filing (an earlier "
           "clearinghouse acceptance) or a payer exception gets it paid; otherwise write it off.")
    path = "Claim.item.servicedDate"
    source = ("payer contracts (payer profile timely_filing_days / timely_filing_warning_days; Medicare 12 months, "
              "42 CFR 424.44)")
    passes = (example("the example claim (68 of 90 days left)"),
              example("31 days left, one more than the warning window",
                      line={"service_date": EXAMPLE_TODAY - timedelta(days=59)}))
    fails = (example("30 days left (a warning)", line={"service_date": EXAMPLE_TODAY - timedelta(days=60)}),
             example("the deadline is today (a warning)", line={"service_date": EXAMPLE_TODAY - timedelta(days=90)}),
             example("a day past the deadline", line={"service_date": EXAMPLE_TODAY - timedelta(days=91)}),
             example("a second line past the deadline (counted from the earliest line)",
                     more_lines=[{"service_date": EXAMPLE_TODAY - timedelta(days=120)}]))

    def check(self, facts, profile, context):
        first = None
        for line in facts.lines:
            if line.service_date is not None and (first is None or line.service_date < first.service_date):
                first = line
        if first is None:
            return
        deadline = first.service_date + timedelta(days=profile.timely_filing_days)
        path = f"Claim.item[{first.index}].servicedDate"
        days_left = (deadline - context.today).days
        if days_left < 0:
            yield self.finding(f"the service on {first.service_date} is past {profile.name}'s timely filing limit "
                               f"of {profile.timely_filing_days} days (deadline {deadline})", path=path)
        elif days_left <= profile.timely_filing_warning_days:
            yield self.finding(f"the service on {first.service_date} must reach the payer by {deadline} "
                               f"({days_left} days left; {profile.name}: {profile.timely_filing_days} days)",
                               path=path, severity=Severity.WARNING)


RULES: list[type[ScrubRule]] = [FutureService, BeforeBirth, TimelyFiling]
