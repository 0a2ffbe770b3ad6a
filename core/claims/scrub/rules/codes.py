"""Code-set rules: ICD-10-CM diagnoses that exist and are billable, CPT/HCPCS and modifier format, Z-codes first.

The ICD-10-CM code set comes from the ``simple-icd-10-cm`` package, which carries **one** release (its data file
names it: :data:`ICD10CM_RELEASE`, e.g. the April 1, 2026 update of FY2026). "Valid for the date of service" is
therefore checked as far as one release allows:

* a date of service before 2015-10-01 is an error (:class:`Icd10Era`): ICD-10-CM did not apply yet;
* a code is checked against the shipped release; when the date of service lies outside that release's period
  the message of :class:`Icd10Valid` says so, because the code may have been added or deleted in another
  release (a code valid on an earlier date may since have been deleted). The reverse cannot be caught: a code
  that a later release expanded into subcodes still passes as billable. Upgrade ``simple-icd-10-cm`` each
  October and April to follow the code set.

The package parses its 10 MB XML on import (about 2.5 s), so it is imported on the first diagnosis look-up, not
with this module; :func:`warm_up` does it ahead of time (benchmarks, long-running services). Each distinct code
is looked up once per process (:func:`icd10_status`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from claimbridge.claims.scrub.base import ClaimFacts, Finding, ScrubRule, Severity
from claimbridge.claims.scrub.examples import example
from claimbridge.claims.systems import CPT, HCPCS

#: the day ICD-10-CM replaced ICD-9-CM for US claims (HIPAA code-set rule, 45 CFR 162.1002)
ICD10_START = date(2015, 10, 1)
_MONTHS = {name: number for number, name in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), start=1)}


def _release() -> tuple[str, date | None, date | None]:
    """(label, first day, last day) of the ICD-10-CM release simple-icd-10-cm ships, read from its data file
    name (``code-list-April-2026.txt``) without importing the package (which parses the whole code set)."""
    try:
        version = importlib.metadata.version("simple-icd-10-cm")
    except importlib.metadata.PackageNotFoundError:
        version = "not installed"
    spec = importlib.util.find_spec("simple_icd_10_cm")
    names = []
    if spec is not None and spec.submodule_search_locations:
        names = sorted(p.name for p in (Path(next(iter(spec.submodule_search_locations))) / "data").glob(
            "code-list-*.txt"))
    match = re.fullmatch(r"code-list-([A-Za-z]+)-(\d{4})\.txt", names[-1]) if names else None
    month = _MONTHS.get(match.group(1).lower()) if match else None
    if not match or month is None:
        return f"the release in simple-icd-10-cm {version}", None, None
    year = int(match.group(2))
    first = date(year, month, 1)
    # releases take effect on October 1 (the fiscal year's code set) and April 1 (its update); both end on the
    # September 30 that closes the fiscal year
    last = date(year + 1 if month >= 10 else year, 9, 30)
    fiscal_year = year + 1 if month >= 10 else year
    return (f"ICD-10-CM FY{fiscal_year} ({match.group(1).capitalize()} 1, {year} release, "
            f"simple-icd-10-cm {version})", first, last)


ICD10CM_RELEASE, RELEASE_FIRST_DAY, RELEASE_LAST_DAY = _release()

#: an ICD-10-CM category or subcategory as written on a claim: letter, digit, alphanumeric, then up to four
#: more characters after an optional dot (F41, F41.1, F411, T74.11XA)
_ICD10_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
BILLABLE, NOT_BILLABLE, UNKNOWN = "billable", "not billable", "unknown"
_STATUS: dict[str, tuple[str, tuple[str, ...]]] = {}


def _code_set():
    """The simple_icd_10_cm module (imported on first use: the import parses the code set)."""
    with warnings.catch_warnings():
        # its loader uses importlib.resources APIs deprecated since Python 3.11; not ours to fix
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm
    return simple_icd_10_cm


def warm_up() -> None:
    """Load the ICD-10-CM code set now rather than on the first look-up."""
    _code_set()


def icd10_status(code: str) -> tuple[str, tuple[str, ...]]:
    """``(status, children)`` of an ICD-10-CM code: :data:`BILLABLE` (a leaf of the tabular list),
    :data:`NOT_BILLABLE` (a category or subcategory with codes below it, listed in ``children``) or
    :data:`UNKNOWN` (not a code of :data:`ICD10CM_RELEASE`; chapters and blocks such as ``F40-F48`` are not
    diagnosis codes either). Memoized: each distinct code is looked up once per process."""
    try:
        return _STATUS[code]
    except KeyError:
        pass
    normalized = code.strip().upper()
    if not _ICD10_SHAPE.match(normalized):
        result: tuple[str, tuple[str, ...]] = (UNKNOWN, ())
    else:
        icd = _code_set()
        if not (icd.is_valid_item(normalized) and icd.is_category_or_subcategory(normalized)):
            result = (UNKNOWN, ())
        elif icd.is_leaf(normalized):
            result = (BILLABLE, ())
        else:
            result = (NOT_BILLABLE, tuple(icd.get_children(normalized)))
    if len(_STATUS) < 200_000:  # bounded: codes come from outside
        _STATUS[code] = result
    return result


def _service_dates(facts: ClaimFacts) -> list[date]:
    return sorted({line.service_date for line in facts.lines if line.service_date is not None})


def _release_caveat(facts: ClaimFacts) -> str:
    """A note for messages when a date of service lies outside the release the code was checked against."""
    if RELEASE_FIRST_DAY is None or RELEASE_LAST_DAY is None:
        return ""
    outside = [d for d in _service_dates(facts) if d < RELEASE_FIRST_DAY or d > RELEASE_LAST_DAY]
    if not outside:
        return ""
    return (f"; that release is in force from {RELEASE_FIRST_DAY} to {RELEASE_LAST_DAY}, the date of service "
            f"{outside[0]} is not: check the code against the code set of that date")


def diagnosis_path(facts: ClaimFacts, position: int) -> str:
    """The FHIR path of the ``position``-th diagnosis of ``facts.diagnoses`` (in sequence order) in the Claim."""
    raw = facts.raw.get("diagnosis") if facts.raw else None
    if isinstance(raw, list) and position < len(facts.diagnosis_sequences):
        sequence = facts.diagnosis_sequences[position]
        for index, entry in enumerate(raw):
            if isinstance(entry, dict) and entry.get("sequence") == sequence:
                return f"Claim.diagnosis[{index}].diagnosisCodeableConcept"
    return f"Claim.diagnosis[{position}].diagnosisCodeableConcept"


class Icd10Valid(ScrubRule):
    """Every diagnosis is an ICD-10-CM code (a category or subcategory of the shipped release)."""

    id = "codes.icd10_valid"
    title = "Every diagnosis is an ICD-10-CM code"
    fix = ("Correct the diagnosis on the patient's problem list in the EHR: use the ICD-10-CM code with the dot "
           "after the third character (F41.1), not a DSM-5 text, an ICD-9 or an ICD-10 (WHO) code.")
    path = "Claim.diagnosis.diagnosisCodeableConcept"
    source = f"HIPAA code set (45 CFR 162.1002); checked against {ICD10CM_RELEASE}"

    passes = (example("the example claim (F41.1)"),
              example("F41.1 and a Z-code after it (Z63.0)", diagnoses=("F41.1", "Z63.0"), diagnosis_sequences=(1, 2)),
              example("the category F41: a code, though not billable (codes.icd10_billable)", diagnoses=("F41",)))
    fails = (example("F41.X, not a code", diagnoses=("F41.X",)),
             example("an ICD-9-CM code (296.32) as the second diagnosis", diagnoses=("F41.1", "296.32"),
                     diagnosis_sequences=(1, 2)),
             example("a diagnosis without a code", diagnoses=("",)))

    def check(self, facts, profile, context):
        for position, code in enumerate(facts.diagnoses):
            if not code:
                yield self.finding(f"diagnosis {position + 1} has no ICD-10-CM code",
                                   path=diagnosis_path(facts, position))
            elif icd10_status(code)[0] == UNKNOWN:
                yield self.finding(f"diagnosis {position + 1} ({code}) is not a code of {ICD10CM_RELEASE}"
                                   f"{_release_caveat(facts)}", path=diagnosis_path(facts, position))


class Icd10Billable(ScrubRule):
    """A diagnosis must be coded to the highest specificity: a category with codes below it (F41, F43.8) is
    valid ICD-10-CM but not billable, and payers reject the claim."""

    id = "codes.icd10_billable"
    title = "Every diagnosis is a billable (leaf) ICD-10-CM code, not a category"
    fix = "Pick the specific code under the category in the EHR (F41 → F41.1 generalized anxiety disorder …)."
    path = "Claim.diagnosis.diagnosisCodeableConcept"
    source = f"ICD-10-CM Official Guidelines I.B.2 (code to the highest specificity); {ICD10CM_RELEASE}"

    passes = (example("the example claim (F41.1)"),
              example("F43.81, a code under the category F43.8", diagnoses=("F43.81",)),
              example("F41.X, not a code at all (codes.icd10_valid)", diagnoses=("F41.X",)))
    fails = (example("the category F41", diagnoses=("F41",)),
             example("the subcategory F43.8 as the second diagnosis", diagnoses=("F41.1", "F43.8"),
                     diagnosis_sequences=(1, 2)))

    def check(self, facts, profile, context):
        for position, code in enumerate(facts.diagnoses):
            if not code:
                continue
            status, children = icd10_status(code)
            if status == NOT_BILLABLE:
                shown = ", ".join(children[:6]) + (" …" if len(children) > 6 else "")
                yield self.finding(f"diagnosis {position + 1} ({code}) is an ICD-10-CM category, not a billable "
                                   f"code; use one of the codes below it: {shown}",
                                   path=diagnosis_path(facts, position))


class Icd10Era(ScrubRule):
    """ICD-10-CM codes apply only to services from 2015-10-01; earlier services are coded in ICD-9-CM, which
    claimbridge does not send."""

    id = "codes.icd10_date"
    title = "The date of service is on or after 2015-10-01, when ICD-10-CM took effect"
    fix = ("Correct the date of service in the EHR; a service before 2015-10-01 must be billed with ICD-9-CM "
           "diagnoses outside claimbridge.")
    path = "Claim.item.servicedDate"
    source = "HIPAA code set rule (45 CFR 162.1002): ICD-10-CM for services on or after 2015-10-01"

    passes = (example("the example claim (2026)"),
              example("a service on 2015-10-01, the first day of ICD-10-CM", line={"service_date": ICD10_START}))
    fails = (example("a service on 2015-09-30, under ICD-9-CM", line={"service_date": date(2015, 9, 30)}),)

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.service_date is not None and line.service_date < ICD10_START:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}): date of service "
                                   f"{line.service_date} is before {ICD10_START}, when ICD-10-CM replaced "
                                   "ICD-9-CM", path=f"Claim.item[{line.index}].servicedDate")


_CPT_SHAPE = re.compile(r"^(\d{5}|\d{4}[FT])$")
_HCPCS_SHAPE = re.compile(r"^[A-Z]\d{4}$")
_SYSTEM_NAMES = {CPT: "CPT", HCPCS: "HCPCS"}
_KINDS: dict[str, str | None] = {}


def procedure_kind(code: str) -> str | None:
    """The system a procedure code's shape belongs to (:data:`CPT` or :data:`HCPCS`); None when it has neither
    shape. Memoized (a few hundred distinct codes make up a practice's claims)."""
    try:
        return _KINDS[code]
    except KeyError:
        kind = CPT if _CPT_SHAPE.match(code) else HCPCS if _HCPCS_SHAPE.match(code) else None
        if len(_KINDS) < 100_000:
            _KINDS[code] = kind
        return kind


class ProcedureFormat(ScrubRule):
    """CPT codes are five digits (category I) or four digits and F/T (category II/III); HCPCS Level II codes
    are a letter and four digits. Anything else is a local or mistyped code the payer cannot price."""

    id = "codes.procedure_format"
    title = "Every line's code is a well-formed CPT (99999, 9999F, 9999T) or HCPCS (A9999) code"
    fix = ("Correct the procedure code in the EHR or in the source's code_map (CPT: 5 digits or 4 digits + F/T; "
           "HCPCS: a letter and 4 digits; no spaces, no modifiers in the code).")
    path = "Claim.item.productOrService"
    source = "837P TR3 005010X222A1 SV101-2 (HC: CPT/HCPCS); AMA CPT and CMS HCPCS code formats"

    passes = (example("the example claim (90837)"),
              example("a HCPCS code (H0004)", line={"code": "H0004", "code_system": HCPCS}),
              example("a CPT category III code (0591T)", line={"code": "0591T"}),
              example("a CPT category II code (3008F)", line={"code": "3008F"}))
    fails = (example("a modifier in the code (90834-95)", line={"code": "90834-95"}),
             example("a four-digit code (9083)", line={"code": "9083"}),
             example("a lower-case HCPCS code (h0004)", line={"code": "h0004", "code_system": HCPCS}),
             example("a letter O for a zero (9O834)", line={"code": "9O834"}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            code = line.code
            if code and procedure_kind(code) is None:
                yield self.finding(f"line {line.index + 1}: procedure code {code!r} is neither a CPT code "
                                   "(5 digits, or 4 digits + F/T) nor a HCPCS code (a letter and 4 digits)",
                                   path=f"Claim.item[{line.index}].productOrService")


class ProcedureSystem(ScrubRule):
    """A CPT-shaped code should carry the CPT system and a HCPCS Level II code the HCPCS system. The 837P sends
    both under qualifier HC, so a mismatch does not reject the claim, but it shows a code map that mixes them
    up (and reports that group by code system go wrong)."""

    id = "codes.procedure_system"
    severity = Severity.WARNING
    title = "CPT codes carry the CPT system and HCPCS codes the HCPCS system"
    fix = "Fix the coding's system in the EHR or the source's code_map (CPT: AMA system; letter codes: HCPCS)."
    path = "Claim.item.productOrService"
    source = "docs/claim-profile.md (code systems); HCPCS Level I is CPT, Level II is a letter and 4 digits"

    passes = (example("the example claim (90837 as CPT)"),
              example("H0004 as HCPCS", line={"code": "H0004", "code_system": HCPCS}),
              example("a malformed code (codes.procedure_format)", line={"code": "IND45", "code_system": HCPCS}))
    fails = (example("H0004 coded in the CPT system", line={"code": "H0004"}),
             example("90834 coded in the HCPCS system", line={"code": "90834", "code_system": HCPCS}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            code, system = line.code, line.code_system
            if not code or system not in _SYSTEM_NAMES:
                continue
            expected = procedure_kind(code)
            if expected is not None and system != expected:
                yield self.finding(f"line {line.index + 1}: {code} is a {_SYSTEM_NAMES[expected]} code but is "
                                   f"coded in the {_SYSTEM_NAMES[system]} system",
                                   path=f"Claim.item[{line.index}].productOrService")


_MODIFIER_SHAPE = re.compile(r"^[A-Z0-9]{2}$")
_GOOD_MODIFIERS: set[str] = set()


class ModifierFormat(ScrubRule):
    """Procedure modifiers are two upper-case letters or digits (95, GT, HQ, 59, XE)."""

    id = "codes.modifier_format"
    title = "Every modifier is two upper-case letters or digits"
    fix = "Correct the modifier in the EHR (two characters, e.g. 95, GT, HQ; one modifier per entry, no spaces)."
    path = "Claim.item.modifier"
    source = "837P TR3 005010X222A1 SV101-3 to SV101-6 (2 characters); AMA CPT / CMS HCPCS modifiers"

    passes = (example("the example claim (no modifiers)"),
              example("modifiers HQ, 95 and X5", line={"modifiers": ("HQ", "95", "X5")}))
    fails = (example("a one-character modifier (9)", line={"modifiers": ("9",)}),
             example("a lower-case modifier (gt)", line={"modifiers": ("gt",)}),
             example("a three-character modifier (95X) after HQ", line={"modifiers": ("HQ", "95X")}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if not line.modifiers or _GOOD_MODIFIERS.issuperset(line.modifiers):
                continue
            for position, modifier in enumerate(line.modifiers):
                if _MODIFIER_SHAPE.match(modifier):
                    if len(_GOOD_MODIFIERS) < 10_000:
                        _GOOD_MODIFIERS.add(modifier)
                else:
                    yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}): modifier "
                                       f"{modifier!r} is not two upper-case letters or digits",
                                       path=f"Claim.item[{line.index}].modifier[{position}]")


class ZCodePrimary(ScrubRule):
    """Z-codes (factors influencing health status, such as Z63.0 relationship distress) describe circumstances,
    not disorders. Several payers (many Medicaid plans) deny psychotherapy whose primary diagnosis is a Z-code.
    The payer profile's ``z_code_primary`` decides: ``allow`` (no finding), ``warning`` (default) or ``error``.
    """

    id = "codes.z_code_primary"
    severity = Severity.WARNING
    title = "The primary diagnosis is not a Z-code (payer profile: z_code_primary allow/warning/error)"
    fix = ("Put the mental-health diagnosis the service treats first (e.g. F43.23) and the Z-code after it; if "
           "there is no such diagnosis, check the payer's policy before billing.")
    path = "Claim.diagnosis[0].diagnosisCodeableConcept"
    source = "payer policy (profile z_code_primary); ICD-10-CM Official Guidelines I.C.21 (Z-codes)"

    passes = (example("the example claim (F41.1)"),
              example("Z63.0 after F41.1", diagnoses=("F41.1", "Z63.0"), diagnosis_sequences=(1, 2)),
              example("Z63.0 first for a payer that allows it", diagnoses=("Z63.0", "F41.1"),
                      diagnosis_sequences=(1, 2), profile={"z_code_primary": "allow"}))
    fails = (example("Z63.0 first (the default profile warns)", diagnoses=("Z63.0", "F41.1"),
                     diagnosis_sequences=(1, 2)),
             example("Z63.0 first for a payer that refuses it (error)", diagnoses=("Z63.0",),
                     profile={"z_code_primary": "error"}))

    def check(self, facts, profile, context) -> Iterator[Finding]:
        if profile.z_code_primary == "allow" or not facts.diagnoses:
            return
        primary = facts.diagnoses[0]
        if primary[:1].upper() == "Z":
            severity = Severity.ERROR if profile.z_code_primary == "error" else Severity.WARNING
            yield self.finding(f"the primary diagnosis {primary} is a Z-code; payer profile {profile.name} "
                               f"treats a Z-code first as {'an error' if severity is Severity.ERROR else 'a risk'}",
                               path=diagnosis_path(facts, 0), severity=severity)


RULES: list[type[ScrubRule]] = [Icd10Valid, Icd10Billable, Icd10Era, ProcedureFormat, ProcedureSystem,
                                ModifierFormat, ZCodePrimary]
