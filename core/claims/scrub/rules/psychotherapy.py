"""Psychotherapy rules: CPT time bands, add-ons and the codes that may (not) be billed together the same day.

Sources: CPT (AMA) psychiatry section guidelines and the CPT time rule (a unit of time is reached once the
midpoint is passed), as summarized in ``../shared/DOMAIN.md``; CMS NCCI procedure-to-procedure edits for the
same-day combinations; payer policy (profile) for the 96127 cap, the 90840 timing and the group modifier.

Minutes: a line's own minutes (``EXT_MINUTES``), else the encounter's (``ClaimFacts.session_minutes``); only
completed minutes count (37.9 minutes is 37). "The same day" is a line's date of service; within one claim the
rendering provider is the claim's, across claims :attr:`ScrubContext.prior_lines` supplies the lines of claims
already submitted (and earlier in the batch) with their patient, rendering NPI and date. What a kind of provider
may bill (90792 or add-ons by psychologists…) is the identity rules' business (``identity.provider_restriction``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from claimbridge.claims.scrub.base import (
    ClaimFacts,
    Finding,
    Line,
    PriorClaimLine,
    ScrubContext,
    ScrubRule,
    Severity,
)
from claimbridge.claims.scrub.examples import EXAMPLE_SERVICE_DATE, example, prior_visits
from claimbridge.claims.scrub.rules.duplicates import REPEAT_MODIFIERS

CPT_GUIDE = "CPT psychiatry guidelines (AMA)"
#: standalone psychotherapy and the add-ons billed with an E/M: code → (first minute, last minute or None)
PSYCHOTHERAPY_BANDS: dict[str, tuple[int, int | None]] = {
    "90832": (16, 37), "90834": (38, 52), "90837": (53, None),
}
ADDON_BANDS: dict[str, tuple[int, int | None]] = {
    "90833": (16, 37), "90836": (38, 52), "90838": (53, None),
}
BANDS = {**PSYCHOTHERAPY_BANDS, **ADDON_BANDS}
PSYCHOTHERAPY_CODES = frozenset(BANDS)  # 90832–90838
MIN_PSYCHOTHERAPY_MINUTES = 16
EVALUATION_CODES = frozenset({"90791", "90792"})
CRISIS, CRISIS_ADDON = "90839", "90840"
CRISIS_MIN_MINUTES, CRISIS_MAX_MINUTES = 30, 74
FAMILY_CODES = frozenset({"90846", "90847"})
FAMILY_MIN_MINUTES = 26
GROUP_CODES = frozenset({"90853", "90849"})
INTERACTIVE_COMPLEXITY = "90785"
#: what 90785 may accompany, and what it may never be billed with
INTERACTIVE_PRIMARIES = frozenset({"90791", "90792", "90853", *PSYCHOTHERAPY_CODES})
INTERACTIVE_EXCLUDED = frozenset({"90839", "90840", "90846", "90847", "90849"})
ASSESSMENT = "96127"
#: codes whose correctness depends on minutes (build.TIME_BASED_CODES)
TIME_BASED = frozenset({*PSYCHOTHERAPY_CODES, CRISIS, CRISIS_ADDON, *FAMILY_CODES})
#: time-based psychotherapy of which one per patient, provider and day may be billed (crisis included: CPT
#: forbids 90839 with 90832–90838 the same day)
ONE_PER_DAY = frozenset({*PSYCHOTHERAPY_CODES, CRISIS})
# fixed orders for look-ups in prior claims (a set's order changes with the hash seed; messages must not)
_ONE_PER_DAY_ORDER = tuple(sorted(ONE_PER_DAY))
_EVALUATION_ORDER = tuple(sorted(EVALUATION_CODES))


# lines for the examples (changes to the example claim's 90837 line)
_EM = {"code": "99213", "minutes": None, "unit_price": Decimal("120.00"), "charge": Decimal("120.00")}
_EVALUATION = {"code": "90791", "minutes": None, "unit_price": Decimal("200.00"), "charge": Decimal("200.00")}
_ASSESSMENT = {"code": "96127", "minutes": None, "unit_price": Decimal("15.00"), "charge": Decimal("15.00")}
_INTERACTIVE = {"code": "90785", "minutes": None, "unit_price": Decimal("25.00"), "charge": Decimal("25.00")}
_GROUP = {"code": "90853", "minutes": Decimal(90), "unit_price": Decimal("60.00"), "charge": Decimal("60.00")}
_WEEK_BEFORE = EXAMPLE_SERVICE_DATE - dt.timedelta(days=7)


def _billed_today(code: str, **changes) -> Callable[[ClaimFacts], list[PriorClaimLine]]:
    """For the examples: ``ScrubContext.prior_lines`` with ``code`` billed on another claim for the example's
    patient on its date of service (``changes``: arguments of ``prior_visits``)."""
    return lambda facts: prior_visits(facts, 1, code=code, dates=[facts.lines[0].service_date], **changes)


def _span(first: int, last: int | None) -> str:
    return f"{first}–{last} minutes" if last is not None else f"{first} minutes or more"


#: E/M codes the psychotherapy add-ons may accompany (CPT 2023+): office/outpatient, hospital inpatient and
#: observation, consultations, emergency department, nursing facility, home or residence
EM_CODES = frozenset(str(c) for c in (
    *range(99202, 99206), *range(99211, 99216),
    *range(99221, 99224), *range(99231, 99240),
    *range(99242, 99246), *range(99252, 99256),
    *range(99281, 99286),
    *range(99304, 99311), 99315, 99316,
    99341, 99342, 99344, 99345, *range(99347, 99351),
))


def completed_minutes(line: Line, facts: ClaimFacts) -> int | None:
    """The line's completed minutes (its own, else the session's); None when unknown."""
    minutes = line.minutes if line.minutes is not None else facts.session_minutes
    if minutes is None:
        return None
    return int(minutes.to_integral_value(rounding=ROUND_FLOOR))


def band_code(minutes: int, addon: bool) -> str | None:
    """The psychotherapy code (add-on when ``addon``) whose time band holds ``minutes``; None under 16."""
    for code, (first, last) in (ADDON_BANDS if addon else PSYCHOTHERAPY_BANDS).items():
        if minutes >= first and (last is None or minutes <= last):
            return code
    return None


def _by_date(lines: Iterable[Line]) -> dict[date | None, list[Line]]:
    days: dict[date | None, list[Line]] = defaultdict(list)
    for line in lines:
        days[line.service_date].append(line)
    return days


def _line(line: Line) -> str:
    return f"line {line.index + 1} ({line.code})"


def _first_prior(facts: ClaimFacts, context: ScrubContext, day: date | None, codes: Iterable[str], *,
                 skip_code: str | None = None) -> PriorClaimLine | None:
    """The first line of another claim for this patient and rendering provider on ``day`` whose code is in
    ``codes`` (in their order) and is not ``skip_code``; None when there is none."""
    if not context.prior_lines or not facts.patient_key or day is None:
        return None
    npi = facts.rendering.npi if facts.rendering is not None else None
    index = context.prior_lines_by_key()
    for code in codes:
        if code == skip_code:
            continue
        for prior in index.get((facts.patient_key, npi, code, day), ()):
            if not _same_claim(facts.pcn, prior.pcn):
                return prior
    return None


def _same_claim(pcn: str | None, other: str) -> bool:
    """Another version of the same claim (a replacement): claimbridge PCNs end with a 2-character version."""
    return bool(pcn) and (pcn == other or len(pcn) == len(other) > 2 and pcn[:-2] == other[:-2])


class TimeBand(ScrubRule):
    """The CPT time rule: 90832/90833 need 16–37 minutes, 90834/90836 38–52, 90837/90838 53 or more; under 16
    minutes a session is not billable as psychotherapy. The message names the code the minutes support."""

    id = "psychotherapy.time_band"
    title = "The psychotherapy code matches the session minutes (16–37 / 38–52 / ≥ 53; < 16 not billable)"
    fix = ("Bill the code whose time band holds the documented minutes, or correct the session length in the "
           "EHR if it was recorded wrong.")
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: psychotherapy time bands and the CPT time rule (midpoint)"

    passes = (example("the example claim (90837, 55 minutes)"),
              example("90837 at exactly 53 minutes", line={"minutes": Decimal(53)}),
              example("90834 at 52 minutes, the top of its band", line={"code": "90834", "minutes": Decimal(52)}),
              example("90832 at 37.9 minutes (completed minutes count)",
                      line={"code": "90832", "minutes": Decimal("37.9")}))
    fails = (example("90837 for a 50-minute session", line={"minutes": Decimal(50)}),
             example("90832 for a 15-minute session (not billable)", line={"code": "90832", "minutes": Decimal(15)}),
             example("the add-on 90833 for 40 minutes (90836)", line={"code": "90833", "minutes": Decimal(40)},
                     more_lines=[_EM]),
             example("90837 at 52.9 minutes", line={"minutes": Decimal("52.9")}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            band = BANDS.get(line.code or "")
            if band is None:
                continue
            minutes = completed_minutes(line, facts)
            if minutes is None:
                continue
            first, last = band
            if first <= minutes and (last is None or minutes <= last):
                continue
            path = f"Claim.item[{line.index}].productOrService"
            right = band_code(minutes, addon=line.code in ADDON_BANDS)
            if right is None:
                yield self.finding(f"{_line(line)}: a {minutes}-minute session is not billable as psychotherapy "
                                   f"(at least {MIN_PSYCHOTHERAPY_MINUTES} minutes)", path=path)
            else:
                yield self.finding(f"{_line(line)} needs {_span(first, last)}; the session lasted {minutes} "
                                   f"minutes, which is {right} ({_span(*BANDS[right])})", path=path)


#: codes reported once per session: one unit per line (CMS medically unlikely edit of 1 per day)
SINGLE_UNIT = frozenset({*EVALUATION_CODES, *PSYCHOTHERAPY_CODES, CRISIS, *FAMILY_CODES})


class SingleUnit(ScrubRule):
    """Evaluations, psychotherapy, crisis (90839) and family therapy codes describe a whole session: they are
    billed with one unit, and longer sessions change the code (or add 90840), never the units."""

    id = "psychotherapy.single_unit"
    title = "Session codes (90791/90792, 90832–90839, 90846/90847) are billed with one unit"
    fix = ("Bill one unit; for a longer session pick the code of its time band (90837, or 90839 + 90840 for "
           "crisis) instead of more units.")
    path = "Claim.item.quantity"
    source = f"{CPT_GUIDE} (per-session codes); CMS medically unlikely edits (1 unit per day)"

    passes = (example("the example claim (90837 × 1)"),
              example("96127 × 3 (one unit per instrument)", line={"code": "96127", "units": Decimal(3)}),
              example("90840 × 2 after 90839", line={"code": "90839", "minutes": Decimal(110)},
                      more_lines=[{"code": "90840", "units": Decimal(2)}]))
    fails = (example("90837 × 2 for a long session", line={"units": Decimal(2)}),
             example("the evaluation 90791 × 2", line={"code": "90791", "units": Decimal(2), "minutes": None}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.code in SINGLE_UNIT and line.units is not None and line.units > 1:
                yield self.finding(f"{_line(line)} is billed with {line.units} units; it is one unit per session",
                                   path=f"Claim.item[{line.index}].quantity")


class MinutesMissing(ScrubRule):
    """A time-based code (90832–90838, 90839/90840, 90846/90847) without minutes cannot be checked against its
    time band; payers audit these codes against the documented time."""

    id = "psychotherapy.minutes_missing"
    severity = Severity.WARNING
    title = "Time-based codes carry the session minutes"
    fix = "Record the session's start and end time (or its length) on the encounter in the EHR."
    path = "Claim.item.extension"
    source = f"{CPT_GUIDE}: time-based codes are chosen by documented face-to-face time"

    passes = (example("the example claim (55 minutes)"),
              example("no line minutes, but the session's (55)", line={"minutes": None}),
              example("90791 without minutes (not time-based)", line={"code": "90791", "minutes": None},
                      session_minutes=None))
    fails = (example("90837 without line or session minutes", line={"minutes": None}, session_minutes=None),
             example("family therapy 90847 without minutes", line={"code": "90847", "minutes": None},
                     session_minutes=None))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.code in TIME_BASED and completed_minutes(line, facts) is None:
                yield self.finding(f"{_line(line)} is time-based but the claim has no session minutes; its time "
                                   "band cannot be verified", path=f"Claim.item[{line.index}]")


class AddonWithoutEm(ScrubRule):
    """90833, 90836 and 90838 are add-on codes: they are billed only together with an evaluation and management
    (E/M) service by the same provider on the same day (99202–99215 and the other E/M families)."""

    id = "psychotherapy.addon_without_em"
    title = "Psychotherapy add-ons (90833/90836/90838) come with an E/M on the same claim and date"
    fix = ("Add the E/M service (e.g. 99213) performed that day to the encounter, or bill the standalone "
           "psychotherapy code (90832/90834/90837) when there was no E/M.")
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: add-on codes 90833/90836/90838 are reported with an E/M code"

    passes = (example("the example claim (standalone 90837)"),
              example("90833 with 99213 the same day", line={"code": "90833", "minutes": Decimal(30)},
                      more_lines=[_EM]),
              example("90838 with a hospital E/M (99232)", line={"code": "90838"},
                      more_lines=[{**_EM, "code": "99232"}]))
    fails = (example("90833 without an E/M", line={"code": "90833", "minutes": Decimal(30)}),
             example("90836 with an E/M on another day", line={"code": "90836", "minutes": Decimal(45)},
                     more_lines=[{**_EM, "service_date": _WEEK_BEFORE}]))

    def check(self, facts, profile, context):
        if not any(line.code in ADDON_BANDS for line in facts.lines):
            return
        for lines in _by_date(facts.lines).values():
            if any(line.code in EM_CODES for line in lines):
                continue
            for line in lines:
                if line.code in ADDON_BANDS:
                    standalone = {"90833": "90832", "90836": "90834", "90838": "90837"}[line.code]
                    yield self.finding(f"{_line(line)} is an add-on to an E/M service, but no E/M code "
                                       f"(99202–99215 …) is billed on {line.service_date}; without an E/M bill "
                                       f"{standalone}", path=f"Claim.item[{line.index}].productOrService")


class OnePerDay(ScrubRule):
    """One time-based psychotherapy code (90832–90838, or crisis 90839) per patient, provider and day: minutes
    of two sessions are not added up or billed as two codes. Checked within the claim and against the lines of
    other claims for the same patient, rendering provider and date (``ScrubContext.prior_lines``). The same code
    twice without a repeat modifier is left to ``duplicates.*``."""

    id = "psychotherapy.one_per_day"
    title = "One time-based psychotherapy code per patient, provider and day"
    fix = ("Bill one psychotherapy code for the day, chosen by the total documented time (or the E/M add-on), and "
           "remove the other line or claim.")
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: one psychotherapy code per day; NCCI edits (90839 with 90832–90838)"

    passes = (example("the example claim (one 90837)"),
              example("90837 and 90834 a week apart",
                      more_lines=[{"code": "90834", "minutes": Decimal(45), "service_date": _WEEK_BEFORE}]),
              example("90837 twice without a repeat modifier (duplicates.same_claim)", more_lines=[{}]),
              example("90834 billed the same day by another clinician",
                      context={"prior_lines": _billed_today("90834", rendering_npi="1720945538")}))
    fails = (example("90837 and 90834 the same day", more_lines=[{"code": "90834", "minutes": Decimal(45)}]),
             example("90837 and crisis 90839 the same day", more_lines=[{"code": "90839"}]),
             example("90837 twice, the second marked repeated (59)", more_lines=[{"modifiers": ("59",)}]),
             example("another claim already bills 90834 that day", context={"prior_lines": _billed_today("90834")}))

    def check(self, facts, profile, context):
        count = sum(1 for line in facts.lines if line.code in ONE_PER_DAY)
        if count == 0 or count == 1 and not context.prior_lines:
            return
        for day, lines in _by_date(facts.lines).items():
            seen: list[Line] = []
            for line in lines:
                if line.code not in ONE_PER_DAY:
                    continue
                earlier = next((s for s in seen if s.code != line.code or REPEAT_MODIFIERS & set(line.modifiers)),
                               None)
                if earlier is not None:
                    yield self.finding(f"{_line(line)} is a second psychotherapy code on {day} besides "
                                       f"{_line(earlier)}", path=f"Claim.item[{line.index}].productOrService")
                    continue
                seen.append(line)
                repeated = not REPEAT_MODIFIERS.isdisjoint(line.modifiers)
                prior = _first_prior(facts, context, day, _ONE_PER_DAY_ORDER,
                                     skip_code=None if repeated else line.code)
                if prior is not None:
                    yield self.finding(f"{_line(line)}: claim {prior.pcn} already bills psychotherapy "
                                       f"({prior.code}) for this patient and provider on {day}",
                                       path=f"Claim.item[{line.index}].productOrService")


class EvaluationCombination(ScrubRule):
    """The diagnostic evaluations 90791/90792 are not billed with psychotherapy (90832–90838, crisis 90839), an
    E/M service or each other the same day by the same provider; the evaluation includes them. Checked within the claim and
    against other claims of the day (``ScrubContext.prior_lines``), from either side."""

    id = "psychotherapy.evaluation_combination"
    title = "90791/90792 not with psychotherapy, an E/M or each other the same day by the same provider"
    fix = ("Bill the diagnostic evaluation alone that day (90791/90792), or move the therapy session to its own "
           "day; remove the other line or claim.")
    path = "Claim.item.productOrService"
    source = (f"{CPT_GUIDE}: 90791/90792 not reported with 90832–90838 or E/M on the same day, 90839 not with "
              "90791/90792; NCCI edits")

    _RELEVANT = PSYCHOTHERAPY_CODES | EM_CODES | EVALUATION_CODES | {CRISIS}
    _RELEVANT_ORDER = tuple(sorted(_RELEVANT))

    passes = (example("the example claim (90837 alone)"),
              example("90791 with 96127 × 2", line=_EVALUATION, more_lines=[{**_ASSESSMENT, "units": Decimal(2)}]),
              example("90791 twice (duplicates.same_claim)", line=_EVALUATION, more_lines=[{}]),
              example("90837 the day after a 90791", context={"prior_lines": lambda facts: prior_visits(
                  facts, 1, code="90791")}))
    fails = (example("90791 with 90834 the same day", line=_EVALUATION,
                     more_lines=[{"code": "90834", "minutes": Decimal(45)}]),
             example("90791 with an E/M (99213) the same day", line=_EVALUATION, more_lines=[_EM]),
             example("90791 and 90792 the same day", line=_EVALUATION, more_lines=[{"code": "90792"}]),
             example("90837 when another claim bills 90791 that day", context={"prior_lines": _billed_today("90791")}))

    def check(self, facts, profile, context):
        relevant = [line for line in facts.lines if line.code in self._RELEVANT]
        if not relevant:
            return
        if not context.prior_lines and not any(line.code in EVALUATION_CODES for line in relevant):
            return
        for day, lines in _by_date(relevant).items():
            evaluation = next((line for line in lines if line.code in EVALUATION_CODES), None)
            if evaluation is None:
                # psychotherapy or an E/M here, the evaluation on another claim of that day
                prior = _first_prior(facts, context, day, _EVALUATION_ORDER)
                if prior is not None:
                    yield self.finding(f"{_line(lines[0])}: claim {prior.pcn} already bills the diagnostic "
                                       f"evaluation {prior.code} for this patient and provider on {day}",
                                       path=f"Claim.item[{lines[0].index}].productOrService")
                continue
            path = f"Claim.item[{evaluation.index}].productOrService"
            # the same evaluation code twice is a duplicate (duplicates.*), not a combination
            conflicts = [line for line in lines if line.code != evaluation.code]
            if conflicts:
                yield self.finding(f"{_line(evaluation)} is billed with {', '.join(_line(c) for c in conflicts)} "
                                   f"on {day}", path=path)
            prior = _first_prior(facts, context, day, self._RELEVANT_ORDER, skip_code=evaluation.code)
            if prior is not None:
                yield self.finding(f"{_line(evaluation)}: claim {prior.pcn} already bills {prior.code} for "
                                   f"this patient and provider on {day}", path=path)


class InteractiveComplexity(ScrubRule):
    """90785 (interactive complexity) is an add-on to 90791, 90792, 90832–90838 or 90853 only; it is never
    billed with crisis psychotherapy (90839/90840), family therapy (90846/90847), multiple-family group (90849)
    or with an E/M alone."""

    id = "psychotherapy.interactive_complexity"
    title = "90785 only with 90791/90792/90832–90838/90853, never with 90839/90840/90846/90847/90849"
    fix = ("Remove 90785, or bill it with the evaluation, psychotherapy or group session it complicated (not with "
           "crisis or family therapy).")
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: 90785 add-on rules"

    passes = (example("the example claim (no 90785)"),
              example("90785 with 90837", more_lines=[_INTERACTIVE]),
              example("90785 with 90833 and its E/M", line={"code": "90833", "minutes": Decimal(30)},
                      more_lines=[_EM, _INTERACTIVE]),
              example("90785 with group psychotherapy 90853", line={"code": "90853", "minutes": Decimal(60)},
                      more_lines=[_INTERACTIVE]))
    fails = (example("90785 alone", line=_INTERACTIVE),
             example("90785 with an E/M alone", line=_EM, more_lines=[_INTERACTIVE]),
             example("90785 with crisis psychotherapy 90839", line={"code": "90839", "minutes": Decimal(60)},
                     more_lines=[_INTERACTIVE]),
             example("90785 with family therapy 90847", line={"code": "90847", "minutes": Decimal(50)},
                     more_lines=[_INTERACTIVE]))

    def check(self, facts, profile, context):
        if not any(line.code == INTERACTIVE_COMPLEXITY for line in facts.lines):
            return
        for day, lines in _by_date(facts.lines).items():
            for line in lines:
                if line.code != INTERACTIVE_COMPLEXITY:
                    continue
                path = f"Claim.item[{line.index}].productOrService"
                excluded = sorted({other.code for other in lines if other.code in INTERACTIVE_EXCLUDED})
                if excluded:
                    yield self.finding(f"{_line(line)} may not be billed with {', '.join(excluded)} ({day})",
                                       path=path)
                elif not any(other.code in INTERACTIVE_PRIMARIES for other in lines):
                    with_em = any(other.code in EM_CODES for other in lines)
                    yield self.finding(f"{_line(line)} has no primary service on {day}"
                                       + (" (an E/M alone does not qualify)" if with_em else "")
                                       + "; it needs 90791, 90792, 90832–90838 or 90853", path=path)


class CrisisAddon(ScrubRule):
    """90840 (each additional 30 minutes of crisis psychotherapy) is billed only with 90839 on the same day."""

    id = "psychotherapy.crisis_addon"
    title = "90840 only with 90839 on the same claim and date"
    fix = "Bill 90839 for the first 30–74 minutes of the crisis session and 90840 only for the time beyond."
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: 90840 is an add-on to 90839"

    passes = (example("the example claim (no 90840)"),
              example("90840 with 90839 the same day", line={"code": "90839", "minutes": Decimal(80)},
                      more_lines=[{"code": "90840"}]))
    fails = (example("90840 with 90837 but no 90839", more_lines=[{"code": "90840"}]),
             example("90840 a week after its 90839", line={"code": "90839", "minutes": Decimal(80)},
                     more_lines=[{"code": "90840", "service_date": EXAMPLE_SERVICE_DATE + dt.timedelta(days=7)}]))

    def check(self, facts, profile, context):
        if not any(line.code == CRISIS_ADDON for line in facts.lines):
            return
        for day, lines in _by_date(facts.lines).items():
            if any(line.code == CRISIS for line in lines):
                continue
            for line in lines:
                if line.code == CRISIS_ADDON:
                    yield self.finding(f"{_line(line)} is billed without 90839 on {day}",
                                       path=f"Claim.item[{line.index}].productOrService")


def crisis_addon_units(minutes: int, minutes_per_unit: int) -> int:
    """Units of 90840 that ``minutes`` of crisis psychotherapy support: none up to 74, then one per
    ``minutes_per_unit`` begun beyond 74 (CPT, 30: 75–104 → 1, 105–134 → 2)."""
    if minutes <= CRISIS_MAX_MINUTES:
        return 0
    return (minutes - CRISIS_MAX_MINUTES - 1) // minutes_per_unit + 1


class CrisisTime(ScrubRule):
    """90839 covers the first 30–74 minutes of crisis psychotherapy (under 30: bill 90832/90834 by time); each
    90840 needs a further ``profile.crisis_minutes_per_90840`` minutes (CPT: 30, so 75–104 → one, 105–134 →
    two). Billing fewer 90840 units than the minutes support is a warning (money left on the table)."""

    id = "psychotherapy.crisis_time"
    title = "90839 has 30–74 minutes and 90840 units match the minutes beyond 74 (profile crisis_minutes_per_90840)"
    fix = ("Bill 90839 only for crisis sessions of 30 minutes or more, and one 90840 per further block of minutes "
           "(profile crisis_minutes_per_90840); correct the session length in the EHR if it was recorded wrong.")
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: crisis psychotherapy timing (90839 30–74 min, +90840 per 30 min); payer profile"

    passes = (example("the example claim (no crisis)"),
              example("90839 for exactly 30 minutes", line={"code": "90839", "minutes": Decimal(30)}),
              example("90839 for 74 minutes, no 90840", line={"code": "90839", "minutes": Decimal(74)}),
              example("90839 + 90840 × 1 for 104 minutes", line={"code": "90839", "minutes": Decimal(104)},
                      more_lines=[{"code": "90840"}]),
              example("90839 + 90840 × 2 for 90 minutes, a payer counting 15 minutes per 90840",
                      line={"code": "90839", "minutes": Decimal(90)}, more_lines=[{"code": "90840", "units": Decimal(2)}],
                      profile={"crisis_minutes_per_90840": 15}))
    fails = (example("90839 for 29 minutes (90832)", line={"code": "90839", "minutes": Decimal(29)}),
             example("90839 + 90840 for 74 minutes", line={"code": "90839", "minutes": Decimal(74)},
                     more_lines=[{"code": "90840"}]),
             example("105 minutes with one 90840 (a warning: two are supported)",
                     line={"code": "90839", "minutes": Decimal(105)}, more_lines=[{"code": "90840"}]))

    def check(self, facts, profile, context) -> Iterator[Finding]:
        if not any(line.code == CRISIS for line in facts.lines):
            return
        per_unit = profile.crisis_minutes_per_90840
        for day, lines in _by_date(facts.lines).items():
            crisis = next((line for line in lines if line.code == CRISIS), None)
            if crisis is None:
                continue
            minutes = completed_minutes(crisis, facts)
            if minutes is None:
                continue  # psychotherapy.minutes_missing says so
            path = f"Claim.item[{crisis.index}].productOrService"
            if minutes < CRISIS_MIN_MINUTES:
                right = band_code(minutes, addon=False)
                yield self.finding(f"{_line(crisis)} needs at least {CRISIS_MIN_MINUTES} minutes; the session "
                                   f"lasted {minutes} minutes"
                                   + (f", which is {right}" if right else ", not billable as psychotherapy"),
                                   path=path)
                continue
            addons = [line for line in lines if line.code == CRISIS_ADDON]
            billed = sum((line.units or Decimal(0) for line in addons), Decimal(0))
            expected = crisis_addon_units(minutes, per_unit)
            if billed > expected:
                yield self.finding(f"90840 × {billed} billed on {day}, but {minutes} minutes of crisis "
                                   f"psychotherapy support {expected} (one per {per_unit} minutes beyond "
                                   f"{CRISIS_MAX_MINUTES})",
                                   path=f"Claim.item[{addons[0].index}].quantity")
            elif billed < expected:
                yield self.finding(f"{minutes} minutes of crisis psychotherapy on {day} support 90840 × {expected}; "
                                   f"{billed} billed", severity=Severity.WARNING, path=path)


class FamilyTime(ScrubRule):
    """Family psychotherapy (90846 without the patient, 90847 with) needs at least 26 minutes."""

    id = "psychotherapy.family_time"
    title = "Family psychotherapy (90846/90847) lasts at least 26 minutes"
    fix = "Bill family therapy only for sessions of 26 minutes or more; correct the session length if it is wrong."
    path = "Claim.item.productOrService"
    source = f"{CPT_GUIDE}: 90846/90847 are reported for 26 minutes or more"

    passes = (example("the example claim (no family therapy)"),
              example("90847 at exactly 26 minutes", line={"code": "90847", "minutes": Decimal(26)}),
              example("90846 for 50 minutes", line={"code": "90846", "minutes": Decimal(50)}))
    fails = (example("90847 for 25 minutes", line={"code": "90847", "minutes": Decimal(25)}),
             example("90846 for 20 minutes", line={"code": "90846", "minutes": Decimal(20)}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.code in FAMILY_CODES:
                minutes = completed_minutes(line, facts)
                if minutes is not None and minutes < FAMILY_MIN_MINUTES:
                    yield self.finding(f"{_line(line)} needs at least {FAMILY_MIN_MINUTES} minutes; the session "
                                       f"lasted {minutes} minutes",
                                       path=f"Claim.item[{line.index}].productOrService")


class AssessmentUnits(ScrubRule):
    """96127 is one unit per standardized instrument (PHQ-9, GAD-7 …); payers cap the units per day
    (profile ``max_96127_units``, 4 by default, Medicare's MUE is 3, many Medicaid plans 2)."""

    id = "psychotherapy.assessment_units"
    title = "96127 units per date within the payer's cap (profile max_96127_units)"
    fix = "Bill at most the payer's cap of 96127 units for the day (one per instrument actually scored)."
    path = "Claim.item.quantity"
    source = "CPT 96127 (per instrument); payer caps / CMS MUE (profile max_96127_units)"

    passes = (example("the example claim (no 96127)"),
              example("96127 × 4, the default cap", more_lines=[{**_ASSESSMENT, "units": Decimal(4)}]),
              example("96127 × 2 for a payer capping at 2", more_lines=[{**_ASSESSMENT, "units": Decimal(2)}],
                      profile={"max_96127_units": 2}))
    fails = (example("96127 × 5", more_lines=[{**_ASSESSMENT, "units": Decimal(5)}]),
             example("96127 × 2 and × 1 on two lines, a payer capping at 2",
                     more_lines=[{**_ASSESSMENT, "units": Decimal(2)}, {**_ASSESSMENT, "modifiers": ("59",)}],
                     profile={"max_96127_units": 2}))

    def check(self, facts, profile, context):
        if not any(line.code == ASSESSMENT for line in facts.lines):
            return
        cap = profile.max_96127_units
        for day, lines in _by_date(facts.lines).items():
            lines = [line for line in lines if line.code == ASSESSMENT]
            units = sum((line.units or Decimal(0) for line in lines), Decimal(0))
            if units > cap:
                yield self.finding(f"96127 × {units} on {day}; payer profile {profile.name} allows at most {cap} "
                                   "units per day", path=f"Claim.item[{lines[0].index}].quantity")


class GroupModifier(ScrubRule):
    """Some payers (many Medicaid plans: HQ) want a modifier on group psychotherapy (90853, 90849); the
    profile's ``group_modifier`` names it (none by default)."""

    id = "psychotherapy.group_modifier"
    title = "Group psychotherapy (90853/90849) carries the payer's group modifier (profile group_modifier)"
    fix = "Add the payer's group modifier (e.g. HQ) to the group session's procedure code in the EHR."
    path = "Claim.item.modifier"
    source = "payer policy (profile group_modifier), e.g. state Medicaid HQ for group services"

    passes = (example("the example claim (no group psychotherapy)"),
              example("90853 without modifier (the default profile asks none)", line=_GROUP),
              example("90853 with HQ for a payer that wants HQ", line={**_GROUP, "modifiers": ("HQ",)},
                      profile={"group_modifier": "HQ"}))
    fails = (example("90853 without HQ for a payer that wants HQ", line=_GROUP, profile={"group_modifier": "HQ"}),
             example("multiple-family group 90849 without HQ", line={**_GROUP, "code": "90849"},
                     profile={"group_modifier": "HQ"}))

    def check(self, facts, profile, context):
        required = profile.group_modifier
        if not required:
            return
        for line in facts.lines:
            if line.code in GROUP_CODES and required not in line.modifiers:
                yield self.finding(f"{_line(line)} lacks modifier {required}, which payer profile {profile.name} "
                                   "requires on group psychotherapy", path=f"Claim.item[{line.index}].modifier")


RULES: list[type[ScrubRule]] = [TimeBand, SingleUnit, MinutesMissing, AddonWithoutEm, OnePerDay, EvaluationCombination,
                                InteractiveComplexity, CrisisAddon, CrisisTime, FamilyTime, AssessmentUnits,
                                GroupModifier]
