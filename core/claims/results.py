"""835 results as FHIR R4: a ClaimResponse per posted claim payment, a PaymentReconciliation per payment, and
the payload of the ``remittance_posted`` hook. The mapping is in docs/fhir-results.md.

Both builders are pure functions over the parsed 835 (:mod:`claimbridge.x12.responses.model835`) and run once
per claim while posting, so they build plain dicts and never construct fhir.resources models (the tests
validate their output with those). Money stays :class:`~decimal.Decimal` with the digits the 835 gave; write
the resources with :func:`claimbridge.claims.money.claim_to_json`, which keeps every digit.

The returned dicts share constant parts (category codings, reason codings) with each other: treat them as
read-only, and copy what you change.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from claimbridge.claims.money import USD
from claimbridge.claims.systems import CLAIM_TYPE, CPT, HCPCS, NPI, PCN_SYSTEM, V2_0203
from claimbridge.x12.responses.codes import CAS_GROUPS, CLAIM_STATUS
from claimbridge.x12.responses.model835 import (
    Adjustment,
    ClaimPayment,
    Party,
    ProcedureCode,
    Remittance835,
    ServiceLine,
)

if TYPE_CHECKING:
    from claimbridge.config import Settings

__all__ = [
    "CARC_SYSTEM", "CAS_GROUP_SYSTEM", "OUTCOMES", "PAYER_CLAIM_NUMBER_SYSTEM", "PLB_REASON_SYSTEM",
    "RARC_SYSTEM", "RECONCILIATION_SYSTEM", "RESPONSE_SYSTEM", "PostedClaimResponse", "RemittancePosted",
    "claim_response", "payer_key", "payment_reconciliation", "trace_number_system",
]

#: ClaimResponse.identifier of a posted claim payment (the value comes from the posting engine)
RESPONSE_SYSTEM = "urn:claimbridge:claim-response"
#: PaymentReconciliation.identifier of a posted remittance
RECONCILIATION_SYSTEM = "urn:claimbridge:payment-reconciliation"
#: the payer's claim control number (CLP07); unique per payer, so the identifier names the payer as assigner
PAYER_CLAIM_NUMBER_SYSTEM = "urn:claimbridge:payer-claim-number"
#: prefix of the trace number (TRN02) system; the payer key follows, percent-encoded
TRACE_SYSTEM_PREFIX = "urn:claimbridge:trace-number:"
#: PLB03-1 provider adjustment reason codes (no published URI exists for this X12 internal code list)
PLB_REASON_SYSTEM = "urn:claimbridge:x12:provider-adjustment-reason"
PLB_REFERENCE_SYSTEM = "urn:claimbridge:x12:provider-adjustment-reference"

CARC_SYSTEM = "https://x12.org/codes/claim-adjustment-reason-codes"
RARC_SYSTEM = "https://x12.org/codes/remittance-advice-remark-codes"
CAS_GROUP_SYSTEM = "https://x12.org/codes/claim-adjustment-group-codes"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
#: CARIN Blue Button adjudication codes: the base code system has no coinsurance or patient share
C4BB_ADJUDICATION = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
EX_PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/ex-paymenttype"
PAYMENT_TYPE = "http://terminology.hl7.org/CodeSystem/payment-type"
NDC = "http://hl7.org/fhir/sid/ndc"

EXT_REMARK_CODE = "https://claimbridge.dev/fhir/StructureDefinition/remark-code"
EXT_ADJUSTMENT_QUANTITY = "https://claimbridge.dev/fhir/StructureDefinition/adjustment-quantity"
EXT_PROVIDER_ADJUSTMENT = "https://claimbridge.dev/fhir/StructureDefinition/provider-adjustment-reason"

#: posting outcome → (ClaimResponse.outcome, the start of ClaimResponse.disposition)
OUTCOMES: dict[str, tuple[str, str]] = {
    "paid": ("complete", "Paid"),
    "partially_paid": ("partial", "Partially paid"),
    "denied": ("complete", "Denied"),
    "reversal": ("complete", "Reversal of a previous payment"),
    "forwarded": ("complete", "Processed and forwarded to another payer"),
    "not_ours": ("error", "The payer says the claim is not theirs"),
    "unmatched": ("error", "Not matched to a claim claimbridge sent"),
}

#: BPR04 payment methods, for PaymentReconciliation.disposition
PAYMENT_METHODS = {"ACH": "ACH", "CHK": "check", "BOP": "financial institution option", "FWT": "wire transfer",
                   "NON": "no"}

#: PLB03-1 texts (005010X221A1), for PaymentReconciliation.detail
PLB_REASONS = {
    "50": "late charge", "51": "interest penalty charge", "72": "authorized return", "90": "early payment allowance",
    "AH": "origination fee", "AM": "applied to borrower's account", "AP": "acceleration of benefits",
    "B2": "rebate", "B3": "recovery allowance", "BD": "bad debt adjustment", "BN": "bonus",
    "C5": "temporary allowance", "CR": "capitation interest", "CS": "adjustment", "CT": "capitation payment",
    "CV": "capital passthru", "CW": "certified registered nurse anesthetist passthru",
    "DM": "direct medical education passthru", "E3": "withholding", "FB": "forwarding balance",
    "FC": "fund allocation", "GO": "graduate medical education passthru", "HM": "hemophilia clotting factor supplement",
    "IP": "incentive premium payment", "IR": "internal revenue service withholding", "IS": "interim settlement",
    "J1": "nonreimbursable", "L3": "penalty", "L6": "interest owed", "LE": "levy", "LS": "lump sum",
    "OA": "organ acquisition passthru", "OB": "offset for affiliated providers", "PI": "periodic interim payment",
    "PL": "payment final", "RA": "retro-activity adjustment", "RE": "return on equity",
    "SL": "student loan repayment", "TL": "third party liability", "WO": "overpayment recovery",
    "WU": "unspecified recovery",
}


# ------------------------------------------------------------------------------------------ hook payload


@dataclass(frozen=True)
class PostedClaimResponse:
    """One posted claim payment: which claim it paid (``claim_id`` None when unmatched), its PCN (CLP01), the
    source and encounter key the claim came from (None when unmatched), the posting outcome (a key of
    :data:`OUTCOMES`) and the ClaimResponse (:func:`claim_response`)."""

    claim_id: int | None
    pcn: str
    source: str | None
    encounter_key: str | None
    outcome: str
    resource: dict


@dataclass(frozen=True)
class RemittancePosted:
    """What the ``remittance_posted`` hook receives: one posted 835 transaction.

    ``payer_key`` and ``trace_number`` identify the payment (TRN03 or the payer's id or name, and TRN02);
    ``payment_reconciliation`` is :func:`payment_reconciliation`'s resource, ``claim_responses`` one entry per
    CLP in file order. ``settings`` is the loaded configuration and ``config_dir`` the folder of the
    configuration file (relative paths in connector settings are taken from there). The resources may hold
    PHI: never log them.
    """

    remittance_id: int
    payer_key: str
    trace_number: str
    payment_reconciliation: dict
    claim_responses: tuple[PostedClaimResponse, ...]
    settings: Settings
    config_dir: Path


# ----------------------------------------------------------------------------------- shared small pieces


def _coded(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


_SUBMITTED = _coded(ADJUDICATION, "submitted")
_ELIGIBLE = _coded(ADJUDICATION, "eligible")
_BENEFIT = _coded(ADJUDICATION, "benefit")
_PATIENT_SHARE = _coded(C4BB_ADJUDICATION, "memberliability")
_PROFESSIONAL = _coded(CLAIM_TYPE, "professional")
_PAYMENT_COMPLETE = _coded(EX_PAYMENT_TYPE, "complete")
_DETAIL_PAYMENT = _coded(PAYMENT_TYPE, "payment")
_DETAIL_ADJUSTMENT = _coded(PAYMENT_TYPE, "adjustment")
_NIIP = _coded(V2_0203, "NIIP")
_MEMBER_ID = _coded(V2_0203, "MB")
#: the CAS group/reason pairs that have a FHIR adjudication category of their own
_PATIENT_SHARE_CATEGORIES = {"1": (ADJUDICATION, "deductible"), "2": (C4BB_ADJUDICATION, "coinsurance"),
                             "3": (ADJUDICATION, "copay")}
#: NM1*QC id qualifiers that are member ids (34, a social security number, is never used)
_MEMBER_ID_QUALIFIERS = frozenset({"MI", "II", "MR"})

# CAS categories and CARC codings repeat across claims; built once per distinct code (a bounded set)
_CATEGORIES: dict[tuple[str, str], dict] = {}
_REASONS: dict[str, dict] = {}
_rarc_texts: Any = None


def _money(value: Decimal) -> dict:
    return {"value": value, "currency": USD}


def _cas_category(group: str, reason: str) -> dict:
    key = (group, reason)
    category = _CATEGORIES.get(key)
    if category is None:
        group_coding: dict[str, str] = {"system": CAS_GROUP_SYSTEM, "code": group}
        if group in CAS_GROUPS:
            group_coding["display"] = CAS_GROUPS[group]
        codings = [group_coding]
        if group == "PR" and reason in _PATIENT_SHARE_CATEGORIES:
            system, code = _PATIENT_SHARE_CATEGORIES[reason]
            codings.insert(0, {"system": system, "code": code})
        category = _CATEGORIES[key] = {"coding": codings}
    return category


def _carc(reason: str) -> dict:
    concept = _REASONS.get(reason)
    if concept is None:
        concept = _REASONS[reason] = {"coding": [{"system": CARC_SYSTEM, "code": reason}]}
    return concept


def _rarc_text(code: str) -> str:
    global _rarc_texts
    if _rarc_texts is None:
        from claimbridge.claims.denials import load_code_lists

        _rarc_texts = load_code_lists().rarc
    text = _rarc_texts.get(code)
    return f"{code}: {text}" if text else code


def _cas_adjudication(adjustment: Adjustment) -> dict:
    out = {"category": _cas_category(adjustment.group, adjustment.reason), "reason": _carc(adjustment.reason),
           "amount": {"value": adjustment.amount, "currency": USD}}
    if adjustment.quantity is not None:
        out["extension"] = [{"url": EXT_ADJUSTMENT_QUANTITY, "valueDecimal": adjustment.quantity}]
    return out


def _line_adjudication(line: ServiceLine) -> list[dict]:
    adjudication = [{"category": _SUBMITTED, "amount": {"value": line.charge, "currency": USD}}]
    allowed = line.amounts.get("B6")
    if allowed is not None:
        adjudication.append({"category": _ELIGIBLE, "amount": {"value": allowed, "currency": USD}})
    adjudication.append({"category": _BENEFIT, "amount": {"value": line.paid, "currency": USD}})
    for adjustment in line.adjustments:
        adjudication.append(_cas_adjudication(adjustment))
    return adjudication


def _procedure(code: ProcedureCode) -> dict:
    if code.qualifier == "HC":
        system = CPT if code.code[:1].isdigit() else HCPCS
    elif code.qualifier == "N4":
        system = NDC
    else:
        return {"coding": [{"code": code.code}], "text": f"{code.qualifier} {code.code}"}
    return {"coding": [{"system": system, "code": code.code}]}


def _added_item(line: ServiceLine, notes: list[int] | None) -> dict:
    item: dict[str, Any] = {"productOrService": _procedure(line.adjudicated)}
    if line.adjudicated.modifiers:
        item["modifier"] = [{"coding": [{"system": CPT, "code": m}]} for m in line.adjudicated.modifiers]
    if line.service_date is not None:
        if line.service_end is not None and line.service_end != line.service_date:
            item["servicedPeriod"] = {"start": line.service_date.isoformat(), "end": line.service_end.isoformat()}
        else:
            item["servicedDate"] = line.service_date.isoformat()
    if line.units is not None:
        item["quantity"] = {"value": line.units}
    item["net"] = {"value": line.charge, "currency": USD}
    if notes:
        item["noteNumber"] = notes
    item["adjudication"] = _line_adjudication(line)
    return item


def _contained(claim: dict, local_id: str) -> dict | None:
    for resource in claim.get("contained") or ():
        if resource.get("id") == local_id:
            return resource
    return None


def payer_key(remittance: Remittance835) -> str:
    """TRN03, else the payer's N104, else its name: the key that, with the trace number, names a payment."""
    return remittance.payment.payer_id or remittance.payer.id or remittance.payer.name or "unknown"


def trace_number_system(remittance: Remittance835) -> str:
    """The identifier system of the remittance's trace number (TRN02): trace numbers are unique per payer."""
    return _trace_system(payer_key(remittance))


@functools.lru_cache(maxsize=256)
def _trace_system(key: str) -> str:
    return TRACE_SYSTEM_PREFIX + quote(key, safe="")


def _payer_reference(payer: Party, fallback_id: str | None) -> dict:
    payer_id = payer.references.get("2U") or payer.id or fallback_id
    out: dict[str, Any] = {"type": "Organization"}
    if payer_id:
        out["identifier"] = {"type": _NIIP, "value": payer_id}
    if payer.name:
        out["display"] = payer.name
    elif not payer_id:
        out["display"] = "payer not named in the remittance"
    return out


def _insurer(claim: dict | None, remittance: Remittance835) -> dict:
    payer = _contained(claim, "payer") if claim else None
    if payer is not None and payer.get("identifier"):
        out: dict[str, Any] = {"type": "Organization",
                               "identifier": {"type": _NIIP, "value": payer["identifier"][0]["value"]}}
        if payer.get("name"):
            out["display"] = payer["name"]
        return out
    return _payer_reference(remittance.payer, remittance.payment.payer_id)


def _patient(claim: dict | None, payment: ClaimPayment, pcn: str) -> dict:
    """A logical reference the receiving server accepts: the claim's contained Patient is not in the
    ClaimResponse, so it is named by an identifier (the ehr_fhir write-back swaps in the server's Patient)."""
    if claim is not None:
        patient = _contained(claim, "patient")
        for identifier in (patient or {}).get("identifier") or ():
            if identifier.get("system") and identifier.get("value"):
                return {"type": "Patient", "identifier": {"system": identifier["system"],
                                                          "value": identifier["value"]}}
        coverage = _contained(claim, "coverage")
        if coverage is not None and (coverage.get("subscriber") or {}).get("reference") == "#patient" \
                and coverage.get("subscriberId"):
            return {"type": "Patient", "identifier": {"type": _MEMBER_ID, "value": coverage["subscriberId"]}}
    person = payment.patient
    if person is not None and person.id and person.id_qualifier in _MEMBER_ID_QUALIFIERS:
        return {"type": "Patient", "identifier": {"type": _MEMBER_ID, "value": person.id}}
    return {"type": "Patient", "display": f"the patient of claim {pcn}"}


def _created(remittance: Remittance835) -> str:
    """BPR16, else the production date (DTM*405), else today (UTC)."""
    day = remittance.payment.date or remittance.production_date or datetime.now(UTC).date()
    return day.isoformat()


def _pcn(claim: dict | None, payment: ClaimPayment) -> str:
    if claim is not None:
        for identifier in claim.get("identifier") or ():
            if identifier.get("system") == PCN_SYSTEM and identifier.get("value"):
                return identifier["value"]
    return payment.patient_control_number


# ------------------------------------------------------------------------------------------ ClaimResponse


def claim_response(payment: ClaimPayment, remittance: Remittance835, *, outcome: str, claim: dict | None,
                   line_sequences: Sequence[int | None], identifier: str) -> dict:
    """The ClaimResponse for one posted claim payment (CLP loop) of ``remittance``.

    ``outcome`` is the posting outcome (a key of :data:`OUTCOMES`), ``claim`` the stored FHIR Claim it paid
    (None when unmatched), ``line_sequences[i]`` the ``Claim.item.sequence`` that ``payment.lines[i]`` pays
    (None: an unmatched line, which becomes an ``addItem``), ``identifier`` a stable value unique per posted
    claim payment (system :data:`RESPONSE_SYSTEM`). Raises ``ValueError`` for an unknown outcome or a
    ``line_sequences`` of the wrong length.
    """
    try:
        fhir_outcome, words = OUTCOMES[outcome]
    except KeyError:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}") from None
    lines = payment.lines
    if len(line_sequences) != len(lines):
        raise ValueError(f"line_sequences has {len(line_sequences)} entries for {len(lines)} service lines")
    pcn = _pcn(claim, payment)
    insurer = _insurer(claim, remittance)
    status = CLAIM_STATUS.get(payment.status_code) or f"unknown status code {payment.status_code}"
    created = _created(remittance)

    identifiers = [{"system": RESPONSE_SYSTEM, "value": identifier}]
    if payment.payer_claim_control_number:
        identifiers.append({"system": PAYER_CLAIM_NUMBER_SYSTEM, "value": payment.payer_claim_control_number,
                            "assigner": insurer})
    resource: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "identifier": identifiers,
        "status": "active",
        "type": _PROFESSIONAL,
        "use": "claim",
        "patient": _patient(claim, payment, pcn),
        "created": created,
        "insurer": insurer,
        "request": {"type": "Claim", "identifier": {"system": PCN_SYSTEM, "value": pcn}},
        "outcome": fhir_outcome,
        "disposition": f"{words} (CLP02 {payment.status_code}: {status})",
    }

    notes: dict[str, int] = {}
    for code in payment.remarks:
        notes.setdefault(code, len(notes) + 1)
    items: dict[int, dict] = {}
    added: list[dict] = []
    for line, sequence in zip(lines, line_sequences, strict=True):
        line_notes = [notes.setdefault(code, len(notes) + 1) for code in line.remarks] or None
        if sequence is None:
            added.append(_added_item(line, line_notes))
            continue
        item = items.get(sequence)
        if item is None:  # a claim item the payer split over several SVCs gets one item, all adjudications
            item = items[sequence] = {"itemSequence": sequence, "adjudication": []}
        if line_notes:
            item.setdefault("noteNumber", []).extend(n for n in line_notes if n not in item.get("noteNumber", ()))
        item["adjudication"].extend(_line_adjudication(line))
    if items:
        resource["item"] = list(items.values())
    if added:
        resource["addItem"] = added
    if payment.adjustments:
        resource["adjudication"] = [_cas_adjudication(a) for a in payment.adjustments]

    totals = [{"category": _SUBMITTED, "amount": {"value": payment.charge, "currency": USD}},
              {"category": _BENEFIT, "amount": {"value": payment.paid, "currency": USD}}]
    if payment.patient_responsibility is not None:
        totals.append({"category": _PATIENT_SHARE,
                       "amount": {"value": payment.patient_responsibility, "currency": USD}})
    resource["total"] = totals

    paid = remittance.payment
    payment_info: dict[str, Any] = {"type": _PAYMENT_COMPLETE, "amount": {"value": payment.paid, "currency": USD}}
    if paid.date is not None:
        payment_info["date"] = created
    if paid.trace_number:
        payment_info["identifier"] = {"system": trace_number_system(remittance), "value": paid.trace_number}
    resource["payment"] = payment_info
    if notes:
        resource["processNote"] = [
            {"extension": [{"url": EXT_REMARK_CODE, "valueCodeableConcept": _coded(RARC_SYSTEM, code)}],
             "number": number, "type": "display", "text": _rarc_text(code)}
            for code, number in notes.items()]
    return resource


# -------------------------------------------------------------------------------- PaymentReconciliation


def payment_reconciliation(remittance: Remittance835, *, identifier: str,
                           response_identifiers: Sequence[str]) -> dict:
    """The PaymentReconciliation for one 835 payment (BPR/TRN).

    ``identifier`` is a stable value unique per posted remittance (system :data:`RECONCILIATION_SYSTEM`);
    ``response_identifiers[i]`` is the ClaimResponse identifier given to :func:`claim_response` for
    ``remittance.claims[i]``. One ``detail`` per claim (its paid amount) and one per PLB provider adjustment
    (its amount negated, since a positive PLB lowers the payment), so for a balanced 835 the details sum to
    ``paymentAmount``. Raises ``ValueError`` when ``response_identifiers`` does not match the claims.
    """
    claims = remittance.claims
    if len(response_identifiers) != len(claims):
        raise ValueError(f"response_identifiers has {len(response_identifiers)} entries for {len(claims)} "
                         f"claims")
    paid = remittance.payment
    created = _created(remittance)
    payment_date = paid.date.isoformat() if paid.date else created
    payer = _payer_reference(remittance.payer, paid.payer_id)

    details: list[dict] = []
    for claim, response_id in zip(claims, response_identifiers, strict=True):
        detail: dict[str, Any] = {"type": _DETAIL_PAYMENT}
        if claim.payer_claim_control_number:
            detail["identifier"] = {"system": PAYER_CLAIM_NUMBER_SYSTEM,
                                    "value": claim.payer_claim_control_number}
        detail["request"] = {"type": "Claim",
                             "identifier": {"system": PCN_SYSTEM, "value": claim.patient_control_number}}
        detail["response"] = {"type": "ClaimResponse",
                              "identifier": {"system": RESPONSE_SYSTEM, "value": response_id}}
        detail["date"] = payment_date
        detail["amount"] = {"value": claim.paid, "currency": USD}
        details.append(detail)
    for adjustment in remittance.provider_adjustments:
        reason = {"coding": [{"system": PLB_REASON_SYSTEM, "code": adjustment.reason}],
                  "text": PLB_REASONS.get(adjustment.reason, f"provider adjustment {adjustment.reason}")}
        detail = {"extension": [{"url": EXT_PROVIDER_ADJUSTMENT, "valueCodeableConcept": reason}],
                  "type": _DETAIL_ADJUSTMENT}
        if adjustment.reference:
            detail["identifier"] = {"system": PLB_REFERENCE_SYSTEM, "value": adjustment.reference}
        detail["date"] = payment_date  # PLB02 is the end of the provider's fiscal year, not a payment date
        detail["amount"] = {"value": -adjustment.amount, "currency": USD}
        details.append(detail)

    method = PAYMENT_METHODS.get(paid.method, paid.method or "unknown method")
    resource: dict[str, Any] = {
        "resourceType": "PaymentReconciliation",
        "identifier": [{"system": RECONCILIATION_SYSTEM, "value": identifier}],
        "status": "active",
        "created": created,
        "paymentIssuer": payer,
    }
    payee = remittance.payee
    if payee.npi or payee.name:
        requestor: dict[str, Any] = {"type": "Organization"}
        if payee.npi:
            requestor["identifier"] = {"system": NPI, "value": payee.npi}
        if payee.name:
            requestor["display"] = payee.name
        resource["requestor"] = requestor
    resource["outcome"] = "complete"
    resource["disposition"] = (f"{method} payment {paid.trace_number or '(no trace number)'}: "
                               f"{len(claims)} claim{'s' if len(claims) != 1 else ''}, "
                               f"{len(remittance.provider_adjustments)} provider adjustment"
                               f"{'s' if len(remittance.provider_adjustments) != 1 else ''}")
    resource["paymentDate"] = payment_date
    resource["paymentAmount"] = {"value": paid.signed_amount, "currency": USD}
    if paid.trace_number:
        resource["paymentIdentifier"] = {"system": trace_number_system(remittance), "value": paid.trace_number}
    if details:
        resource["detail"] = details
    return resource
