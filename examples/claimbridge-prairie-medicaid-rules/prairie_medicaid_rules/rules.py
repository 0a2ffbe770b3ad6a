"""Prairie State Medicaid's behavioral-health edits (fictional plan, payer id ``PSMCD``).

The rules apply to claims whose payer id (the ``NIIP`` identifier of the payer) is ``PSMCD``, whatever payer
profile the practice uses for it, and read only the claim facts and the scrub context, never a database.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from claimbridge.claims.scrub import ScrubRule, Severity, example, prior_visits

#: the plan's payer ids, compared without case or surrounding spaces
PAYER_IDS = frozenset({"PSMCD"})

#: practitioner-level modifiers: HO master's level, HN bachelor's level
PRACTITIONER_LEVEL_MODIFIERS = frozenset({"HO", "HN"})

#: codes that count as a psychotherapy visit toward the yearly cap
PSYCHOTHERAPY_CODES = frozenset({
    "90832", "90833", "90834", "90836", "90837", "90838",  # individual psychotherapy (and E/M add-ons)
    "90839", "90840",                                      # crisis psychotherapy
    "90846", "90847", "90849", "90853",                    # family and group psychotherapy
    "H0004",                                               # behavioral health counseling and therapy, 15 min
})

#: claimbridge PCNs end with a 2-character version: another version of this claim is not another visit
_VERSION_WIDTH = 2


def is_prairie_medicaid(payer_id: str | None) -> bool:
    return bool(payer_id) and payer_id.strip().upper() in PAYER_IDS


def is_behavioral_health_hcode(code: str | None) -> bool:
    """HCPCS level II H-codes (H0001–H2037): state Medicaid behavioral health and substance use services."""
    return bool(code) and len(code) == 5 and code[0] == "H" and code[1:].isdigit()


def _same_claim(pcn: str | None, other: str) -> bool:
    if not pcn:
        return False
    if pcn == other:
        return True
    return len(pcn) == len(other) > _VERSION_WIDTH and pcn[:-_VERSION_WIDTH] == other[:-_VERSION_WIDTH]


class PractitionerLevelModifier(ScrubRule):
    id = "prairie_medicaid.practitioner_level"
    severity = Severity.ERROR
    title = ("Prairie State Medicaid: behavioral-health H-codes carry one practitioner-level modifier, HO "
             "(master's level) or HN (bachelor's level)")
    fix = ("Add HO when the rendering clinician holds a master's degree, HN for a bachelor's-level clinician; "
           "never both on one line.")
    path = "Claim.item"
    source = "Prairie State Medicaid behavioral health provider manual (fictional), HCPCS modifiers HN/HO"
    passes = (example("the example claim (90837, another payer)"),
              example("H0004 with HO", payer_id="PSMCD", line={"code": "H0004", "modifiers": ("HO",)}),
              example("H2019 with HN written in lowercase", payer_id="PSMCD",
                      line={"code": "H2019", "modifiers": ("hn",)}),
              example("H0004 without a level for another payer", line={"code": "H0004"}))
    fails = (example("H0004 without HO or HN", payer_id="PSMCD", line={"code": "H0004"}),
             example("H2019 with both HN and HO", payer_id="PSMCD", line={"code": "H2019", "modifiers": ("HN", "HO")}))

    def check(self, facts, profile, context):
        if not is_prairie_medicaid(facts.payer_id):
            return
        for line in facts.lines:
            if not is_behavioral_health_hcode(line.code):
                continue
            levels = sorted(PRACTITIONER_LEVEL_MODIFIERS.intersection(m.upper() for m in line.modifiers))
            where = f"Claim.item[{line.index}].modifier"
            if not levels:
                yield self.finding(f"line {line.index + 1} ({line.code}) has no practitioner-level modifier "
                                   f"(HO or HN)", path=where)
            elif len(levels) > 1:
                yield self.finding(f"line {line.index + 1} ({line.code}) carries both HN and HO; one "
                                   f"practitioner level per line", path=where)


class AnnualVisitCap(ScrubRule):
    id = "prairie_medicaid.annual_visit_cap"
    severity = Severity.ERROR
    title = ("Prairie State Medicaid: at most 24 psychotherapy visits per patient per calendar year (a prior "
             "authorization turns this into a warning)")
    fix = ("Request a prior authorization for visits beyond the yearly cap and put its number on the claim, or "
           "bill the patient or another coverage.")
    path = "Claim.item"
    source = "Prairie State Medicaid outpatient mental health benefit limit (fictional): 24 visits per year"
    #: visits (distinct dates of service with a psychotherapy code) per patient and calendar year
    cap = 24
    passes = (example("the example claim (another payer) after 30 visits",
                      context={"prior_lines": lambda facts: prior_visits(facts, 30)}),
              example("the 24th visit of the year", payer_id="PSMCD",
                      context={"prior_lines": lambda facts: prior_visits(facts, 23)}),
              example("24 visits last year", payer_id="PSMCD",
                      context={"prior_lines": lambda facts: prior_visits(
                          facts, 24, dates=[date(2025, 12, 1) - timedelta(days=n) for n in range(24)])}))
    fails = (example("the 25th visit of the year", payer_id="PSMCD",
                     context={"prior_lines": lambda facts: prior_visits(facts, 24)}),
             example("the 25th visit with a prior authorization (a warning)", payer_id="PSMCD",
                     prior_authorizations=("PA2026-0117",),
                     context={"prior_lines": lambda facts: prior_visits(facts, 24)}),
             example("25 visits on one claim", payer_id="PSMCD",
                     more_lines=[{"service_date": date(2026, 1, 5) + timedelta(days=7 * n)} for n in range(24)]))

    def check(self, facts, profile, context):
        if not is_prairie_medicaid(facts.payer_id):
            return
        this_claim: dict[int, dict[date, int]] = defaultdict(dict)  # year → date → first line index
        for line in facts.lines:
            if line.code in PSYCHOTHERAPY_CODES and line.service_date is not None:
                this_claim[line.service_date.year].setdefault(line.service_date, line.index)
        if not this_claim:
            return
        # Visits on other claims of the patient: submitted claims and the claims scrubbed earlier in the batch
        # (ScrubContext.prior_lines), other versions of this claim left out. Prior lines carry no payer, so
        # visits billed to other payers count too (conservative).
        prior: dict[int, set[date]] = defaultdict(set)
        if facts.patient_key:
            for line in context.prior_lines:
                if (line.patient_key == facts.patient_key and line.code in PSYCHOTHERAPY_CODES
                        and line.service_date.year in this_claim and not _same_claim(facts.pcn, line.pcn)):
                    prior[line.service_date.year].add(line.service_date)
        authorized = bool(facts.prior_authorizations)
        for year, dates in sorted(this_claim.items()):
            new = sorted(d for d in dates if d not in prior[year])
            total = len(prior[year]) + len(new)
            if not new or total <= self.cap:
                continue
            beyond = min(len(new), total - self.cap)
            first = dates[new[-beyond]]
            message = (f"{total} psychotherapy visits in {year} for this patient (cap {self.cap}); "
                       f"{beyond} visit(s) on this claim go beyond it")
            if authorized:
                yield self.finding(message + " (a prior authorization is on the claim)",
                                   path=f"Claim.item[{first}]", severity=Severity.WARNING)
            else:
                yield self.finding(message, path=f"Claim.item[{first}]")


RULES: list[type[ScrubRule]] = [PractitionerLevelModifier, AnnualVisitCap]
