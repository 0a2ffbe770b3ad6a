"""The loops of one claim in an 837P: billing provider (2000A/2010AA), subscriber and payer
(2000B/2010BA/2010BB), patient (2000C/2010CA), and the claim with its providers and service lines
(2300/2310x/2400).

Segments are built as ``(id, elements)`` tuples before serialisation so that claims sharing a billing
provider, subscriber or patient can be grouped by equal segments. Field access and the errors for
missing data come from :mod:`claimbridge.x12._claim_view`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from claimbridge.claims import systems
from claimbridge.x12._claim_view import (
    Address,
    ClaimView,
    PersonName,
    code_in,
    identifier_typed,
    identifier_value,
    to_decimal,
    x12_date,
)
from claimbridge.x12.writer import clean_value, format_decimal, format_money

__all__ = ["ClaimParts", "Seg", "claim_parts", "upper_text"]

TELEHEALTH_POS = ("02", "10")
_RELATIONSHIP_PAT01 = {"spouse": "01", "child": "19"}  # every other relationship is G8 (other)

# a segment before serialisation: (id, elements); composites are tuples, so segments hash for grouping
Seg = tuple[str, tuple[Any, ...]]


def _seg(seg_id: str, *elements: Any) -> Seg:
    return seg_id, tuple(elements)


def upper_text(value: str | None, max_len: int) -> str:
    """Sanitised, upper-cased and cut to the element's maximum length (long names are truncated, not
    refused)."""
    return clean_value(value, upper=True)[:max_len].rstrip()


def _person_nm1(entity: str, name: PersonName, qualifier: str = "", ident: str = "") -> Seg:
    return _seg("NM1", entity, "1", upper_text(name.last, 60), upper_text(name.first, 35),
                upper_text(name.middle, 25), "", upper_text(name.suffix, 10), qualifier, ident)


def _address_segments(address: Address) -> list[Seg]:
    return [
        _seg("N3", *(upper_text(line, 55) for line in address.lines)),
        _seg("N4", upper_text(address.city, 30), upper_text(address.state, 2), address.postal_code),
    ]


@dataclass
class ClaimParts:
    pcn: str
    billing: tuple[Seg, ...]
    subscriber: tuple[Seg, ...]
    patient: tuple[Seg, ...] | None  # None when the patient is the subscriber
    claim: list[Seg]


def _nucc_identifier(organization: Mapping[str, Any]) -> str | None:
    """A taxonomy the billing Organization carries itself: an identifier in, or typed with, the NUCC
    system."""
    for ident in organization.get("identifier") or []:
        typed = any(c.get("system") == systems.NUCC for c in (ident.get("type") or {}).get("coding") or [])
        if ident.get("value") and (ident.get("system") == systems.NUCC or typed):
            return str(ident["value"])
    return None


def _billing_segments(view: ClaimView, rendering_taxonomy: str | None) -> tuple[Seg, ...]:
    billing = view.resolve(view.claim.get("provider"), "Claim.provider")
    npi = view.npi(billing, "#billing")
    tin = identifier_value(billing, systems.TIN)
    tin = "".join(ch for ch in (tin or "") if ch.isdigit())
    if len(tin) != 9:
        raise view.fail("#billing.identifier[TIN]", "the billing provider's tax id (9 digits) is missing")
    taxonomy = _nucc_identifier(billing) or rendering_taxonomy
    address = view.address(billing, "#billing", zip_plus_four=True)
    segments = []
    if taxonomy:
        segments.append(_seg("PRV", "BI", "PXC", taxonomy))
    segments.append(_seg("NM1", "85", "2", upper_text(view.org_name(billing, "#billing"), 60), "", "", "", "",
                         "XX", npi))
    segments += _address_segments(address)
    segments.append(_seg("REF", "EI", tin))
    return tuple(segments)


def _payer_segment(view: ClaimView, coverage: Mapping[str, Any]) -> Seg:
    """2010BB NM1*PR: the payer's name and its NIIP id (else its first identifier)."""
    payer = view.resolve((coverage.get("payor") or [None])[0], "#coverage.payor[0]")
    payer_id = identifier_typed(payer, systems.V2_0203, "NIIP") or next(
        (i.get("value") for i in payer.get("identifier") or [] if i.get("value")), None)
    view.require(payer_id, "#payer.identifier[NIIP]", "the payer id")
    return _seg("NM1", "PR", "2", upper_text(view.org_name(payer, "#payer"), 60), "", "", "", "", "PI",
                clean_value(payer_id, upper=True))


def _sbr(view: ClaimView, coverage: Mapping[str, Any], is_self: bool) -> Seg:
    filing = view.require(code_in(coverage.get("type"), systems.CLAIM_FILING_INDICATOR), "#coverage.type",
                          "the claim filing indicator (SBR09)")
    group_number = group_name = ""
    for cls in coverage.get("class") or []:
        if code_in(cls.get("type")) == "group":
            group_number, group_name = cls.get("value") or "", cls.get("name") or ""
    # SBR04 (group name) only when there is no group number
    return _seg("SBR", "P", "18" if is_self else "", upper_text(group_number, 50),
                "" if group_number else upper_text(group_name, 60), "", "", "", "", filing)


def _coverage_parts(view: ClaimView) -> tuple[tuple[Seg, ...], tuple[Seg, ...] | None]:
    """2000B/2010BA/2010BB, and 2000C/2010CA when the patient is not the subscriber (else None)."""
    insurance = (view.claim.get("insurance") or [None])[0]
    if not insurance:
        raise view.fail("Claim.insurance", "the claim has no insurance; the 837P needs a payer")
    coverage = view.resolve(insurance.get("coverage"), "Claim.insurance[0].coverage")
    patient = view.resolve(view.claim.get("patient"), "Claim.patient")
    relationship = code_in(coverage.get("relationship"), systems.SUBSCRIBER_RELATIONSHIP) or code_in(
        coverage.get("relationship")) or "self"
    is_self = relationship == "self"
    subscriber = patient if is_self else view.resolve(coverage.get("subscriber"), "#coverage.subscriber")
    subscriber_field = "#patient" if is_self else "#subscriber"
    member_id = coverage.get("subscriberId") or identifier_typed(coverage, systems.V2_0203, "MB")
    view.require(member_id, "#coverage.subscriberId", "the member id")

    segments = [_sbr(view, coverage, is_self),
                _person_nm1("IL", view.person_name(subscriber, subscriber_field), "MI",
                            clean_value(member_id, upper=True))]
    # the subscriber's address and demographics are required when they are the patient, optional otherwise
    address = view.address(subscriber, subscriber_field, required=is_self)
    if address:
        segments += _address_segments(address)
    birth = view.birth_date(subscriber, subscriber_field, required=is_self)
    if birth:
        segments.append(_seg("DMG", "D8", birth, view.gender_code(subscriber)))
    segments.append(_payer_segment(view, coverage))
    if is_self:
        return tuple(segments), None
    patient_segments = [_seg("PAT", _RELATIONSHIP_PAT01.get(relationship, "G8")),
                        _person_nm1("QC", view.person_name(patient, "#patient"))]
    patient_segments += _address_segments(view.address(patient, "#patient"))
    patient_segments.append(_seg("DMG", "D8", view.birth_date(patient, "#patient"),
                                 view.gender_code(patient)))
    return tuple(segments), tuple(patient_segments)


def _diagnoses(view: ClaimView) -> tuple[Seg, dict[int, int]]:
    """The HI segment and a map from Claim diagnosis sequence to HI position (the SV107 pointer)."""
    entries = sorted(view.claim.get("diagnosis") or [], key=lambda d: d.get("sequence") or 0)
    view.require(entries, "Claim.diagnosis", "a diagnosis")
    if len(entries) > 12:
        raise view.fail("Claim.diagnosis", f"{len(entries)} diagnoses; an 837P carries at most 12")
    codes, pointers = [], {}
    for position, entry in enumerate(entries, start=1):
        concept = entry.get("diagnosisCodeableConcept")
        code = code_in(concept, systems.ICD10CM)
        view.require(code, f"Claim.diagnosis[{position - 1}].diagnosisCodeableConcept", "an ICD-10-CM code")
        codes.append(("ABK" if position == 1 else "ABF", clean_value(code.replace(".", ""), upper=True)))
        pointers[int(entry.get("sequence") or position)] = position
    return _seg("HI", *codes), pointers


def _item_pos(view: ClaimView, item: Mapping[str, Any], position: int) -> str:
    return view.require(code_in(item.get("locationCodeableConcept"), systems.POS),
                        f"Claim.item[{position}].locationCodeableConcept", "the place of service")


def _service_line(view: ClaimView, item: Mapping[str, Any], number: int, claim_pos: str,
                  pointers: dict[int, int]) -> tuple[list[Seg], Decimal]:
    """2400 for one item: LX, SV1, DTP*472 and REF*6R; returns the segments and the line charge."""
    where = f"Claim.item[{number - 1}]"
    code = view.require(code_in(item.get("productOrService"), *systems.PROCEDURE_SYSTEMS),
                        f"{where}.productOrService", "a CPT or HCPCS code")
    modifiers = [m for m in (code_in(concept) for concept in item.get("modifier") or []) if m]
    if len(modifiers) > 4:
        raise view.fail(f"{where}.modifier", "more than 4 modifiers")
    charge = view.money(item.get("net"), f"{where}.net")
    quantity = view.require((item.get("quantity") or {}).get("value"), f"{where}.quantity", "the units")
    try:
        units = to_decimal(quantity)
    except InvalidOperation:
        raise view.fail(f"{where}.quantity", "the units are not a number") from None
    if units <= 0:
        raise view.fail(f"{where}.quantity", "the units must be more than 0")
    sequences = view.require(item.get("diagnosisSequence"), f"{where}.diagnosisSequence",
                             "a diagnosis pointer")
    if len(sequences) > 4:
        raise view.fail(f"{where}.diagnosisSequence", "more than 4 diagnosis pointers")
    unknown = [s for s in sequences if s not in pointers]
    if unknown:
        raise view.fail(f"{where}.diagnosisSequence",
                        f"points at diagnosis sequence {unknown[0]}, which the claim does not have")
    served = item.get("servicedDate") or (item.get("servicedPeriod") or {}).get("start")
    view.require(served, f"{where}.servicedDate", "the date of service")
    pos = _item_pos(view, item, number - 1)
    segments = [
        _seg("LX", str(number)),
        _seg("SV1", ("HC", clean_value(code, upper=True), *(clean_value(m, upper=True) for m in modifiers)),
             format_money(charge), "UN", format_decimal(units), "" if pos == claim_pos else pos, "",
             tuple(str(pointers[s]) for s in sequences)),
        _seg("DTP", "472", "D8", x12_date(str(served))),
    ]
    line_control = next((e.get("valueString") for e in item.get("extension") or []
                         if e.get("url") == systems.EXT_LINE_CONTROL), None)
    if line_control:
        segments.append(_seg("REF", "6R", clean_value(line_control, upper=True)[:30]))
    return segments, charge


def _claim_header(view: ClaimView, claim_pos: str, total: Decimal) -> list[Seg]:
    """CLM and the claim-level references (REF*G1 prior authorization, REF*F8 for a replacement or void)."""
    frequency = view.frequency()
    segments = [_seg("CLM", view.pcn, format_money(total), "", "", (claim_pos, "B", frequency),
                     "Y", "A", "Y", "Y")]
    insurance = (view.claim.get("insurance") or [{}])[0]
    prior_auth = (insurance.get("preAuthRef") or [None])[0]
    if prior_auth:
        segments.append(_seg("REF", "G1", clean_value(prior_auth, upper=True)[:50]))
    if frequency in ("7", "8"):
        original = next((r.get("reference", {}).get("value") for r in view.claim.get("related") or []
                         if r.get("reference", {}).get("value")), None)
        action = "replaced" if frequency == "7" else "voided"
        view.require(original, "Claim.related[0].reference.value",
                     f"the payer claim number of the claim being {action}")
        segments.append(_seg("REF", "F8", clean_value(original, upper=True)[:50]))
    return segments


def _claim_providers(view: ClaimView, claim_pos: str,
                     rendering: tuple[Mapping[str, Any], Mapping[str, Any]] | None,
                     rendering_taxonomy: str | None) -> list[Seg]:
    """2310B rendering, 2310C service facility (in person only), 2310D supervising provider."""
    if rendering is None:
        raise view.fail("Claim.careTeam", "no care team member with role 'primary' (the rendering provider)")
    segments = [_person_nm1("82", view.person_name(rendering[1], "#rendering"), "XX",
                            view.npi(rendering[1], "#rendering"))]
    if rendering_taxonomy:
        segments.append(_seg("PRV", "PE", "PXC", rendering_taxonomy))
    facility = view.contained("facility")
    if facility is not None and claim_pos not in TELEHEALTH_POS:
        facility_npi = view.npi(facility, "#facility", required=False)
        segments.append(_seg("NM1", "77", "2", upper_text(view.org_name(facility, "#facility"), 60), "", "",
                             "", "", "XX" if facility_npi else "", facility_npi or ""))
        segments += _address_segments(view.address(facility, "#facility", zip_plus_four=True))
    supervisor = view.care_team_member("supervisor")
    if supervisor is not None:
        segments.append(_person_nm1("DQ", view.person_name(supervisor[1], "#supervisor"), "XX",
                                    view.npi(supervisor[1], "#supervisor")))
    return segments


def _claim_loop(view: ClaimView, rendering: tuple[Mapping[str, Any], Mapping[str, Any]] | None,
                rendering_taxonomy: str | None) -> list[Seg]:
    """2300 with its 2310 providers and 2400 lines. CLM02 must equal the sum of the SV102 charges."""
    items = sorted(view.claim.get("item") or [], key=lambda i: i.get("sequence") or 0)
    view.require(items, "Claim.item", "a service line")
    if len(items) > 50:
        raise view.fail("Claim.item", f"{len(items)} service lines; an 837P claim carries at most 50")
    claim_pos = _item_pos(view, items[0], 0)
    hi, pointers = _diagnoses(view)
    lines: list[Seg] = []
    line_total = Decimal(0)
    for number, item in enumerate(items, start=1):
        segments, charge = _service_line(view, item, number, claim_pos, pointers)
        lines += segments
        line_total += charge
    total = view.money(view.claim.get("total"), "Claim.total")
    if total != line_total:
        raise view.fail("Claim.total", f"total {format_money(total)} differs from the sum of the lines "
                                       f"{format_money(line_total)}")
    return [*_claim_header(view, claim_pos, total), hi,
            *_claim_providers(view, claim_pos, rendering, rendering_taxonomy), *lines]


def claim_parts(claim: Mapping[str, Any], position: int) -> ClaimParts:
    """Every loop of one Claim (``position`` names it in errors when it has no PCN)."""
    view = ClaimView(claim, position)
    rendering = view.care_team_member("primary")
    rendering_taxonomy = code_in(rendering[0].get("qualification"), systems.NUCC) if rendering else None
    subscriber, patient = _coverage_parts(view)
    return ClaimParts(
        pcn=view.pcn,
        billing=_billing_segments(view, rendering_taxonomy),
        subscriber=subscriber,
        patient=patient,
        claim=_claim_loop(view, rendering, rendering_taxonomy),
    )
