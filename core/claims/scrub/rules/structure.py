"""Structure rules: what an 837P cannot go without, and the arithmetic and counts the TR3 fixes.

Sources: the 837P TR3 (005010X222A1) segment requirements and element limits, and docs/claim-profile.md. The
claim builder already refuses most of these; the rules still check them because a Claim may come from a file
(``claimbridge scrub``), from an ``adjust_claim`` plugin, or from an older builder.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import ClassVar

from claimbridge.claims.scrub.base import Finding, Provider, ScrubRule, Severity
from claimbridge.claims.scrub.examples import example

TR3 = "837P TR3 005010X222A1"
BILLING = "Claim.contained.where(id='billing')"
PATIENT = "Claim.contained.where(id='patient')"
COVERAGE = "Claim.contained.where(id='coverage')"
PAYER = "Claim.contained.where(id='payer')"
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
_TIN = re.compile(r"^\d{9}$")
_PO_BOX = re.compile(r"\b(P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|LOCK\s*BOX)\b", re.IGNORECASE)
_ZIP9 = re.compile(r"^\d{5}-?\d{4}$")
_SEXES = ("male", "female")
_SHAPES: dict[tuple[str, str], bool] = {}
#: 13 diagnoses (one more than fit), for the examples
_DIAGNOSES = ("F41.1", "F32.1", "F43.10", "F40.10", "F42.2", "F51.01", "F90.0", "F33.1", "F41.0", "F43.22",
              "F34.1", "F50.2", "F63.81")


def _shape_ok(kind: str, pattern: re.Pattern, value: str) -> bool:
    """``pattern`` matches ``value`` (search), memoized: a practice's billing address and tax id repeat on every
    claim."""
    key = (kind, value)
    ok = _SHAPES.get(key)
    if ok is None:
        ok = bool(pattern.search(value))
        if len(_SHAPES) < 50_000:
            _SHAPES[key] = ok
    return ok


class _RequiredFact(ScrubRule):
    """A rule that only asks for one fact to be there: ``fact`` names the ClaimFacts field, ``missing`` is
    the message when it is empty."""

    fact: ClassVar[str]
    missing: ClassVar[str]

    def check(self, facts, profile, context):
        if not getattr(facts, self.fact):
            yield self.finding(self.missing)


class BillingNpi(_RequiredFact):
    id = "structure.billing_npi"
    title = "The billing provider has an NPI"
    fix = "Set the group's NPI on the billing Organization in the EHR or practice.npi in the configuration."
    path = f"{BILLING}.identifier"
    source = f"{TR3}, loop 2010AA NM109"
    fact = "billing_npi"
    missing = "the billing provider has no NPI"
    passes = (example("the example claim"),)
    fails = (example("no billing NPI", billing_npi=None), example("a blank billing NPI", billing_npi=""))


class BillingTaxId(ScrubRule):
    id = "structure.billing_tax_id"
    title = "The billing provider has a 9-digit tax id (EIN or SSN)"
    fix = "Set the tax id (9 digits, no dash) on the billing Organization or practice.tax_id in the configuration."
    path = f"{BILLING}.identifier"
    source = f"{TR3}, loop 2010AA REF*EI"
    passes = (example("the example claim"), example("a tax id written with a dash", billing_tax_id="36-4829175"))
    fails = (example("no tax id", billing_tax_id=None), example("an 8-digit tax id", billing_tax_id="36482917"))

    def check(self, facts, profile, context):
        if not facts.billing_tax_id:
            yield self.finding("the billing provider has no tax id")
        elif not _shape_ok("tin", _TIN, facts.billing_tax_id.replace("-", "")):
            # a malformed tax id is not PHI of a patient, but it may be an SSN: never repeat it
            yield self.finding("the billing provider's tax id is not 9 digits")


class BillingAddress(ScrubRule):
    id = "structure.billing_address"
    title = "The billing provider has a complete street address with a ZIP+4, not a PO box"
    fix = ("Give the billing Organization (or practice.address) a physical street address with city, state and "
           "the 9-digit ZIP code; payments to a PO box go in the pay-to address, not here.")
    path = f"{BILLING}.address[0]"
    source = f"{TR3}, loop 2010AA N3/N4 (a PO box is not allowed; ZIP+4 required)"
    passes = (example("the example claim"), example("a ZIP+4 written with a dash", billing_postal_code="62701-1234"),
              example("a street whose name starts with Box", billing_street="410 Boxwood Lane"))
    fails = (example("no street address", billing_street=None),
             example("an address without city, state or ZIP code", billing_address_complete=False),
             example("a PO box", billing_street="P.O. Box 4410"),
             example("a 5-digit ZIP code", billing_postal_code="62701"))

    def check(self, facts, profile, context):
        if not facts.billing_street:
            yield self.finding("the billing provider has no street address")
            return
        if not facts.billing_address_complete:
            yield self.finding("the billing provider's address lacks city, state or ZIP code")
        if _shape_ok("po", _PO_BOX, facts.billing_street):
            yield self.finding("the billing provider's address is a PO box; the 837P needs a street address")
        if facts.billing_postal_code and not _shape_ok("zip", _ZIP9, facts.billing_postal_code):
            yield self.finding(f"the billing provider's ZIP code {facts.billing_postal_code} is not a 9-digit "
                               "ZIP+4", path=f"{BILLING}.address[0].postalCode")


class BillingName(ScrubRule):
    id = "structure.billing_name"
    title = "The billing provider has a name"
    fix = "Set the group's legal name on the billing Organization or practice.name in the configuration."
    path = f"{BILLING}.name"
    source = f"{TR3}, loop 2010AA NM103"
    passes = (example("the example claim"),
              example("no name and no NPI (left to structure.billing_npi)", billing_npi=None,
                      billing_name_present=False))
    fails = (example("a billing provider without a name", billing_name_present=False),)

    def check(self, facts, profile, context):
        if facts.billing_npi and not facts.billing_name_present:
            yield self.finding("the billing provider has no name")


class SubscriberMemberId(_RequiredFact):
    id = "structure.subscriber_member_id"
    title = "The coverage has the subscriber's member id"
    fix = "Enter the member id from the insurance card on the patient's coverage in the EHR."
    path = f"{COVERAGE}.subscriberId"
    source = f"{TR3}, loop 2010BA NM109"
    fact = "subscriber_member_id"
    missing = "the coverage has no member id"
    passes = (example("the example claim"),)
    fails = (example("no member id", subscriber_member_id=None), example("a blank member id", subscriber_member_id=""))


class PayerId(_RequiredFact):
    id = "structure.payer_id"
    title = "The payer has a payer id"
    fix = "Give the payer Organization its payer id (identifier typed NIIP), as the clearinghouse lists it."
    path = f"{PAYER}.identifier"
    source = f"{TR3}, loop 2010BB NM109"
    fact = "payer_id"
    missing = "the payer has no payer id"
    passes = (example("the example claim"),)
    fails = (example("no payer id", payer_id=None), example("a blank payer id", payer_id=""))


class PatientName(_RequiredFact):
    id = "structure.patient_name"
    title = "The patient has a family name"
    fix = "Record the patient's legal name as on the insurance card in the EHR."
    path = f"{PATIENT}.name"
    source = f"{TR3}, loop 2010BA/2010CA NM103"
    fact = "patient_name_present"
    missing = "the patient has no family name"
    passes = (example("the example claim"),)
    fails = (example("a patient without a family name", patient_name_present=False),)


class PatientBirthDate(_RequiredFact):
    id = "structure.patient_birth_date"
    title = "The patient has a birth date"
    fix = "Record the patient's date of birth in the EHR."
    path = f"{PATIENT}.birthDate"
    source = f"{TR3}, DMG02"
    fact = "patient_birth_date"
    missing = "the patient has no (valid) birth date"
    passes = (example("the example claim"),)
    fails = (example("no (or an invalid) birth date", patient_birth_date=None),)


class PatientSex(ScrubRule):
    id = "structure.patient_sex"
    title = "The patient's sex is recorded (male or female; unknown is a warning)"
    fix = "Record the patient's sex as on the insurance card in the EHR."
    path = f"{PATIENT}.gender"
    source = f"{TR3}, DMG03 (F, M or U; many payers reject U)"
    passes = (example("the example claim"), example("a male patient", patient_sex="male"))
    fails = (example("no sex recorded", patient_sex=None),
             example("sex unknown (a warning: sent as U)", patient_sex="unknown"),
             example("sex other (a warning: sent as U)", patient_sex="other"))

    def check(self, facts, profile, context):
        if not facts.patient_sex:
            yield self.finding("the patient's sex is not recorded")
        elif facts.patient_sex not in _SEXES:
            yield self.finding(f"the patient's sex is {facts.patient_sex!r}, sent as U (unknown); many payers "
                               "reject it", severity=Severity.WARNING)


class RenderingProvider(ScrubRule):
    id = "structure.rendering_provider"
    title = "A rendering provider with an NPI and a name is on the care team"
    fix = ("Record the clinician who saw the patient (with NPI and name) on the encounter in the EHR; the claim "
           "needs a care team member with role primary.")
    path = "Claim.careTeam"
    source = f"{TR3}, loop 2310B NM1*82"
    passes = (example("the example claim"),)
    fails = (example("no rendering provider", rendering=None),
             example("a rendering provider without an NPI",
                     rendering=Provider(npi=None, taxonomy="103TC0700X", name_present=True, path="Claim.careTeam[0]")),
             example("a rendering provider without a family name",
                     rendering=Provider(npi="1540388620", taxonomy="103TC0700X", name_present=False,
                                        path="Claim.careTeam[0]")))

    def check(self, facts, profile, context):
        rendering = facts.rendering
        if rendering is None:
            yield self.finding("the claim has no rendering provider (care team role primary)")
            return
        if not rendering.npi:
            yield self.finding("the rendering provider has no NPI", path=rendering.path)
        if not rendering.name_present:
            yield self.finding("the rendering provider has no family name", path=rendering.path)


class DiagnosisPresent(ScrubRule):
    id = "structure.diagnosis_present"
    title = "The claim has at least one diagnosis"
    fix = "Add the ICD-10-CM diagnosis to the encounter in the EHR."
    path = "Claim.diagnosis"
    source = f"{TR3}, HI (ABK required)"
    passes = (example("the example claim"),)
    fails = (example("no diagnosis", diagnoses=(), diagnosis_sequences=()),
             example("a diagnosis without a code", diagnoses=("",), diagnosis_sequences=(1,)))

    def check(self, facts, profile, context):
        if not any(facts.diagnoses):
            yield self.finding("the claim has no diagnosis")


class DiagnosisCount(ScrubRule):
    id = "structure.diagnosis_count"
    title = "At most 12 diagnoses"
    fix = "Keep the 12 diagnoses that matter for these services; the 837P holds no more."
    path = "Claim.diagnosis"
    source = f"{TR3}, HI (12 codes)"
    passes = (example("the example claim"),
              example("12 diagnoses", diagnoses=_DIAGNOSES[:12], diagnosis_sequences=tuple(range(1, 13))))
    fails = (example("13 diagnoses", diagnoses=_DIAGNOSES, diagnosis_sequences=tuple(range(1, 14))),)

    def check(self, facts, profile, context):
        if len(facts.diagnoses) > MAX_DIAGNOSES:
            yield self.finding(f"the claim has {len(facts.diagnoses)} diagnoses; at most {MAX_DIAGNOSES} fit")


class LinePresent(ScrubRule):
    id = "structure.line_present"
    title = "The claim has at least one service line"
    fix = "Code the session (CPT/HCPCS) on the encounter in the EHR."
    path = "Claim.item"
    source = f"{TR3}, loop 2400 (1 to 50 lines)"
    passes = (example("the example claim"), example("50 lines", more_lines=[{}] * 49))
    fails = (example("no line", lines=()), example("51 lines", more_lines=[{}] * 50))

    def check(self, facts, profile, context):
        if not facts.lines:
            yield self.finding("the claim has no service line")
        elif len(facts.lines) > 50:
            yield self.finding(f"the claim has {len(facts.lines)} service lines; at most 50 fit")


class LineCode(ScrubRule):
    id = "structure.line_code"
    title = "Every line has a CPT or HCPCS code"
    fix = "Code the service in CPT or HCPCS in the EHR (or add the local code to the source's code_map)."
    path = "Claim.item.productOrService"
    source = f"{TR3}, SV101 (HC qualifier)"
    passes = (example("the example claim"), example("a HCPCS code", line={"code": "H0004"}))
    fails = (example("a line without a CPT or HCPCS code", line={"code": None, "code_system": None}),
             example("a second line without a code", more_lines=[{"code": None, "code_system": None}]))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if not line.code:
                yield self.finding(f"line {line.index + 1} has no CPT or HCPCS code",
                                   path=f"Claim.item[{line.index}].productOrService")


class LineServiceDate(ScrubRule):
    id = "structure.service_date"
    title = "Every line has a date of service"
    fix = "Make sure the encounter has a start date in the EHR."
    path = "Claim.item.servicedDate"
    source = f"{TR3}, DTP*472"
    passes = (example("the example claim"),)
    fails = (example("a line without a date of service", line={"service_date": None}),
             example("a second line without a date of service", more_lines=[{"service_date": None}]))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.service_date is None:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}) has no date of service",
                                   path=f"Claim.item[{line.index}].servicedDate")


class LinePlaceOfService(ScrubRule):
    id = "structure.place_of_service"
    title = "Every line has a two-digit place-of-service code"
    fix = "Set the place of service (POS) on the encounter's location in the EHR (11 office, 10 telehealth at home)."
    path = "Claim.item.locationCodeableConcept"
    source = f"{TR3}, CLM05-1 / SV105; CMS place-of-service code set"
    passes = (example("the example claim"), example("telehealth in the patient's home (POS 10)", line={"pos": "10"}))
    fails = (example("a line without a place of service", line={"pos": None}),
             example("a one-digit place of service", line={"pos": "1"}),
             example("a place of service that is not digits", line={"pos": "1A"}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if not line.pos:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}) has no place of service",
                                   path=f"Claim.item[{line.index}].locationCodeableConcept")
            elif not (len(line.pos) == 2 and line.pos.isdigit()):
                yield self.finding(f"line {line.index + 1}: place of service {line.pos!r} is not a two-digit code",
                                   path=f"Claim.item[{line.index}].locationCodeableConcept")


class TotalCharge(ScrubRule):
    id = "structure.total_charge"
    title = "The claim total equals the sum of the line charges"
    fix = "Rebuild the claim, or correct the line charges; CLM02 must equal the sum of SV102."
    path = "Claim.total"
    source = f"{TR3}, CLM02 = Σ SV102"
    passes = (example("the example claim"),
              example("two lines and their sum as the total",
                      more_lines=[{"code": "90785", "charge": Decimal("25.00")}]),
              example("a line without a charge (structure.line_charge reports it)", line={"charge": None}))
    fails = (example("no total charge", total=None),
             example("a total one dollar more than the line charges", total=Decimal("186.00")))

    def check(self, facts, profile, context):
        if facts.total is None:
            yield self.finding("the claim has no total charge")
            return
        charges = [line.charge for line in facts.lines]
        if not charges or any(c is None for c in charges):
            return  # structure.line_charge reports the line
        total = sum(charges, Decimal(0))
        if total != facts.total:
            yield self.finding(f"the total charge {facts.total} is not the sum of the line charges ({total})")


class LineCharge(ScrubRule):
    id = "structure.line_charge"
    title = "Every line has a charge greater than zero"
    fix = "Give the code a fee in claims.fee_schedule, or correct the charge (ChargeItem.priceOverride) in the EHR."
    path = "Claim.item.net"
    source = f"{TR3}, SV102"
    passes = (example("the example claim"), example("a charge of one cent", line={"charge": Decimal("0.01")}))
    fails = (example("a line without a charge", line={"charge": None}),
             example("a charge of 0.00", line={"charge": Decimal("0.00")}),
             example("a negative charge on a second line", more_lines=[{"charge": Decimal("-10.00")}]))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.charge is None:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}) has no charge",
                                   path=f"Claim.item[{line.index}].net")
            elif line.charge <= 0:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}) has charge {line.charge}; "
                                   "it must be more than 0", path=f"Claim.item[{line.index}].net")


class LineUnits(ScrubRule):
    id = "structure.line_units"
    title = "Every line has units greater than zero"
    fix = "Correct the quantity of the charge in the EHR (one unit per session; 96127: one per instrument)."
    path = "Claim.item.quantity"
    source = f"{TR3}, SV104"
    passes = (example("the example claim"), example("half a unit", line={"units": Decimal("0.5")}))
    fails = (example("a line without units", line={"units": None}),
             example("0 units", line={"units": Decimal("0")}),
             example("a second line with negative units", more_lines=[{"units": Decimal("-1")}]))

    def check(self, facts, profile, context):
        for line in facts.lines:
            if line.units is None or line.units <= 0:
                yield self.finding(f"line {line.index + 1} ({line.code or 'no code'}) has "
                                   f"{'no units' if line.units is None else f'{line.units} units'}; "
                                   "units must be more than 0", path=f"Claim.item[{line.index}].quantity")


class ModifierCount(ScrubRule):
    id = "structure.modifier_count"
    title = "At most 4 modifiers per line"
    fix = "Keep the 4 modifiers the payer needs (pricing modifiers first)."
    path = "Claim.item.modifier"
    source = f"{TR3}, SV101-3 to SV101-6"
    passes = (example("the example claim"), example("4 modifiers", line={"modifiers": ("95", "GT", "HQ", "59")}))
    fails = (example("5 modifiers", line={"modifiers": ("95", "GT", "HQ", "59", "XE")}),)

    def check(self, facts, profile, context):
        for line in facts.lines:
            if len(line.modifiers) > MAX_MODIFIERS:
                yield self.finding(f"line {line.index + 1} ({line.code}) has {len(line.modifiers)} modifiers "
                                   f"({', '.join(line.modifiers)}); at most {MAX_MODIFIERS} fit",
                                   path=f"Claim.item[{line.index}].modifier")


class PointerCount(ScrubRule):
    id = "structure.pointer_count"
    title = "Every line points at 1 to 4 diagnoses"
    fix = "Link each service to its diagnoses (at most 4, the primary first)."
    path = "Claim.item.diagnosisSequence"
    source = f"{TR3}, SV107 (1 to 4 pointers)"
    passes = (example("the example claim"),
              example("4 pointers", diagnoses=_DIAGNOSES[:4], diagnosis_sequences=(1, 2, 3, 4),
                      line={"diagnosis_pointers": (1, 2, 3, 4)}))
    fails = (example("a line pointing at no diagnosis", line={"diagnosis_pointers": ()}),
             example("5 pointers", diagnoses=_DIAGNOSES[:5], diagnosis_sequences=(1, 2, 3, 4, 5),
                     line={"diagnosis_pointers": (1, 2, 3, 4, 5)}))

    def check(self, facts, profile, context):
        for line in facts.lines:
            count = len(line.diagnosis_pointers)
            if count == 0:
                yield self.finding(f"line {line.index + 1} ({line.code}) points at no diagnosis",
                                   path=f"Claim.item[{line.index}].diagnosisSequence")
            elif count > MAX_POINTERS:
                yield self.finding(f"line {line.index + 1} ({line.code}) points at {count} diagnoses; at most "
                                   f"{MAX_POINTERS}", path=f"Claim.item[{line.index}].diagnosisSequence")


class PointerTarget(ScrubRule):
    id = "structure.pointer_target"
    title = "Diagnosis pointers point at diagnoses on the claim (positions 1-12)"
    fix = "Point the line at diagnoses that are on the claim."
    path = "Claim.item.diagnosisSequence"
    source = f"{TR3}, SV107 must name an HI position"
    passes = (example("the example claim"),
              example("pointers at both of two diagnoses", diagnoses=_DIAGNOSES[:2], diagnosis_sequences=(1, 2),
                      line={"diagnosis_pointers": (1, 2)}))
    fails = (example("a pointer at diagnosis 3 of 1", line={"diagnosis_pointers": (1, 3)}),
             example("a pointer at a diagnosis without a code", diagnoses=("F41.1", ""), diagnosis_sequences=(1, 2),
                     line={"diagnosis_pointers": (1, 2)}),
             example("a pointer at position 13", diagnoses=_DIAGNOSES, diagnosis_sequences=tuple(range(1, 14)),
                     line={"diagnosis_pointers": (13,)}))

    def check(self, facts, profile, context) -> Iterator[Finding]:
        sequences = facts.diagnosis_sequences
        if not all(facts.diagnoses):
            sequences = tuple(s for s, code in zip(sequences, facts.diagnoses, strict=False) if code)
        for line in facts.lines:
            bad = [p for p in line.diagnosis_pointers if p not in sequences or not 1 <= p <= MAX_DIAGNOSES]
            if bad:
                yield self.finding(f"line {line.index + 1} ({line.code}) points at diagnosis "
                                   f"{', '.join(map(str, bad))}, which is not on the claim",
                                   path=f"Claim.item[{line.index}].diagnosisSequence")


RULES: list[type[ScrubRule]] = [
    BillingNpi, BillingTaxId, BillingAddress, BillingName, SubscriberMemberId, PayerId, PatientName,
    PatientBirthDate, PatientSex, RenderingProvider, DiagnosisPresent, DiagnosisCount, LinePresent, LineCode,
    LineServiceDate, LinePlaceOfService, TotalCharge, LineCharge, LineUnits, ModifierCount, PointerCount,
    PointerTarget,
]
