"""The scrubber's vocabulary: findings, rules, the facts a rule reads, and the context it may consult.

A rule is a class with an ``id`` and a ``check`` method. It reads :class:`ClaimFacts` — the claim flattened
once, so fifty rules don't each walk the FHIR JSON — plus the payer profile and the :class:`ScrubContext`, and
yields :class:`Finding` objects. Rules never touch the database: what they need from history (claims already
submitted, visits used) arrives in the context.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from claimbridge.claims.scrub.examples import Example
    from claimbridge.claims.scrub.profiles import PayerProfile


class Severity(enum.StrEnum):
    ERROR = "error"      # the claim is held
    WARNING = "warning"  # the claim goes out; the biller sees the warning


@dataclass(frozen=True)
class Finding:
    """One problem with a claim. ``path`` is a FHIR path into the Claim (``Claim.item[0].modifier``)."""

    rule: str
    severity: Severity
    message: str
    fix: str
    path: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "severity": str(self.severity), "message": self.message, "fix": self.fix,
                "path": self.path}


@dataclass(frozen=True)
class Line:
    """One ``Claim.item``: ``index`` is its position (``Claim.item[index]``)."""

    index: int
    code: str | None                 # CPT/HCPCS code (None when the item has no CPT/HCPCS coding)
    code_system: str | None
    modifiers: tuple[str, ...]
    service_date: date | None
    pos: str | None                  # place of service code of the line
    units: Decimal | None
    unit_price: Decimal | None
    charge: Decimal | None           # item.net
    minutes: Decimal | None          # EXT_MINUTES, else the encounter's minutes
    diagnosis_pointers: tuple[int, ...]
    line_control_number: str | None


@dataclass(frozen=True)
class Provider:
    npi: str | None
    taxonomy: str | None
    name_present: bool
    path: str                        # where it is in the Claim, for findings (``Claim.careTeam[0]``)


@dataclass(frozen=True)
class ClaimFacts:
    """Everything the built-in rules read, extracted once per claim (see ``facts.facts_from_claim``)."""

    pcn: str | None
    frequency: str                   # 1, 7 or 8
    related_claim_number: str | None # payer claim number of the claim replaced or voided (REF*F8)
    created: date | None
    total: Decimal | None
    # patient and coverage
    patient_key: str | None          # a stable key of the patient (member id + birth date, or the EHR id)
    patient_name_present: bool
    patient_birth_date: date | None
    patient_sex: str | None          # FHIR gender
    subscriber_member_id: str | None
    relationship: str | None         # self | spouse | child | other
    payer_id: str | None
    payer_name: str | None
    prior_authorizations: tuple[str, ...]
    # providers
    billing_npi: str | None
    billing_tax_id: str | None
    billing_street: str | None       # first address line
    billing_address_complete: bool
    rendering: Provider | None
    supervising: Provider | None
    referring: Provider | None
    # encounter
    telehealth: bool                 # Encounter.class VR
    audio_only: bool                 # an encounter flagged audio-only (modifier 93/FQ expected)
    session_minutes: Decimal | None
    has_service_facility: bool
    # codes
    diagnoses: tuple[str, ...]       # ICD-10-CM codes with the dot, in sequence order
    diagnosis_sequences: tuple[int, ...]
    lines: tuple[Line, ...]
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)  # the Claim JSON, for plugin rules
    # added with the scrubber (defaults keep older constructors working)
    billing_taxonomy: str | None = None  # NUCC identifier of the billing Organization (PRV*BI), when given
    billing_name_present: bool = True
    billing_postal_code: str | None = None
    care_team_sequences: tuple[int, ...] = ()  # Claim.careTeam[].sequence values
    encounter_class: str | None = None       # Encounter.class code (AMB, VR …)


@dataclass(frozen=True)
class PriorClaimLine:
    """A line of a claim already submitted (or earlier in the same batch), for duplicate checks."""

    pcn: str
    patient_key: str
    rendering_npi: str | None
    code: str
    service_date: date

    @classmethod
    def lines_of(cls, facts: ClaimFacts) -> list[PriorClaimLine]:
        """The lines of a scrubbed claim, to add to ``ScrubContext.prior_lines`` for the claims after it (the
        duplicate check within a batch). Lines without a patient key, code or date are left out."""
        if not facts.pcn or not facts.patient_key:
            return []
        npi = facts.rendering.npi if facts.rendering else None
        return [cls(pcn=facts.pcn, patient_key=facts.patient_key, rendering_npi=npi, code=line.code,
                    service_date=line.service_date)
                for line in facts.lines if line.code and line.service_date]


@dataclass
class ScrubContext:
    """What a rule may know beyond the claim. Built by the pipeline from the store; empty for
    ``claimbridge scrub FILE``."""

    today: date
    prior_lines: list[PriorClaimLine] = field(default_factory=list)
    #: visits already used per (patient_key, payer_id, authorization number or ``""``)
    visits_used: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: authorizations known from configuration or the EHR: (patient_key, payer_id) → list of dicts with
    #: ``number``, ``codes`` (empty: any), ``start``, ``end``, ``visits``
    authorizations: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: the payers' eligibility answers (271s): (patient_key, payer_id) → list of dicts with ``service_date``,
    #: ``active`` (True/False/None), ``coverage_status``, ``answered_at``, ``check``
    eligibility: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _prior_index: tuple[int, dict] | None = field(default=None, init=False, repr=False, compare=False)

    def prior_lines_by_key(self) -> dict[tuple[str, str | None, str, date], list[PriorClaimLine]]:
        """``prior_lines`` by (patient_key, rendering_npi, code, service_date); rebuilt when lines were added
        (so a batch may append to ``prior_lines`` between claims)."""
        cached = self._prior_index
        if cached is not None and cached[0] == len(self.prior_lines):
            return cached[1]
        index: dict[tuple[str, str | None, str, date], list[PriorClaimLine]] = {}
        for line in self.prior_lines:
            index.setdefault((line.patient_key, line.rendering_npi, line.code, line.service_date), []).append(line)
        self._prior_index = (len(self.prior_lines), index)
        return index


class ScrubRule(abc.ABC):
    """A scrub rule. Subclass it, set the class attributes, implement :meth:`check`; hand the class to
    ``register_scrub_rules``. Rule ids are dotted, lowercase and stable (``psychotherapy.time_band``): overrides
    and the docs refer to them."""

    id: ClassVar[str]
    severity: ClassVar[Severity] = Severity.ERROR
    title: ClassVar[str]             # one line for docs/scrubbing.md and the UI
    fix: ClassVar[str]               # the default fix hint
    path: ClassVar[str] = "Claim"    # the default FHIR path the rule concerns
    source: ClassVar[str] = ""       # where the rule comes from (CPT time rule, TR3, payer policy …)
    #: claims the rule passes and claims it flags, as changes to the example claim (``scrub.examples.example``);
    #: ``claimbridge.testing.check_scrub_rule`` runs them, and docs/scrubbing.md can show them
    passes: ClassVar[tuple[Example, ...]] = ()
    fails: ClassVar[tuple[Example, ...]] = ()

    @abc.abstractmethod
    def check(self, facts: ClaimFacts, profile: PayerProfile, context: ScrubContext) -> Iterable[Finding]:
        """Yield a :class:`Finding` for each problem; yield nothing when the claim passes."""

    def finding(self, message: str, *, path: str | None = None, severity: Severity | None = None,
                fix: str | None = None) -> Finding:
        return Finding(rule=self.id, severity=severity or self.severity, message=message, fix=fix or self.fix,
                       path=path or self.path)
