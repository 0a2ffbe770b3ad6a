"""Who the sandbox payer knows and what their coverage looks like: the member data behind its 271 answers.

Each member id maps to a *scenario*. Configured rules are tried first, in order (an exact ``id``, an id
``suffix`` or a regular expression ``pattern``); then, unless ``default_rules`` is off, the built-in suffix
rules, so the demo needs no configuration at all; anything else is :data:`ACTIVE`.

=================  ===============================  ==============================================================
scenario           default rule (member id ends in)  the 271 says
=================  ===============================  ==============================================================
``active``         (anything else)                  active; mental health (MH, A6, A8) copay 25.00 in network,
                                                    coinsurance 20 % out of network, deductible 500.00 with
                                                    120.00 remaining (in network, individual), 30 visits a
                                                    calendar year with 18 remaining, no prior authorization
``inactive``       ``INACTIVE``                     coverage inactive (EB*6), plan ended last year
``carve_out``      ``CARVEOUT``                     medical active, mental health administered by another payer
                                                    (EB*U for MH/A4/A6/A8 with a 2120C NM1*PR naming it, its
                                                    payer id and phone)
``visits_exhausted`` ``NOVISITS``                   active; MH visit limit 20 a calendar year, 0 remaining
``auth_required``  ``AUTH``                         active; MH needs prior authorization (EB11 = Y)
``high_deductible`` ``HIGHDED``                     active; deductible 3000.00 with 2750.00 remaining (in
                                                    network, individual), 30 % coinsurance in network
``not_found``      ``NOTFOUND``                     AAA*N**75*C at the subscriber level (subscriber not found)
=================  ===============================  ==============================================================

The amounts, plan and group numbers and the carve-out payer are a :class:`SandboxPlan` and can be changed.
Configured in YAML (``<sandbox root>/.sandbox/members.yaml`` is read when the sandbox starts, or pass
``members=`` to :class:`~.sandbox.SandboxClearinghouse`)::

    members:
      - {id: W123456789, scenario: carve_out}
      - {suffix: "-OLD", scenario: inactive}
      - {pattern: "^TEST", scenario: not_found}
    default_rules: true            # keep the INACTIVE/CARVEOUT/… suffix rules after these
    plan:
      name: SANDBOX GOLD PPO
      copay: "25.00"
      carve_out_payer_name: Magellan Behavioral Health

Money is Decimal throughout; percentages are fractions (``0.2`` = 20 %).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from claimbridge.x12.eligibility.model import (
    Benefit,
    BenefitDate,
    BenefitEntity,
    Contact,
    Party,
    Rejection,
)

__all__ = [
    "ACTIVE", "AUTH_REQUIRED", "CARVE_OUT", "DEFAULT_RULES", "HIGH_DEDUCTIBLE", "INACTIVE", "NOT_FOUND",
    "SCENARIOS", "VISITS_EXHAUSTED", "Coverage", "EligibilityModel", "MemberRule", "MembersConfigError",
    "SandboxPlan", "coverage_for",
]

ACTIVE = "active"
INACTIVE = "inactive"
CARVE_OUT = "carve_out"
VISITS_EXHAUSTED = "visits_exhausted"
AUTH_REQUIRED = "auth_required"
HIGH_DEDUCTIBLE = "high_deductible"
NOT_FOUND = "not_found"
SCENARIOS = (ACTIVE, INACTIVE, CARVE_OUT, VISITS_EXHAUSTED, AUTH_REQUIRED, HIGH_DEDUCTIBLE, NOT_FOUND)

#: service types the mental-health lines answer for (outpatient therapy: mental health, psychotherapy,
#: psychiatric outpatient)
MH_TYPES = ("MH", "A6", "A8")
CARVE_OUT_TYPES = ("MH", "A4", "A6", "A8")
PLAN_TYPES = ("30",)


class MembersConfigError(ValueError):
    """The sandbox's member settings are wrong; the message lists every problem and how to fix it."""

    def __init__(self, source: str, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(f"sandbox member settings ({source}):\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class MemberRule:
    """Which member ids get ``scenario``: exactly ``id``, ids ending in ``suffix`` (both case-insensitive)
    or ids matching the regular expression ``pattern`` (searched, so anchor it with ``^``/``$``)."""

    scenario: str
    id: str | None = None
    suffix: str | None = None
    pattern: str | None = None

    def matches(self, member_id: str) -> bool:
        wanted = member_id.strip().upper()
        if self.id is not None:
            return wanted == self.id.strip().upper()
        if self.suffix is not None:
            return wanted.endswith(self.suffix.strip().upper())
        if self.pattern is not None:
            return re.search(self.pattern, member_id.strip()) is not None
        return False


#: the rules the sandbox applies when nothing is configured (after any configured rules)
DEFAULT_RULES: tuple[MemberRule, ...] = (
    MemberRule(INACTIVE, suffix="INACTIVE"),
    MemberRule(CARVE_OUT, suffix="CARVEOUT"),
    MemberRule(VISITS_EXHAUSTED, suffix="NOVISITS"),
    MemberRule(AUTH_REQUIRED, suffix="AUTH"),
    MemberRule(HIGH_DEDUCTIBLE, suffix="HIGHDED"),
    MemberRule(NOT_FOUND, suffix="NOTFOUND"),
)


@dataclass(frozen=True)
class SandboxPlan:
    """The sandbox payer's plan: names and numbers in every answer, and the amounts of each scenario."""

    name: str = "SANDBOX GOLD PPO"
    number: str = "SBX-PLAN-01"  # REF*18
    group_number: str = "GRP-20440"  # REF*6P
    group_name: str = "SANDBOX EMPLOYER INC"
    insurance_type: str = "PR"  # EB04: PR preferred provider organization
    plan_begin: date = date(2026, 1, 1)
    copay: Decimal = Decimal("25.00")
    coinsurance_out_of_network: Decimal = Decimal("0.2")
    deductible: Decimal = Decimal("500.00")
    deductible_remaining: Decimal = Decimal("120.00")
    visit_limit: Decimal = Decimal("30")
    visits_remaining: Decimal = Decimal("18")
    exhausted_visit_limit: Decimal = Decimal("20")
    high_deductible: Decimal = Decimal("3000.00")
    high_deductible_remaining: Decimal = Decimal("2750.00")
    high_deductible_coinsurance: Decimal = Decimal("0.3")
    carve_out_payer_name: str = "Magellan Behavioral Health"
    carve_out_payer_id: str = "01260"
    carve_out_phone: str = "8007888273"


@dataclass(frozen=True)
class EligibilityModel:
    """The sandbox's member data: the rules mapping member ids to scenarios and the plan behind them."""

    rules: tuple[MemberRule, ...] = ()
    default_rules: bool = True
    default_scenario: str = ACTIVE
    plan: SandboxPlan = field(default_factory=SandboxPlan)

    def scenario_for(self, member_id: str | None) -> str:
        """The scenario of ``member_id``: the first configured rule that matches, then the default rules,
        else :attr:`default_scenario`. A missing member id is not found."""
        if not member_id:
            return NOT_FOUND
        for rule in (*self.rules, *(DEFAULT_RULES if self.default_rules else ())):
            if rule.matches(member_id):
                return rule.scenario
        return self.default_scenario

    @classmethod
    def from_mapping(cls, data: Mapping | None, *, source: str = "settings") -> EligibilityModel:
        """Build from settings (the YAML shape in the module docstring). Raises :class:`MembersConfigError`
        listing every problem at once."""
        data = data or {}
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise MembersConfigError(source, ["the settings must be a mapping with 'members' and/or 'plan'"])
        unknown = sorted(set(data) - {"members", "default_rules", "default_scenario", "plan"})
        if unknown:
            problems.append(f"unknown keys {unknown}; use members, default_rules, default_scenario, plan")
        rules = []
        entries = data.get("members") or []
        if not isinstance(entries, list):
            problems.append("'members' must be a list of {id|suffix|pattern: …, scenario: …}")
            entries = []
        for number, entry in enumerate(entries, start=1):
            rule = _rule(entry, number, problems)
            if rule is not None:
                rules.append(rule)
        default_scenario = str(data.get("default_scenario", ACTIVE))
        if default_scenario not in SCENARIOS:
            problems.append(f"default_scenario {default_scenario!r} is not one of {', '.join(SCENARIOS)}")
        default_rules = data.get("default_rules", True)
        if not isinstance(default_rules, bool):
            problems.append(f"default_rules must be true or false, got {default_rules!r}")
        plan = _plan(data.get("plan") or {}, problems)
        if problems:
            raise MembersConfigError(source, problems)
        return cls(tuple(rules), bool(default_rules), default_scenario, plan)

    @classmethod
    def load(cls, path: Path | str) -> EligibilityModel:
        """Read the YAML file at ``path``."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise MembersConfigError(str(path), [f"not valid YAML: {exc}"]) from exc
        return cls.from_mapping(data, source=str(path))


def _rule(entry: object, number: int, problems: list[str]) -> MemberRule | None:
    where = f"members[{number}]"
    if not isinstance(entry, Mapping):
        problems.append(f"{where} must be a mapping like {{suffix: CARVEOUT, scenario: carve_out}}")
        return None
    keys = [k for k in ("id", "suffix", "pattern") if entry.get(k) not in (None, "")]
    extra = sorted(set(entry) - {"id", "suffix", "pattern", "scenario"})
    if extra:
        problems.append(f"{where}: unknown keys {extra}")
    if len(keys) != 1:
        problems.append(f"{where} needs exactly one of id, suffix, pattern")
        return None
    scenario = str(entry.get("scenario", ""))
    if scenario not in SCENARIOS:
        problems.append(f"{where}: scenario {scenario!r} is not one of {', '.join(SCENARIOS)}")
        return None
    value = str(entry[keys[0]])
    if keys[0] == "pattern":
        try:
            re.compile(value)
        except re.error as exc:
            problems.append(f"{where}: pattern is not a regular expression ({exc})")
            return None
    return MemberRule(scenario, **{keys[0]: value})


def _plan(values: object, problems: list[str]) -> SandboxPlan:
    plan = SandboxPlan()
    if not isinstance(values, Mapping):
        problems.append("'plan' must be a mapping of plan settings")
        return plan
    types = {f.name: f.type for f in fields(SandboxPlan)}
    changes: dict[str, object] = {}
    for key, value in values.items():
        kind = types.get(key)
        if kind is None:
            problems.append(f"plan: unknown key {key!r}; known: {', '.join(types)}")
        elif kind == "Decimal":
            if isinstance(value, float):
                problems.append(f"plan.{key}: write money and shares as quoted strings (\"25.00\"), not floats")
                continue
            try:
                number = Decimal(str(value))
            except InvalidOperation:
                problems.append(f"plan.{key}: {value!r} is not a number")
                continue
            if not number.is_finite() or number < 0:
                problems.append(f"plan.{key}: must be zero or more, got {value!r}")
            elif "coinsurance" in key and number > 1:
                problems.append(f"plan.{key}: a share is a fraction from 0 to 1 (0.2 = 20 %), got {value!r}")
            else:
                changes[key] = number
        elif kind == "date":
            if isinstance(value, date):
                changes[key] = value
            else:
                try:
                    changes[key] = date.fromisoformat(str(value))
                except ValueError:
                    problems.append(f"plan.{key}: {value!r} is not a date YYYY-MM-DD")
        else:
            changes[key] = str(value)
    return replace(plan, **changes)


# -- the coverage of one member -------------------------------------------------------------------------------


@dataclass
class Coverage:
    """What the 271 says about one patient: benefits, or rejections (AAA) when the payer found nobody, and
    the member-level dates."""

    scenario: str
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    dates: list[BenefitDate] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return not self.rejections


def coverage_for(scenario: str, plan: SandboxPlan, *, dependent: bool = False) -> Coverage:
    """The benefits of ``scenario`` under ``plan``; ``dependent`` answers a dependent's inquiry (the plan
    covers the family, the cost shares stay individual)."""
    if scenario == NOT_FOUND:
        return Coverage(scenario, rejections=[Rejection("75", "C", "2100C", valid=False)])
    level = "FAM" if dependent else "IND"
    if scenario == INACTIVE:
        ended = date(plan.plan_begin.year - 1, 12, 31)
        return Coverage(scenario, benefits=[
            Benefit("6", level, PLAN_TYPES, messages=["COVERAGE TERMINATED"]),
        ], dates=[BenefitDate("347", ended)])
    plan_line = Benefit("1", level, PLAN_TYPES, plan.insurance_type, plan.name)
    dates = [BenefitDate("346", plan.plan_begin)]
    if scenario == CARVE_OUT:
        carrier = Party("PR", plan.carve_out_payer_name, id_qualifier="PI", id=plan.carve_out_payer_id,
                        contacts=[Contact("IC", "BEHAVIORAL HEALTH", {"TE": plan.carve_out_phone})])
        carved = Benefit("U", "IND", CARVE_OUT_TYPES, messages=[
            f"MENTAL HEALTH BENEFITS ARE ADMINISTERED BY {plan.carve_out_payer_name}"],
            entities=[BenefitEntity(carrier)])
        return Coverage(scenario, benefits=[plan_line, carved, *_deductible(plan, plan.deductible,
                                                                             plan.deductible_remaining)],
                        dates=dates)
    benefits = [plan_line]
    if scenario == AUTH_REQUIRED:
        benefits.append(Benefit("1", "IND", MH_TYPES, plan.insurance_type, authorization_required=True,
                                in_network=True,
                                messages=["PRIOR AUTHORIZATION REQUIRED FOR OUTPATIENT MENTAL HEALTH"]))
    benefits.append(_mh(plan, "B", time_period="27", amount=plan.copay, in_network=True,
                        auth=scenario == AUTH_REQUIRED))
    if scenario == HIGH_DEDUCTIBLE:
        benefits.append(_mh(plan, "A", percent=plan.high_deductible_coinsurance, in_network=True))
        benefits.extend(_deductible(plan, plan.high_deductible, plan.high_deductible_remaining))
        return Coverage(scenario, benefits=benefits, dates=dates)
    benefits.append(_mh(plan, "A", percent=plan.coinsurance_out_of_network, in_network=False))
    benefits.extend(_deductible(plan, plan.deductible, plan.deductible_remaining))
    if scenario == VISITS_EXHAUSTED:
        limit, remaining = plan.exhausted_visit_limit, Decimal(0)
    else:
        limit, remaining = plan.visit_limit, plan.visits_remaining
    benefits.append(_mh(plan, "F", time_period="23", quantity=limit, in_network=True))
    last = _mh(plan, "F", time_period="29", quantity=remaining, in_network=True)
    if scenario == VISITS_EXHAUSTED:
        last.messages.append("CALENDAR YEAR OUTPATIENT MENTAL HEALTH VISIT LIMIT REACHED")
    benefits.append(last)
    return Coverage(scenario, benefits=benefits, dates=dates)


def _mh(plan: SandboxPlan, code: str, *, time_period: str | None = None, amount: Decimal | None = None,
        percent: Decimal | None = None, quantity: Decimal | None = None, in_network: bool | None = None,
        auth: bool = False) -> Benefit:
    return Benefit(code, "IND", MH_TYPES, plan.insurance_type, time_period=time_period, amount=amount,
                   percent=percent, quantity_qualifier="VS" if quantity is not None else None, quantity=quantity,
                   authorization_required=auth, in_network=in_network)


def _deductible(plan: SandboxPlan, total: Decimal, remaining: Decimal) -> list[Benefit]:
    """The plan's individual in-network deductible: the calendar-year amount (EB06 23) and what is left
    (29)."""
    return [Benefit("C", "IND", PLAN_TYPES, plan.insurance_type, time_period=period, amount=amount,
                    in_network=True)
            for period, amount in (("23", total), ("29", remaining))]
