"""What a 270 asks and what a 271 answers (005010X279A1), as plain dataclasses.

An :class:`EligibilityInquiry` is one question: is this subscriber (or their dependent) covered by this payer
on this date, and what are the benefits for these service types. An :class:`EligibilityResponse` is the
payer's answer for one subscriber or dependent: :class:`Benefit` lines (EB loops 2110C/2110D with their
dates, messages and benefit-related entities from 2120C/2120D) and :class:`Rejection` s (AAA at any level).

The helpers on :class:`EligibilityResponse` read what a therapy practice needs from the benefits: coverage
status on a date, the mental-health benefits (service types MH, A4, A6, A7, A8; 30 as the fallback), copay,
coinsurance, deductible and out-of-pocket (total and remaining, in or out of network), visit limits and what
is left of them, whether prior authorization is required, and behavioral-health carve-outs. docs/eligibility.md
gives the rules.

Names, member ids and birth dates are personal data: those fields are left out of ``repr``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from claimbridge.x12.eligibility.codes import (
    COVERAGE_LEVELS,
    ELIGIBILITY_BENEFITS,
    ENTITIES,
    FOLLOW_UP_ACTIONS,
    INSURANCE_TYPES,
    QUANTITY_QUALIFIERS,
    REJECTION_REASONS,
    SERVICE_TYPES,
    TIME_PERIODS,
    words,
)

__all__ = [
    "ACTIVE_CODES", "FALLBACK_SERVICE_TYPE", "MENTAL_HEALTH_SERVICE_TYPES", "Benefit", "BenefitDate",
    "BenefitEntity", "CarveOut", "Contact", "Delivery", "EligibilityInquiry", "EligibilityResponse", "Limit", "Member",
    "Eligibility270", "Eligibility271", "Party", "Payer", "Provider", "Rejection", "TraceNumber",
    "coverage_status_of", "inquiry_service_types",
]

#: service types a mental-health practice asks about and reads (configurable per payer by the caller)
MENTAL_HEALTH_SERVICE_TYPES: tuple[str, ...] = ("MH", "A4", "A6", "A7", "A8")
#: health benefit plan coverage: what every payer must answer, used when no mental-health type is answered
FALLBACK_SERVICE_TYPE = "30"

#: EB01 codes that mean the coverage is active (5: active, pending investigation)
ACTIVE_CODES = frozenset("12345")
_STATUS = {"1": "active", "2": "active", "3": "active", "4": "active", "5": "active_pending_investigation",
           "6": "inactive", "7": "inactive_pending_update", "8": "inactive_pending_investigation"}
#: EB06 time periods that say what is left rather than the total
REMAINING_PERIODS = frozenset(("29", "33"))
#: NM101 codes of a 2120 entity that is another payer or a plan's delegate (a carve-out when it answers for
#: mental health instead of the payer asked)
PAYER_ENTITIES = frozenset(("PR", "PRP", "SEP", "TTP", "VN", "Y2", "X3", "2B", "1I", "I3", "13"))


def inquiry_service_types(configured: Iterable[str] | None = None) -> tuple[str, ...]:
    """The EQ01 service types to ask for: the configured ones in order without repeats, or ``("30",)``
    (health benefit plan coverage, which every payer answers) when none are configured."""
    chosen = tuple(dict.fromkeys(code.strip().upper() for code in configured or () if code.strip()))
    return chosen or (FALLBACK_SERVICE_TYPE,)


def coverage_status_of(codes: Iterable[str]) -> str:
    """The coverage status for a set of EB01 codes: ``active``, ``active_pending_investigation``,
    ``inactive``, ``inactive_pending_update``, ``inactive_pending_investigation`` or ``unknown``. An active
    code wins over an inactive one (a plan may list an ended product beside the current one)."""
    found = [c for c in codes if c in _STATUS]
    for code in ("1", "2", "3", "4", "5", "7", "8", "6"):
        if code in found:
            return _STATUS[code]
    return "unknown"


# -- the inquiry (270) -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payer:
    """The information source (loop 2100A, NM1*PR): payer id (NM109, qualifier PI) and name."""

    id: str
    name: str


@dataclass(frozen=True)
class Provider:
    """The information receiver (loop 2100B, NM1*1P): NPI and name; a person (``organization=False``) has a
    last ``name`` and a ``first_name``."""

    npi: str
    name: str
    first_name: str = ""
    organization: bool = True


@dataclass(frozen=True)
class Member:
    """A subscriber (2100C, NM1*IL) or dependent (2100D, NM1*03). The dependent of a 270 has no member id
    (5010 asks about a dependent only when they have no id of their own)."""

    last_name: str = field(repr=False)
    first_name: str = field(repr=False)
    member_id: str | None = field(default=None, repr=False)
    middle_name: str = field(default="", repr=False)
    suffix: str = field(default="", repr=False)
    birth_date: date | None = field(default=None, repr=False)
    gender: str | None = None  # DMG03: F, M or U


@dataclass(frozen=True)
class EligibilityInquiry:
    """One question of a 270: the payer, the provider asking, the subscriber and — when the patient is not
    the subscriber — the dependent, the date of service, the service types (EQ01) and the trace number (TRN02,
    echoed by the 271 so the answer finds its question)."""

    payer: Payer
    provider: Provider
    subscriber: Member
    trace_number: str
    service_date: date | None  # None: the payer answers for the day it processes the inquiry
    service_types: tuple[str, ...] = MENTAL_HEALTH_SERVICE_TYPES[:1]
    dependent: Member | None = None

    @property
    def patient(self) -> Member:
        return self.dependent or self.subscriber


# -- the response (271) ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Contact:
    """A PER segment: contact function (PER01), name and the numbers by qualifier (TE, FX, EM, UR, EX)."""

    function: str
    name: str | None = None
    numbers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Party:
    """An organisation or person named by an NM1 (payer, provider, subscriber, dependent). Subscriber and
    dependent names and ids are personal data and stay out of ``repr``."""

    entity: str
    name: str | None = field(default=None, repr=False)
    first_name: str | None = field(default=None, repr=False)
    middle_name: str | None = field(default=None, repr=False)
    id_qualifier: str | None = None
    id: str | None = field(default=None, repr=False)
    person: bool = False
    contacts: list[Contact] = field(default_factory=list)
    suffix: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class Rejection:
    """An AAA segment: the request (or part of it) could not be answered. ``loop`` says where (2000A/2100A
    the payer, 2100B the provider, 2100C/2100D the subscriber/dependent, 2110C/2110D one benefit asked
    about); ``valid`` is AAA01 (Y: the request was valid but the answer is this rejection)."""

    code: str
    action: str | None
    loop: str
    valid: bool = False
    segment: int = 0

    @property
    def words(self) -> str | None:
        return words(REJECTION_REASONS, self.code)

    @property
    def action_words(self) -> str | None:
        return words(FOLLOW_UP_ACTIONS, self.action)


@dataclass(slots=True)
class BenefitDate:
    """A DTP of a member or a benefit: qualifier (291 plan, 292 benefit, 307 eligibility, 346 plan begin,
    356 eligibility begin …) and the date (D8: ``end`` is None) or range (RD8)."""

    qualifier: str
    start: date | None
    end: date | None = None


@dataclass(slots=True)
class BenefitEntity:
    """Loop 2120C/2120D: a person or organisation the benefit refers to — another payer (PR, PRP), a
    behavioral-health vendor (VN), a primary care provider (P3) — with its contacts."""

    party: Party
    segment: int = 0

    @property
    def entity_words(self) -> str | None:
        return words(ENTITIES, self.party.entity)


@dataclass(slots=True)
class Delivery:
    """An HSD segment of a benefit (how often the service may be delivered): quantity qualifier (VS visits,
    DY days …) and quantity, unit (HSD03), time period (HSD05: 23 calendar year, 29 remaining …) and the
    number of periods (HSD06)."""

    quantity_qualifier: str | None
    quantity: Decimal | None
    unit: str | None = None
    time_period: str | None = None
    period_count: Decimal | None = None


@dataclass(slots=True)
class Benefit:
    """One EB segment with its loop 2110 dates, messages and 2120 entities.

    ``percent`` is EB08 as written (``0.2`` = 20 %); ``in_network`` is EB12 (Y True, N False, W — applies
    either way — and U or absent None); ``authorization_required`` is EB11 (Y True, N False, U or absent
    None)."""

    code: str
    coverage_level: str | None = None
    service_types: tuple[str, ...] = ()
    insurance_type: str | None = None
    plan_description: str | None = None
    time_period: str | None = None
    amount: Decimal | None = None
    percent: Decimal | None = None
    quantity_qualifier: str | None = None
    quantity: Decimal | None = None
    authorization_required: bool | None = None
    in_network: bool | None = None
    network_code: str | None = None
    procedure: str | None = None
    dates: list[BenefitDate] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    entities: list[BenefitEntity] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    references: dict[str, str] = field(default_factory=dict)
    segment: int = 0

    @property
    def words(self) -> str | None:
        return words(ELIGIBILITY_BENEFITS, self.code)

    @property
    def coverage_level_words(self) -> str | None:
        return words(COVERAGE_LEVELS, self.coverage_level)

    @property
    def service_type_words(self) -> list[str]:
        return [words(SERVICE_TYPES, code) or code for code in self.service_types]

    @property
    def time_period_words(self) -> str | None:
        return words(TIME_PERIODS, self.time_period)

    @property
    def quantity_words(self) -> str | None:
        return words(QUANTITY_QUALIFIERS, self.quantity_qualifier)

    @property
    def insurance_type_words(self) -> str | None:
        return words(INSURANCE_TYPES, self.insurance_type)

    @property
    def remaining(self) -> bool:
        """Whether the amount or quantity is what is left (EB06 29 remaining, 33 lifetime remaining)."""
        return self.time_period in REMAINING_PERIODS

    def covers(self, service_types: Iterable[str]) -> bool:
        wanted = set(service_types)
        return any(code in wanted for code in self.service_types)


@dataclass(frozen=True)
class Limit:
    """A cost share or a limit as the payer states it: ``total`` (for the plan year, calendar year, contract
    or lifetime), ``remaining`` (EB06 29/33) and ``used`` (year to date, EB06 24, or quantity used, EB09 99).
    ``remaining`` is worked out as ``total - used`` when the payer gives those two only."""

    total: Decimal | None = None
    remaining: Decimal | None = None
    used: Decimal | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass(frozen=True)
class CarveOut:
    """Mental-health benefits managed by someone other than the payer asked (a behavioral-health
    organisation): the service types, the EB01 code that said so and the entity (2120C/2120D)."""

    service_types: tuple[str, ...]
    code: str
    entity: Party


@dataclass(frozen=True)
class TraceNumber:
    """A TRN: type (TRN01: 1 current — the 270's, or the payer's own; 2 referenced — ours echoed), the
    number and the company that assigned it (TRN03)."""

    type: str
    number: str
    originator: str | None = None


@dataclass
class EligibilityResponse:
    """The answer for one subscriber (and, when the patient is a dependent, the dependent)."""

    payer: Party | None = None
    provider: Party | None = None
    subscriber: Party | None = None
    dependent: Party | None = None
    trace_numbers: list[TraceNumber] = field(default_factory=list)
    benefits: list[Benefit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # REF may carry a social security number (SY) or an id card number (HJ): out of repr
    references: dict[str, str] = field(default_factory=dict, repr=False)
    reference_names: dict[str, str] = field(default_factory=dict, repr=False)
    dates: list[BenefitDate] = field(default_factory=list)
    birth_date: date | None = field(default=None, repr=False)
    gender: str | None = None
    segment: int = 0

    # -- who and which plan --

    @property
    def level(self) -> str:
        """``dependent`` when the answer is about a dependent (loop 2000D), ``subscriber`` (2000C), or
        ``payer`` when the payer rejected the request before reaching anyone (AAA in 2000A/2100A/2100B)."""
        if self.dependent is not None:
            return "dependent"
        return "subscriber" if self.subscriber is not None else "payer"

    @property
    def our_trace_numbers(self) -> list[str]:
        """The trace numbers of our 270 echoed back (TRN01 2), the key to the inquiry."""
        return [t.number for t in self.trace_numbers if t.type == "2"]

    @property
    def plan_number(self) -> str | None:
        """REF*18 plan number, else the first EB05 plan description."""
        return self.references.get("18") or next(
            (b.plan_description for b in self.benefits if b.plan_description), None)

    @property
    def group_number(self) -> str | None:
        """REF*6P group number (REF*1L group or policy number when there is no 6P)."""
        return self.references.get("6P") or self.references.get("1L")

    @property
    def group_name(self) -> str | None:
        return self.reference_names.get("6P") or self.reference_names.get("18")

    # -- coverage --

    @property
    def rejected(self) -> bool:
        """Whether the payer rejected the request instead of answering it (an AAA and no coverage codes)."""
        return bool(self.rejections) and self.coverage_status == "unknown"

    @property
    def coverage_status(self) -> str:
        """See :func:`coverage_status_of`, over every EB01 of this answer."""
        return coverage_status_of(b.code for b in self.benefits)

    def active_on(self, day: date) -> bool | None:
        """Whether coverage is active on ``day``: True for an active EB (1–5) whose dates — its own DTP, else
        the member's eligibility or plan dates — include the day; False when the payer says inactive (6–8)
        or the dates exclude the day; None when the answer says neither (a rejection)."""
        status_benefits = [b for b in self.benefits if b.code in _STATUS]
        if not status_benefits:
            return None
        for benefit in status_benefits:
            if benefit.code in ACTIVE_CODES and _within(day, benefit.dates or self.dates):
                return True
        return False

    # -- mental health --

    def mental_health_benefits(self, service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES, *,
                               fallback: bool = True) -> list[Benefit]:
        """The benefits for these service types; when the payer answered none of them, those for service type
        30 (health benefit plan coverage) and those without a service type, unless ``fallback`` is False."""
        chosen = [b for b in self.benefits if b.covers(service_types)]
        if chosen or not fallback:
            return chosen
        return [b for b in self.benefits if not b.service_types or FALLBACK_SERVICE_TYPE in b.service_types]

    def mental_health_status(self, service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> str:
        """Coverage status for mental health: ``carved_out`` when another organisation manages it (see
        :meth:`carve_outs`), ``not_covered`` when the payer lists the service types as non-covered (EB01 I),
        else the status of their active/inactive codes, else the plan's (:attr:`coverage_status`)."""
        if self.coverage_status.startswith("active") and self.carve_outs(service_types):
            return "carved_out"
        own = [b for b in self.benefits if b.covers(service_types)]
        if any(b.code == "I" for b in own) and not any(b.code in ACTIVE_CODES for b in own):
            return "not_covered"
        status = coverage_status_of(b.code for b in own)
        return status if status != "unknown" else self.coverage_status

    def copay(self, in_network: bool = True,
              service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> Decimal | None:
        """The co-payment per visit (EB01 B, EB07) for mental health, in or out of network."""
        found = self._pick("B", in_network, service_types, lambda b: b.amount is not None)
        return found[0].amount if found else None

    def coinsurance(self, in_network: bool = True,
                    service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> Decimal | None:
        """The co-insurance share (EB01 A, EB08: ``Decimal("0.2")`` is 20 %) for mental health."""
        found = self._pick("A", in_network, service_types, lambda b: b.percent is not None)
        return found[0].percent if found else None

    def deductible(self, in_network: bool = True, coverage_level: str = "IND",
                   service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> Limit:
        """The deductible (EB01 C) for mental health — usually the plan's (service type 30) — total,
        remaining and met so far, for ``coverage_level`` (IND, FAM; another level when that one is absent)."""
        return self._amount_limit("C", in_network, coverage_level, service_types)

    def out_of_pocket(self, in_network: bool = True, coverage_level: str = "IND",
                      service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> Limit:
        """The out-of-pocket maximum (EB01 G): total, remaining and met so far."""
        return self._amount_limit("G", in_network, coverage_level, service_types)

    def visits(self, service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES,
               in_network: bool | None = None) -> Limit:
        """The visit limit for mental health (EB01 F with EB09 VS): the limit, the visits left (EB06 29)
        and the visits used (EB09 99). Payers that state the limit in an HSD instead (``HSD*VS*20***23``)
        are read the same way (HSD05 29 is what is left)."""
        found: list[tuple[str, Decimal, bool]] = []  # (qualifier, quantity, remaining)
        for b in self.benefits:
            if b.code != "F" or not b.covers(service_types):
                continue
            if in_network is not None and b.in_network not in (in_network, None):
                continue
            if b.quantity is not None and b.quantity_qualifier in ("VS", "99"):
                found.append((b.quantity_qualifier, b.quantity, b.remaining))
            found += [(d.quantity_qualifier, d.quantity, d.time_period in REMAINING_PERIODS or b.remaining)
                      for d in b.deliveries if d.quantity is not None and d.quantity_qualifier in ("VS", "99")]
        total = next((q for kind, q, left in found if kind == "VS" and not left), None)
        remaining = next((q for kind, q, left in found if kind == "VS" and left), None)
        used = next((q for kind, q, _ in found if kind == "99"), None)
        return _limit(total, remaining, used)

    def prior_authorization_required(
            self, service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> bool | None:
        """True when any mental-health benefit has EB11 = Y; False when they all answer EB11 (N); None when
        the payer does not say."""
        flags = [b.authorization_required for b in self.mental_health_benefits(service_types)
                 if b.authorization_required is not None]
        if not flags:
            return None
        return any(flags)

    def carve_outs(self, service_types: Sequence[str] = MENTAL_HEALTH_SERVICE_TYPES) -> list[CarveOut]:
        """Mental-health benefits another organisation manages. A benefit for these service types (not the
        fallback) counts when its 2120 loop names an entity other than the payer that answered and either
        the benefit says so (EB01 U contact the following entity, R other or additional payer) or the entity
        is a payer or the plan's delegate (PR, PRP, VN vendor, Y2 managed care organisation, X3 utilisation
        management …). A primary care provider (P3) alone is not a carve-out."""
        found = []
        for benefit in self.benefits:
            if not benefit.covers(service_types):
                continue
            for related in benefit.entities:
                party = related.party
                if _same_party(party, self.payer):
                    continue
                if benefit.code in ("U", "R") or party.entity in PAYER_ENTITIES:
                    found.append(CarveOut(tuple(c for c in benefit.service_types if c in service_types),
                                          benefit.code, party))
        return found

    def messages(self) -> list[str]:
        return [m for b in self.benefits for m in b.messages]

    def _pick(self, code: str, in_network: bool, service_types: Sequence[str],
              has_value: Callable[[Benefit], bool]) -> list[Benefit]:
        candidates = [b for b in self.mental_health_benefits(service_types) if b.code == code and has_value(b)]
        exact = [b for b in candidates if b.in_network is in_network]
        return exact or [b for b in candidates if b.in_network is None]

    def _amount_limit(self, code: str, in_network: bool, coverage_level: str,
                      service_types: Sequence[str]) -> Limit:
        found = self._pick(code, in_network, service_types, lambda b: b.amount is not None)
        if not found:  # a mental-health answer may leave the deductible to the plan-wide (30) lines
            found = self._pick(code, in_network, (FALLBACK_SERVICE_TYPE,), lambda b: b.amount is not None)
        levels = [b for b in found if b.coverage_level == coverage_level]
        if not levels and found:  # no line for that level: take the first level stated
            levels = [b for b in found if b.coverage_level == found[0].coverage_level]
        total = next((b.amount for b in levels if not b.remaining and b.time_period != "24"), None)
        remaining = next((b.amount for b in levels if b.remaining), None)
        used = next((b.amount for b in levels if b.time_period == "24"), None)
        return _limit(total, remaining, used)


def _limit(total: Decimal | None, remaining: Decimal | None, used: Decimal | None) -> Limit:
    if remaining is None and total is not None and used is not None:
        remaining = max(total - used, Decimal(0))
    return Limit(total, remaining, used)


_BEGIN_DATES = frozenset(("291", "292", "307", "346", "348", "356"))  # plan, benefit, eligibility (begin)
_END_DATES = frozenset(("347", "349", "357"))  # plan, benefit, eligibility end


def _within(day: date, dates: Iterable[BenefitDate]) -> bool:
    """Whether ``day`` is inside the coverage dates: the latest begin (a single date of 291/292/307/346/348/356,
    or the start of a range) and the earliest end (347/349/357, or the end of a range). True when there are
    none: the payer answered for the date asked."""
    start: date | None = None
    end: date | None = None
    for d in dates:
        if d.start is None:
            continue
        if d.qualifier in _BEGIN_DATES:
            start = d.start if start is None else max(start, d.start)
            if d.end is not None:
                end = d.end if end is None else min(end, d.end)
        elif d.qualifier in _END_DATES:
            end = d.start if end is None else min(end, d.start)
    return (start is None or start <= day) and (end is None or day <= end)


def _same_party(party: Party, payer: Party | None) -> bool:
    if payer is None:
        return False
    if party.id and payer.id and party.id == payer.id:
        return True
    return bool(party.name and payer.name and party.name.strip().upper() == payer.name.strip().upper())


# -- the transaction sets as :func:`claimbridge.x12.responses.iter_transactions` yields them ---------------


@dataclass
class Eligibility271:
    """One 271 transaction set: BHT03 reference and BHT04 date, and an answer per subscriber or dependent
    (a real-time 271 holds one; a batch 271 many). A 271 that rejects the whole request at the payer level
    (AAA in 2000A/2100A) holds one answer with only the payer, the provider and the rejections."""

    control_number: str
    reference: str | None = None
    date: date | None = None
    purpose: str | None = None
    responses: list[EligibilityResponse] = field(default_factory=list)
    version: str | None = None
    interchange_control_number: str | None = None
    segment: int = 0
    type: str = "271"


@dataclass
class Eligibility270:
    """One 270 transaction set read back (our own batches, for the round trip and for support)."""

    control_number: str
    reference: str | None = None
    date: date | None = None
    purpose: str | None = None
    inquiries: list[EligibilityInquiry] = field(default_factory=list)
    version: str | None = None
    interchange_control_number: str | None = None
    segment: int = 0
    type: str = "270"
