"""Duplicates: the same patient, rendering provider, code and date as a line already billed or on this claim.

Payers deny such a line as a duplicate (OA-18) unless a modifier says the service was repeated on purpose.
Lines of earlier claims arrive in :attr:`ScrubContext.prior_lines` (submitted claims, and the claims scrubbed
before this one in the batch: ``PriorClaimLine.lines_of(facts)``). Lines of another version of this same claim
(a replacement) are not duplicates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from claimbridge.claims.scrub.base import ClaimFacts, Line, PriorClaimLine, ScrubRule
from claimbridge.claims.scrub.examples import EXAMPLE_SERVICE_DATE, example, prior_visits

#: modifiers that say a repeated service is intended: repeat procedure (76, 77), distinct service (59, X{EPSU})
REPEAT_MODIFIERS = frozenset({"59", "76", "77", "XE", "XP", "XS", "XU"})
#: the part of the PCN that names the claim (not the version): claimbridge PCNs end with a 2-character version
_VERSION_WIDTH = 2


#: for the examples: a 96127 line (one instrument) and a date a week before the example's
_ASSESSMENT = {"code": "96127", "units": Decimal("1"), "unit_price": Decimal("15.00"), "charge": Decimal("15.00")}
_WEEK_BEFORE = EXAMPLE_SERVICE_DATE - dt.timedelta(days=7)


def _billed(facts: ClaimFacts, *, code: str = "90837", npi: str | None = "same",
            pcn: str | None = None) -> list[PriorClaimLine]:
    """For the examples: ``code`` already billed for the example's patient on its date of service (by its
    rendering provider unless ``npi``), on another claim (or on claim ``pcn``)."""
    lines = prior_visits(facts, 1, code=code, dates=[facts.lines[0].service_date], rendering_npi=npi)
    return [dataclasses.replace(line, pcn=pcn) for line in lines] if pcn else lines


def _repeat_intended(line: Line) -> bool:
    return not REPEAT_MODIFIERS.isdisjoint(line.modifiers)


def _same_claim(pcn: str | None, other: str) -> bool:
    return bool(pcn) and len(pcn) > _VERSION_WIDTH and pcn[:-_VERSION_WIDTH] == other[:-_VERSION_WIDTH] \
        and len(pcn) == len(other)


def _rendering_npi(facts: ClaimFacts) -> str | None:
    return facts.rendering.npi if facts.rendering is not None else None


class DuplicateOfPriorClaim(ScrubRule):
    id = "duplicates.prior_claim"
    title = "No line repeats a line already billed (same patient, rendering provider, code and date)"
    fix = ("If the session was already billed, void this claim; if it is a correction, send it as a replacement "
           "(frequency 7); if the service really was repeated that day, add modifier 76 or 59.")
    path = "Claim.item"
    source = "payer duplicate edits (OA-18 exact duplicate claim/service)"

    passes = (example("the example claim"),
              example("the same code billed for the patient the day before",
                      context={"prior_lines": lambda facts: prior_visits(facts, 1)}),
              example("the same code and date billed by another clinician",
                      context={"prior_lines": lambda facts: _billed(facts, npi="1720945538")}),
              example("a replacement (version 02) of the claim that billed it", pcn="CB0000000202", frequency="7",
                      related_claim_number="2026111500123",
                      context={"prior_lines": lambda facts: _billed(facts, pcn="CB0000000201")}),
              example("a session repeated on purpose (modifier 76)", line={"modifiers": ("76",)},
                      context={"prior_lines": _billed}))
    fails = (example("90837 already billed for the patient and clinician that day on another claim",
                     context={"prior_lines": _billed}),
             example("a second line (96127) already billed that day", more_lines=[_ASSESSMENT],
                     context={"prior_lines": lambda facts: _billed(facts, code="96127")}))

    def check(self, facts, profile, context):
        if not context.prior_lines or not facts.patient_key:
            return
        index = context.prior_lines_by_key()
        npi = _rendering_npi(facts)
        for line in facts.lines:
            if not line.code or line.service_date is None or _repeat_intended(line):
                continue
            for prior in index.get((facts.patient_key, npi, line.code, line.service_date), ()):
                if prior.pcn != facts.pcn and not _same_claim(facts.pcn, prior.pcn):
                    yield self.finding(f"line {line.index + 1} ({line.code} on {line.service_date}) was already "
                                       f"billed on claim {prior.pcn}", path=f"Claim.item[{line.index}]")
                    break


class DuplicateWithinClaim(ScrubRule):
    id = "duplicates.same_claim"
    title = "No two lines of the claim have the same code, date and modifiers"
    fix = ("Bill one line with the total units (e.g. 96127 × 2), or add modifier 76 or 59 when the service was "
           "really repeated.")
    path = "Claim.item"
    source = "payer duplicate edits (OA-18); NCCI per-line units"

    passes = (example("the example claim"),
              example("90837 again a week earlier", more_lines=[{"service_date": _WEEK_BEFORE}]),
              example("a second 90837 marked distinct (modifier 59)", more_lines=[{"modifiers": ("59",)}]))
    fails = (example("a second, identical 90837 line", more_lines=[{}]),
             example("96127 on two lines instead of one line of 2 units", more_lines=[_ASSESSMENT, _ASSESSMENT]))

    def check(self, facts, profile, context):
        if len(facts.lines) < 2:
            return
        seen: dict[tuple, Line] = {}
        for line in facts.lines:
            if not line.code or _repeat_intended(line):
                continue
            key = (line.code, line.service_date, frozenset(line.modifiers))
            first = seen.get(key)
            if first is None:
                seen[key] = line
            else:
                yield self.finding(f"line {line.index + 1} repeats line {first.index + 1} ({line.code} on "
                                   f"{line.service_date})", path=f"Claim.item[{line.index}]")


RULES: list[type[ScrubRule]] = [DuplicateOfPriorClaim, DuplicateWithinClaim]
