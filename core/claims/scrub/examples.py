"""Rule examples: claims a scrub rule must pass and claims it must flag, written as changes to one example claim.

Every rule declares its own examples (``ScrubRule.passes`` / ``ScrubRule.fails``); the conformance check
(``claimbridge.testing.check_scrub_rule``) runs them, and the built-in rules' examples run in the project's
tests. An example is built from :func:`example_facts`, the facts of a clean claim of the demo practice:

* billing: Prairie Counseling Group, NPI 1847293010, tax id 364829175, taxonomy 261QM0801X;
* patient: female, born 1988-04-17, the subscriber herself (``relationship="self"``), member LKH40917723 of
  Lakeshore Health Plan (payer id ``LKSHP``), no prior authorization;
* rendering: NPI 1540388620, taxonomy 103TC0700X; no supervising or referring provider;
* an in-person office visit (``encounter_class="AMB"``, POS 11) of 55 minutes, diagnosis F41.1;
* one line: 90837 (CPT), no modifiers, 1 unit at 185.00, 55 minutes, pointer 1, on :data:`EXAMPLE_SERVICE_DATE`;
* claim frequency 1 (original), created and scrubbed on :data:`EXAMPLE_TODAY`.

Write an example with :func:`example`::

    class BillingNpi(ScrubRule):
        ...
        passes = (example("the example claim"),)
        fails = (example("no billing NPI", billing_npi=None),
                 example("a second line without a code", more_lines=[{"code": None}]))

The keyword arguments replace :class:`~claimbridge.claims.scrub.base.ClaimFacts` fields; ``line`` replaces
fields of the first line, ``more_lines`` appends lines (copies of the first line with those fields replaced,
indexed after it; the claim total follows the line charges unless ``total`` is given), ``context`` sets :class:`~claimbridge.claims.scrub.base.ScrubContext` fields and ``profile``
the payer profile's fields (a profile named ``example``; without it the shipped ``default`` profile). A value in
``context`` may be a function of the example's facts — for history that must name the example's patient::

    example("a 25th visit this year", context={"prior_lines": lambda facts: prior_visits(facts, 24)})
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from claimbridge.claims.scrub.base import ClaimFacts, Line, PriorClaimLine, ScrubContext

if TYPE_CHECKING:
    from claimbridge.claims.scrub.profiles import PayerProfile

#: the day the example claim is built and scrubbed (ScrubContext.today)
EXAMPLE_TODAY = dt.date(2026, 11, 27)
#: the example claim's date of service (its one line)
EXAMPLE_SERVICE_DATE = dt.date(2026, 11, 5)
#: the example claim's encounter in the demo practice
_ENCOUNTER = "enc-002"


@cache
def _base_claim() -> dict:
    from claimbridge.claims.build import build_claim
    from claimbridge.claims.identifiers import make_pcn
    from claimbridge.config import ClaimSettings, PayerSettings, PracticeSettings
    from claimbridge.plugins.ehr_fhir import demo_data

    resources = demo_data.demo_resources(EXAMPLE_TODAY)
    bundle = demo_data.encounter_bundle(resources, _ENCOUNTER)
    claim_settings = ClaimSettings(
        fee_schedule=demo_data.demo_fee_schedule(),
        payers={key: PayerSettings(**value) for key, value in demo_data.demo_payer_settings().items()})
    practice = PracticeSettings(**demo_data.demo_practice_settings())
    return build_claim(bundle, source="example", pcn=make_pcn("CB", 2, 1), version=1,
                       claim_settings=claim_settings, practice=practice, created=EXAMPLE_TODAY)


@cache
def _base_facts() -> ClaimFacts:
    from claimbridge.claims.scrub.facts import facts_from_claim

    return facts_from_claim(copy.deepcopy(_base_claim()))


def example_claim() -> dict:
    """A fresh copy of the example Claim (FHIR JSON with Decimal money), for rules that read ``facts.raw``."""
    return copy.deepcopy(_base_claim())


def example_facts(**changes: Any) -> ClaimFacts:
    """The example claim's facts, with ``changes`` (ClaimFacts fields) replaced."""
    return dataclasses.replace(_base_facts(), **changes) if changes else _base_facts()


def example_line(index: int = 0, **changes: Any) -> Line:
    """The example claim's line (90837, 1 unit, 185.00, 55 minutes) as line ``index``, with ``changes``."""
    return dataclasses.replace(_base_facts().lines[0], index=index, **changes)


def prior_visits(facts: ClaimFacts, count: int, *, code: str = "90837",
                 dates: Iterable[dt.date] | None = None, rendering_npi: str | None = "same") -> list[PriorClaimLine]:
    """``count`` lines of earlier claims of the example's patient (one per day, going back from the day before
    its first date of service), for ``ScrubContext.prior_lines``."""
    first = facts.lines[0].service_date if facts.lines and facts.lines[0].service_date else EXAMPLE_SERVICE_DATE
    npi = facts.rendering.npi if rendering_npi == "same" and facts.rendering else rendering_npi
    days = list(dates) if dates is not None else [first - dt.timedelta(days=n) for n in range(1, count + 1)]
    return [PriorClaimLine(pcn=f"PRIOR{n:07d}01", patient_key=facts.patient_key or "", rendering_npi=npi,
                           code=code, service_date=day) for n, day in enumerate(days[:count], 1)]


@dataclass(frozen=True)
class Example:
    """One example of a rule: the example claim with changes, the context and the payer profile."""

    note: str
    facts: Mapping[str, Any] = field(default_factory=dict)
    line: Mapping[str, Any] = field(default_factory=dict)
    more_lines: tuple[Mapping[str, Any], ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] | None = None

    def build(self) -> tuple[ClaimFacts, PayerProfile, ScrubContext]:
        """The facts, payer profile and context this example describes."""
        from claimbridge.claims.scrub.profiles import PayerProfile, builtin_profiles

        base = _base_facts()
        changes = dict(self.facts)
        if "lines" not in changes and (self.line or self.more_lines):
            first = dataclasses.replace(base.lines[0], **self.line)
            extra = [dataclasses.replace(first, index=n, **fields) for n, fields in enumerate(self.more_lines, 1)]
            changes["lines"] = (first, *extra)
        facts = dataclasses.replace(base, **changes) if changes else base
        if facts.lines and "total" not in self.facts and (self.line or self.more_lines):
            charges = [line.charge for line in facts.lines]
            if all(isinstance(charge, Decimal) for charge in charges):
                facts = dataclasses.replace(facts, total=sum(charges, Decimal("0")))
        fields: dict[str, Any] = {"today": EXAMPLE_TODAY}
        for name, value in self.context.items():
            fields[name] = value(facts) if callable(value) else value
        context = ScrubContext(**fields)
        if self.profile is None:
            profile = builtin_profiles()["default"]
        else:
            profile = PayerProfile(**{"name": "example", **self.profile})
        return facts, profile, context


def example(note: str, *, line: Mapping[str, Any] | None = None,
            more_lines: Iterable[Mapping[str, Any]] = (),
            context: Mapping[str, Any | Callable[[ClaimFacts], Any]] | None = None,
            profile: Mapping[str, Any] | None = None, **facts: Any) -> Example:
    """An example: ``note`` says what it shows; see the module docstring for the arguments."""
    unknown = set(facts) - {f.name for f in dataclasses.fields(ClaimFacts)}
    if unknown:
        raise TypeError(f"example {note!r}: {', '.join(sorted(unknown))} is not a ClaimFacts field")
    if line:
        bad = set(line) - {f.name for f in dataclasses.fields(Line)}
        if bad:
            raise TypeError(f"example {note!r}: line field {', '.join(sorted(bad))} is not a Line field")
    return Example(note=note, facts=dict(facts), line=dict(line or {}), more_lines=tuple(dict(m) for m in more_lines),
                   context=dict(context or {}), profile=dict(profile) if profile is not None else None)
