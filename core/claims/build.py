"""Encounter bundle → self-contained FHIR R4 Claim, exactly as docs/claim-profile.md says.

:func:`build_claim` reads one encounter bundle and returns the Claim as a JSON-able dict (money as
:class:`~decimal.Decimal` to the cent). Every input it cannot use raises
:class:`~claimbridge.errors.ClaimBuildError` with the record (``Encounter/<id>``), the FHIR path of the field and
what a biller should change; messages carry record ids and codes, never names, birth dates or member ids.

The Claim is checked with the fhir.resources R4B models before it is returned. Contained resources repeat from
claim to claim (the same clinician, payer, billing provider, patient), so each distinct one is validated once per
process and remembered; the Claim itself is validated every time.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from claimbridge.claims.identifiers import line_control_number
from claimbridge.claims.money import CENT, USD, claim_from_json, claim_to_json, money, to_decimal
from claimbridge.claims.systems import (
    ACT_CODE,
    CARE_TEAM_ROLE,
    CLAIM_FILING_INDICATOR,
    CLAIM_TYPE,
    CPT,
    ENCOUNTER_KEY_SYSTEM,
    EXT_ATTENDANCE,
    EXT_AUDIO_ONLY,
    EXT_FREQUENCY,
    EXT_LINE_CONTROL,
    EXT_MINUTES,
    EXT_MODIFIER,
    ICD10CM,
    MISSED_APPOINTMENTS,
    NPI,
    NUCC,
    PARTICIPATION_MODE,
    PARTICIPATION_TYPE,
    PCN_SYSTEM,
    POS,
    PRIOR_AUTH_SYSTEM,
    PROCEDURE_SYSTEMS,
    PROCESS_PRIORITY,
    RELATED_CLAIM_RELATIONSHIP,
    SUBSCRIBER_RELATIONSHIP,
    TIN,
    V2_0203,
)
from claimbridge.config import ClaimSettings, PayerSettings, PracticeSettings
from claimbridge.errors import ClaimBuildError, NotBillable

__all__ = ["TIME_BASED_CODES", "build_claim", "claim_from_json", "claim_to_json", "npi_check_digit_ok",
           "validate_claim"]

#: codes whose choice depends on session minutes; their items carry ``EXT_MINUTES``
TIME_BASED_CODES = frozenset({"90832", "90833", "90834", "90836", "90837", "90838", "90839", "90840",
                              "90846", "90847"})
FREQUENCIES = ("1", "7", "8")
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_ITEMS = 50
MAX_MODIFIERS = 4
DEFAULT_POS = "11"
TELEHEALTH_POS = ("02", "10")
RELATIONSHIPS = ("self", "spouse", "child", "other")

_INACTIVE_CHARGE = {"not-billable", "aborted", "entered-in-error"}
_INACTIVE_PROCEDURE = {"not-done", "entered-in-error", "preparation"}
_ICD_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_NPI_SHAPE = re.compile(r"^\d{10}$")
_PCN_SHAPE = re.compile(r"^[A-Z0-9]{1,17}$")
_FHIR_STRING = re.compile(r"[ \r\n\t\S]+")


def build_claim(bundle: dict, *, source: str, pcn: str, version: int, claim_settings: ClaimSettings,
                practice: PracticeSettings, created: date, frequency: str = "1",
                payer_claim_number: str | None = None,
                missed_appointments: Callable[[str | None], Iterable[str]] | None = None) -> dict:
    """Build the Claim for the encounter bundle ``bundle`` (docs/claim-profile.md).

    ``source`` is the configured source name (it goes into the encounter-key identifier), ``pcn`` the patient
    control number of this claim version (made by :func:`claimbridge.claims.identifiers.make_pcn`),
    ``version`` the claim version (documentation only: the PCN already encodes it), ``created`` the build
    date. ``frequency`` is ``1`` (original), ``7`` (replacement) or ``8`` (void); 7 and 8 need the payer's
    claim number. Raises :class:`ClaimBuildError` for any input that cannot make a clean claim.

    A missed appointment (a ``cancelled`` Encounter with ``EXT_ATTENDANCE`` ``late_cancel`` or ``no_show``) is
    billed only when ``missed_appointments(payer_id)`` — the payer profile's ``bill_missed_appointments`` —
    lists its kind; otherwise :class:`~claimbridge.errors.NotBillable` is raised.
    """
    if frequency not in FREQUENCIES:
        raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")
    if version < 1:
        raise ValueError(f"claim version {version} must be 1 or more")
    if not isinstance(pcn, str) or not _PCN_SHAPE.match(pcn):
        raise ValueError(f"PCN {pcn!r} is not 1-17 characters A-Z or 0-9; make it with identifiers.make_pcn")
    if _fhir_string(source) != source:
        raise ValueError(f"source name {source!r} is not usable in an identifier")
    builder = _ClaimBuilder(bundle)
    return builder.build(source=source, pcn=pcn, claim_settings=claim_settings, practice=practice,
                         created=created, frequency=frequency, payer_claim_number=payer_claim_number,
                         missed_appointments=missed_appointments)


# ------------------------------------------------------------------------------------------------ helpers


def _codes(concept: dict | None, system: str | Iterable[str]) -> list[str]:
    systems = (system,) if isinstance(system, str) else tuple(system)
    if not concept:
        return []
    return [c["code"].strip() for c in concept.get("coding") or ()
            if c.get("system") in systems and isinstance(c.get("code"), str) and c["code"].strip()]


def _first_code(concept: dict | None, system: str) -> str | None:
    codes = _codes(concept, system)
    return codes[0] if codes else None


def _clone(node: Any) -> Any:
    """A copy of plain JSON data (faster than copy.deepcopy for the small structures copied here)."""
    if isinstance(node, dict):
        return {k: _clone(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clone(v) for v in node]
    return node


def _pick(items: list[dict] | None, use: str) -> dict | None:
    """The first element whose ``use`` is ``use``, else the first one."""
    if not items:
        return None
    for item in items:
        if isinstance(item, dict) and item.get("use") == use:
            return item
    return items[0] if isinstance(items[0], dict) else None


def _complete_address(address: dict | None) -> bool:
    return bool(address and address.get("line") and address.get("city") and address.get("state")
                and address.get("postalCode"))


def _address_key(address: dict | None) -> tuple:
    if not address:
        return ()
    lines = tuple(" ".join(str(line).upper().split()) for line in address.get("line") or ())
    return (lines[:1], str(address.get("city", "")).upper().strip(), str(address.get("state", "")).upper(),
            str(address.get("postalCode", "")).replace("-", "")[:5])


def _practice_address(practice: PracticeSettings) -> dict:
    a = practice.address
    return {"use": "work", "type": "physical", "line": list(a.line), "city": a.city, "state": a.state,
            "postalCode": a.postal_code, "country": "US"}


def _npi(resource: dict) -> str | None:
    for identifier in resource.get("identifier") or ():
        if identifier.get("system") == NPI and identifier.get("value"):
            return str(identifier["value"]).strip()
    return None


def npi_check_digit_ok(npi: str) -> bool:
    """Whether ``npi`` is 10 digits whose last is the Luhn check digit over ``80840`` + the first nine."""
    if not _NPI_SHAPE.match(npi):
        return False
    total = 0
    for position, char in enumerate(reversed("80840" + npi)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _icd10(code: str) -> str:
    code = code.strip().upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    return code


def _date_part(value: Any) -> str | None:
    if isinstance(value, str) and _DATE.match(value):
        return value[:10]
    return None


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) <= 10:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _in_period(day: str, period: dict | None) -> bool:
    if not period:
        return True
    start, end = period.get("start"), period.get("end")
    if isinstance(start, str) and day[:len(start[:10])] < start[:10]:
        return False
    return not (isinstance(end, str) and day[:len(end[:10])] > end[:10])


def _describe_reference(reference: str) -> str:
    # conditional references may carry identifiers of people (member ids, SSNs): show only the type
    if "?" in reference:
        return f"a conditional {reference.split('?', 1)[0]} reference"
    return reference


# ---------------------------------------------------------------------------------------------- validation

_VALIDATED: OrderedDict[str, None] = OrderedDict()
_VALIDATED_MAX = 20_000
_MODELS: dict[str, type] = {}


def _model(resource_type: str) -> type:
    model = _MODELS.get(resource_type)
    if model is None:
        from fhir.resources.R4B import get_fhir_model_class

        model = _MODELS[resource_type] = get_fhir_model_class(resource_type)
    return model


def _problem_path(resource_type: str, error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    path = resource_type
    for part in first.get("loc", ()):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path, first.get("msg", "invalid")


def _validate(resource: dict, record: str | None) -> None:
    resource_type = resource["resourceType"]
    try:
        _model(resource_type).model_validate(resource)
    except ValidationError as exc:
        path, msg = _problem_path(resource_type, exc)
        raise ClaimBuildError(f"not valid FHIR ({msg}); correct it in the EHR", record=record,
                              field=path) from None


def _tagged(value: Any) -> list:
    if isinstance(value, Decimal):
        return ["\x00decimal", str(value)]
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _cache_key(node: Any) -> str:
    """A JSON text of ``node`` that tells a Decimal from a string (cheaper than claim_to_json)."""
    try:
        return json.dumps(node, default=_tagged, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(node)


def _validate_once(resource: dict, record: str | None) -> None:
    key = _cache_key(resource)
    if _remembered(_VALIDATED, key):
        return
    _validate(resource, record)
    _remember(_VALIDATED, key, _VALIDATED_MAX)


def _remembered(cache: OrderedDict[str, None], key: str) -> bool:
    try:
        cache.move_to_end(key)
    except KeyError:  # not there (or evicted by another thread just now)
        return False
    return True


def _remember(cache: OrderedDict[str, None], key: str, limit: int) -> None:
    cache[key] = None
    while len(cache) > limit:
        try:
            cache.popitem(last=False)
        except KeyError:  # another thread emptied it first
            break


_SHELLS: OrderedDict[str, None] = OrderedDict()
_SHELLS_MAX = 4096
_PLACEHOLDER = "X"
_PLACEHOLDER_DATE = "2000-01-01"


def _validate_built(claim: dict, record: str) -> None:
    """Validate a Claim fresh from the builder, skipping what this process has already seen valid.

    Contained resources are looked up whole. For the rest of the Claim the cache key leaves out the values the
    builder made or checked itself (identifiers, dates, line control numbers, minutes, authorization and payer
    claim numbers): two claims that differ only there are valid or invalid together, so the second is not
    validated again. Anything else that differs (codes, modifiers, amounts, diagnoses …) is validated anew.
    """
    for resource in claim["contained"]:
        _validate_once(resource, record)
    shell = {k: v for k, v in claim.items() if k != "contained"}
    key = _cache_key(_normalized_shell(shell))
    if _remembered(_SHELLS, key):
        return
    _validate(shell, record)
    _remember(_SHELLS, key, _SHELLS_MAX)


def _normalized_shell(shell: dict) -> dict:
    out = dict(shell)
    out["identifier"] = [{**i, "value": _PLACEHOLDER} for i in shell["identifier"]]
    out["created"] = _PLACEHOLDER_DATE
    out["billablePeriod"] = {"start": _PLACEHOLDER_DATE, "end": _PLACEHOLDER_DATE}
    if "related" in shell:
        out["related"] = [{**r, "reference": {"value": _PLACEHOLDER}} for r in shell["related"]]
    insurance = shell["insurance"][0]
    if "preAuthRef" in insurance:
        out["insurance"] = [{**insurance, "preAuthRef": [_PLACEHOLDER]}]
    out["item"] = [{**item, "servicedDate": _PLACEHOLDER_DATE,
                    "extension": [{"url": e["url"], "valueString" if "valueString" in e else "valueDecimal":
                                   _PLACEHOLDER if "valueString" in e else 1} for e in item["extension"]]}
                   for item in shell["item"]]
    return out


def _fhir_string(value: Any) -> str | None:
    """``value`` stripped when it is a usable FHIR string (non-empty, no control characters), else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and _FHIR_STRING.fullmatch(value) else None


def validate_claim(claim: dict, *, record: str | None = None) -> None:
    """Check ``claim`` against the fhir.resources R4B models; raise :class:`ClaimBuildError` naming the field.

    For a Claim amended after :func:`build_claim` (the ``adjust_claim`` hook). Contained resources already
    seen valid in this process are not validated again.
    """
    if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
        raise ClaimBuildError("not a FHIR Claim", record=record, field="Claim.resourceType")
    contained = claim.get("contained") or []
    for resource in contained:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise ClaimBuildError("a contained resource has no resourceType", record=record,
                                  field="Claim.contained")
        _validate_once(resource, record)
    shell = {k: v for k, v in claim.items() if k != "contained"}
    _validate(shell, record)


# ------------------------------------------------------------------------------------------------ builder


class _Line:
    __slots__ = ("code", "concept", "quantity", "total", "factor", "origin")

    def __init__(self, code: str, concept: dict, quantity: Decimal, total: Decimal | None,
                 factor: Decimal | None, origin: str):
        self.code, self.concept, self.quantity = code, concept, quantity
        self.total, self.factor, self.origin = total, factor, origin


class _ClaimBuilder:
    def __init__(self, bundle: dict):
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise ClaimBuildError("the record is not a FHIR Bundle; the source must yield encounter bundles",
                                  field="Bundle")
        entries = bundle.get("entry") or []
        first = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
        if not isinstance(first, dict) or first.get("resourceType") != "Encounter":
            raise ClaimBuildError("the bundle does not start with an Encounter", field="Bundle.entry[0]")
        self.encounter = first
        self.record = f"Encounter/{first.get('id', '?')}"
        self.index: dict[str, dict] = {}
        self.resources: list[dict] = []
        for entry in entries:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or "resourceType" not in resource:
                continue
            self.resources.append(resource)
            if resource.get("id"):
                self.index[f"{resource['resourceType']}/{resource['id']}"] = resource
            if entry.get("fullUrl"):
                self.index.setdefault(entry["fullUrl"], resource)

    # -- small tools

    def error(self, reason: str, field: str) -> ClaimBuildError:
        return ClaimBuildError(reason, record=self.record, field=field)

    def resolve(self, reference: dict | None, field: str, what: str, types: tuple[str, ...]) -> dict:
        ref = reference.get("reference") if isinstance(reference, dict) else None
        if not ref:
            raise self.error(f"{what} is missing; record it in the EHR", field)
        resource = self.index.get(ref)
        if resource is None:
            raise self.error(f"{what} ({_describe_reference(ref)}) is not in the encounter bundle: the source "
                             "could not fetch it; check that it exists in the EHR and that the source may read "
                             "it", field)
        if resource["resourceType"] not in types:
            raise self.error(f"{what} is a {resource['resourceType']}, expected {' or '.join(types)}", field)
        return resource

    def refers_to(self, reference: dict | None, resource: dict) -> bool:
        """Whether ``reference`` points at ``resource`` (by ``Type/id`` or by the entry's fullUrl)."""
        ref = reference.get("reference") if isinstance(reference, dict) else None
        return ref is not None and self.index.get(ref) is resource

    def key(self, resource: dict) -> str:
        return f"{resource['resourceType']}/{resource.get('id', '?')}"

    # -- the claim

    def missed_appointment(self) -> str | None:
        """``late_cancel`` or ``no_show`` for a cancelled Encounter marked with EXT_ATTENDANCE, else None."""
        enc = self.encounter
        if enc.get("status") != "cancelled":
            return None
        for extension in enc.get("extension") or ():
            if (isinstance(extension, dict) and extension.get("url") == EXT_ATTENDANCE
                    and extension.get("valueCode") in MISSED_APPOINTMENTS):
                return extension["valueCode"]
        return None

    def build(self, *, source: str, pcn: str, claim_settings: ClaimSettings, practice: PracticeSettings,
              created: date, frequency: str, payer_claim_number: str | None,
              missed_appointments: Callable[[str | None], Iterable[str]] | None = None) -> dict:
        enc = self.encounter
        missed = self.missed_appointment()
        if missed is None and enc.get("status") not in (None, "finished"):
            raise self.error(f"the encounter is {enc.get('status')!r}, only finished encounters are billed",
                             "Encounter.status")
        period = enc.get("period") or {}
        service_date = _date_part(period.get("start"))
        if service_date is None:
            raise self.error("the encounter has no start date; record the session date in the EHR",
                             "Encounter.period.start")
        try:
            date.fromisoformat(service_date)
        except ValueError:
            raise self.error(f"the encounter start date {service_date} is not a calendar date; correct it in "
                             "the EHR", "Encounter.period.start") from None
        if _fhir_string(self.record) != self.record:
            raise self.error("the encounter id is not usable in an identifier", "Encounter.id")

        patient = self.resolve(enc.get("subject"), "Encounter.subject", "the patient", ("Patient",))
        contained = {"patient": self.person(patient, "patient", "Patient", require_birth_date=True)}

        coverage, relationship, payer, payer_id, subscriber = self.coverage(patient, service_date)
        if missed is not None and missed not in set(missed_appointments(payer_id) if missed_appointments else ()):
            kind = "a late-cancelled" if missed == "late_cancel" else "a no-show"
            raise NotBillable(f"{kind} appointment: its payer ({payer_id}) is not billed for missed appointments "
                              f"(payer profile bill_missed_appointments does not list {missed})",
                              record=self.record, field="Encounter.status")
        payer_settings = claim_settings.payer(payer_id)
        contained["coverage"] = self.contained_coverage(coverage, relationship, subscriber is not None,
                                                        payer_settings)
        if subscriber is not None:
            contained["subscriber"] = self.person(subscriber, "subscriber", subscriber["resourceType"],
                                                  require_birth_date=False)
        contained["payer"] = self.contained_payer(payer, payer_id, payer_settings)

        billing = self.billing(practice)
        contained["billing"] = billing

        rendering, supervisor, taxonomy = self.care_team()
        contained["rendering"] = rendering
        if supervisor is not None:
            contained["supervisor"] = supervisor

        telehealth = self.is_telehealth()
        location = self.location()
        contained["encounter"] = self.contained_encounter()
        if not telehealth and location is not None:
            facility = self.facility(location, billing)
            if facility is not None:
                contained["facility"] = facility

        diagnoses = self.diagnoses()
        pos = self.place_of_service(location, telehealth, payer_settings)
        minutes = self.minutes()
        lines = self.lines()
        fees = claim_settings.fee_schedule
        if not telehealth:
            telehealth_modifier = "none"
        elif self.is_audio_only():
            telehealth_modifier = payer_settings.audio_only_modifier
        else:
            telehealth_modifier = payer_settings.telehealth_modifier
        pointers = list(range(1, min(len(diagnoses), MAX_POINTERS) + 1))

        items = []
        total = Decimal("0.00")
        for sequence, line in enumerate(lines, start=1):
            item, net = self.item(sequence, line, pcn=pcn, fees=fees, pos=pos, service_date=service_date,
                                  pointers=pointers, minutes=minutes, telehealth_modifier=telehealth_modifier)
            items.append(item)
            total += net

        insurance: dict[str, Any] = {"sequence": 1, "focal": True, "coverage": {"reference": "#coverage"}}
        prior_auth = [_fhir_string(i.get("value")) for i in enc.get("identifier") or ()
                      if i.get("system") == PRIOR_AUTH_SYSTEM and _fhir_string(i.get("value"))]
        if prior_auth:
            insurance["preAuthRef"] = prior_auth[:1]

        care_team = [{"sequence": 1, "provider": {"reference": "#rendering"}, "responsible": True,
                      "role": {"coding": [{"system": CARE_TEAM_ROLE, "code": "primary"}]}}]
        if taxonomy:
            care_team[0]["qualification"] = {"coding": [{"system": NUCC, "code": taxonomy}]}
        if supervisor is not None:
            care_team.append({"sequence": 2, "provider": {"reference": "#supervisor"},
                              "role": {"coding": [{"system": CARE_TEAM_ROLE, "code": "supervisor"}]}})

        claim: dict[str, Any] = {
            "resourceType": "Claim",
            "contained": list(contained.values()),
            "extension": [{"url": EXT_FREQUENCY, "valueCode": frequency}],
            "identifier": [{"system": PCN_SYSTEM, "value": pcn},
                           {"system": ENCOUNTER_KEY_SYSTEM, "value": f"{source}/{self.record}"}],
            "status": "active",
            "type": {"coding": [{"system": CLAIM_TYPE, "code": "professional"}]},
            "use": "claim",
            "patient": {"reference": "#patient"},
            "billablePeriod": {"start": service_date, "end": service_date},
            "created": created.isoformat(),
            "insurer": {"reference": "#payer"},
            "provider": {"reference": "#billing"},
            "priority": {"coding": [{"system": PROCESS_PRIORITY, "code": "normal"}]},
        }
        if "facility" in contained:  # a contained resource must be referenced from the Claim
            claim["facility"] = {"reference": "#facility"}
        if frequency in ("7", "8"):
            payer_claim_number = _fhir_string(payer_claim_number)
            if payer_claim_number is None:
                kind = "replacement (7)" if frequency == "7" else "void (8)"
                raise self.error(f"a {kind} claim needs the payer's claim number (277CA REF*1K or 835 CLP07) "
                                 "of the claim it corrects", "Claim.related.reference")
            claim["related"] = [{
                "relationship": {"coding": [{"system": RELATED_CLAIM_RELATIONSHIP, "code": "prior"}]},
                "reference": {"value": payer_claim_number},
            }]
        claim["careTeam"] = care_team
        claim["diagnosis"] = [{"sequence": i, "diagnosisCodeableConcept": {"coding": [
            {"system": ICD10CM, "code": code}]}} for i, code in enumerate(diagnoses, start=1)]
        claim["insurance"] = [insurance]
        claim["item"] = items
        claim["total"] = {"value": total, "currency": USD}

        _validate_built(claim, self.record)
        return claim

    # -- people and organizations

    def person(self, resource: dict, local_id: str, resource_type: str, *, require_birth_date: bool) -> dict:
        what = "the patient" if local_id == "patient" else "the subscriber"
        kind = resource["resourceType"]
        name = _pick(resource.get("name"), "official")
        if not name or not name.get("family"):
            raise self.error(f"{what} ({self.key(resource)}) has no family name; add it in the EHR",
                             f"{kind}.name")
        out: dict[str, Any] = {"resourceType": resource_type, "id": local_id, "name": [_clone(name)]}
        if resource_type == "RelatedPerson":
            out["patient"] = {"reference": "#patient"}
            if resource.get("relationship"):
                out["relationship"] = _clone(resource["relationship"])
        out["gender"] = resource.get("gender") or "unknown"
        birth = resource.get("birthDate")
        if birth:
            out["birthDate"] = birth
        elif require_birth_date:
            raise self.error(f"{what} ({self.key(resource)}) has no birth date; add it in the EHR",
                             f"{kind}.birthDate")
        address = _pick(resource.get("address"), "home")
        if address:
            out["address"] = [_clone(address)]
        return out

    def coverage(self, patient: dict, service_date: str) -> tuple[dict, str, dict, str, dict | None]:
        patient_key = self.key(patient)
        candidates = []
        for position, resource in enumerate(self.resources):
            if (resource["resourceType"] == "Coverage" and resource.get("status") == "active"
                    and self.refers_to(resource.get("beneficiary"), patient)
                    and _in_period(service_date, resource.get("period"))):
                order = resource.get("order")
                candidates.append((order if isinstance(order, int) else 1_000_000, position, resource))
        if not candidates:
            raise self.error(f"no active Coverage for {patient_key} on {service_date}; add the patient's "
                             "insurance in the EHR (or bill the patient)", "Coverage")
        coverage = min(candidates, key=lambda c: (c[0], c[1]))[2]
        where = f"Coverage/{coverage.get('id', '?')}"
        if not isinstance(coverage.get("subscriberId"), str) or not coverage["subscriberId"].strip():
            raise self.error(f"{where} has no member id (subscriberId); add it to the patient's insurance "
                             "in the EHR", "Coverage.subscriberId")
        payors = coverage.get("payor") or [None]
        payer = self.resolve(payors[0], "Coverage.payor", f"the payer of {where}", ("Organization",))
        payer_id = self.payer_id(payer)
        if payer_id is None:
            raise self.error(f"payer {self.key(payer)} has no payer id; add its NIIP identifier (the "
                             "clearinghouse payer id) in the EHR", "Organization.identifier")

        relationship = self.relationship(coverage, patient)
        subscriber_ref = (coverage.get("subscriber") or {}).get("reference")
        subscriber_is_patient = subscriber_ref is None or self.refers_to(coverage["subscriber"], patient)
        subscriber = None
        if relationship != "self":
            if subscriber_is_patient:
                raise self.error(f"{where} says the patient is the subscriber's {relationship} but names no "
                                 "other subscriber; record the policy holder in the EHR", "Coverage.subscriber")
            subscriber = self.resolve(coverage["subscriber"], "Coverage.subscriber",
                                      f"the subscriber of {where}", ("Patient", "RelatedPerson"))
        elif not subscriber_is_patient:
            raise self.error(f"{where} has relationship 'self' but names another subscriber; correct the "
                             "relationship to the subscriber in the EHR", "Coverage.relationship")
        return coverage, relationship, payer, payer_id, subscriber

    def relationship(self, coverage: dict, patient: dict) -> str:
        codes = _codes(coverage.get("relationship"), SUBSCRIBER_RELATIONSHIP)
        if not codes:
            subscriber = coverage.get("subscriber")
            if not (subscriber or {}).get("reference") or self.refers_to(subscriber, patient):
                return "self"
            raise self.error(f"Coverage/{coverage.get('id', '?')} names a subscriber other than the patient "
                             "but no relationship to the subscriber; record it in the EHR",
                             "Coverage.relationship")
        return codes[0] if codes[0] in RELATIONSHIPS else "other"

    @staticmethod
    def payer_id(payer: dict) -> str | None:
        identifiers = [i for i in payer.get("identifier") or () if isinstance(i.get("value"), str)
                       and i["value"].strip()]
        for identifier in identifiers:
            if "NIIP" in _codes(identifier.get("type"), V2_0203):
                return identifier["value"].strip()
        return identifiers[0]["value"].strip() if identifiers else None

    def contained_coverage(self, coverage: dict, relationship: str, has_subscriber: bool,
                           payer: PayerSettings) -> dict:
        filing = _first_code(coverage.get("type"), CLAIM_FILING_INDICATOR) or payer.claim_filing_indicator
        out = {
            "resourceType": "Coverage", "id": "coverage", "status": "active",
            "type": {"coding": [{"system": CLAIM_FILING_INDICATOR, "code": filing}]},
            "subscriber": {"reference": "#subscriber" if has_subscriber else "#patient"},
            "subscriberId": coverage["subscriberId"].strip(),
            "beneficiary": {"reference": "#patient"},
            "relationship": {"coding": [{"system": SUBSCRIBER_RELATIONSHIP, "code": relationship}]},
            "payor": [{"reference": "#payer"}],
        }
        if coverage.get("period"):
            out["period"] = _clone(coverage["period"])
        if isinstance(coverage.get("order"), int):
            out["order"] = coverage["order"]
        return out

    def contained_payer(self, payer: dict, payer_id: str, settings: PayerSettings) -> dict:
        name = payer.get("name") or settings.name
        if not name:
            raise self.error(f"payer {self.key(payer)} has no name; add it in the EHR or name the payer "
                             f"{payer_id} in claims.payers", "Organization.name")
        out = {"resourceType": "Organization", "id": "payer",
               "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "NIIP"}]}, "value": payer_id}],
               "name": name}
        address = _pick(payer.get("address"), "work")
        if address:
            out["address"] = [_clone(address)]
        return out

    def billing(self, practice: PracticeSettings) -> dict:
        org = None
        if self.encounter.get("serviceProvider"):
            org = self.resolve(self.encounter["serviceProvider"], "Encounter.serviceProvider",
                               "the billing provider", ("Organization",))
        npi = _npi(org) if org is not None else None
        if org is None or npi is None:
            return self.practice_billing(practice)
        where = self.key(org)
        if not npi_check_digit_ok(npi):
            raise self.error(f"billing NPI {npi} of {where} is not 10 digits with a valid check digit; correct "
                             "it in the EHR", "Organization.identifier")
        same_as_practice = npi == practice.npi
        tin = next((str(i["value"]).replace("-", "").strip() for i in org.get("identifier") or ()
                    if i.get("system") == TIN and i.get("value")), None)
        if tin is None and same_as_practice:
            tin = practice.tax_id
        if tin is None:
            raise self.error(f"billing provider {where} (NPI {npi}) has no tax id; add its EIN identifier "
                             f"({TIN}) in the EHR", "Organization.identifier")
        address = next((a for a in org.get("address") or () if _complete_address(a)), None)
        if address is None and same_as_practice:
            address = _practice_address(practice)
        if address is None:
            raise self.error(f"billing provider {where} (NPI {npi}) has no complete street address (line, "
                             "city, state, ZIP); add it in the EHR", "Organization.address")
        name = org.get("name") or (practice.name if same_as_practice else None)
        if not name:
            raise self.error(f"billing provider {where} (NPI {npi}) has no name; add it in the EHR",
                             "Organization.name")
        identifiers = [{"system": NPI, "value": npi}, {"system": TIN, "value": tin}]
        nucc = next((i["value"] for i in org.get("identifier") or ()
                     if i.get("system") == NUCC and i.get("value")), None)
        if nucc is None and same_as_practice:
            nucc = practice.taxonomy
        if nucc:
            identifiers.append({"system": NUCC, "value": nucc})
        out = {"resourceType": "Organization", "id": "billing", "identifier": identifiers, "name": name,
               "address": [_clone(address)]}
        telecom = org.get("telecom") or (self.practice_telecom(practice) if same_as_practice else None)
        if telecom:
            out["telecom"] = _clone(telecom)
        return out

    @staticmethod
    def practice_telecom(practice: PracticeSettings) -> list[dict]:
        telecom = []
        if practice.contact.phone:
            telecom.append({"system": "phone", "value": practice.contact.phone, "use": "work"})
        if practice.contact.email:
            telecom.append({"system": "email", "value": practice.contact.email, "use": "work"})
        return telecom

    def practice_billing(self, practice: PracticeSettings) -> dict:
        if not npi_check_digit_ok(practice.npi):
            raise self.error(f"the practice NPI {practice.npi} fails the check digit; correct practice.npi in the "
                             "configuration", "Encounter.serviceProvider")
        identifiers = [{"system": NPI, "value": practice.npi}, {"system": TIN, "value": practice.tax_id}]
        if practice.taxonomy:
            identifiers.append({"system": NUCC, "value": practice.taxonomy})
        out = {"resourceType": "Organization", "id": "billing", "identifier": identifiers,
               "name": practice.name, "address": [_practice_address(practice)]}
        telecom = self.practice_telecom(practice)
        if telecom:
            out["telecom"] = telecom
        return out

    # -- clinicians

    def care_team(self) -> tuple[dict, dict | None, str | None]:
        participants = [p for p in self.encounter.get("participant") or () if isinstance(p, dict)]
        with_individual = [p for p in participants if p.get("individual")]

        def typed(code: str) -> dict | None:
            for p in with_individual:
                for concept in p.get("type") or ():
                    for coding in concept.get("coding") or ():
                        if coding.get("code") == code and coding.get("system") in (None, PARTICIPATION_TYPE):
                            return p
            return None

        supervising = typed("SPRF")
        primary = typed("PPRF") or typed("ATND") or next(
            (p for p in with_individual if p is not supervising), None)
        if primary is None:
            raise self.error("the encounter names no rendering clinician; record the clinician who saw the "
                             "patient in the EHR", "Encounter.participant")
        practitioner, role = self.clinician(primary, "the rendering clinician")
        rendering = self.contained_practitioner(practitioner, "rendering", "rendering")
        taxonomy = self.taxonomy(practitioner, role)
        supervisor = None
        if supervising is not None and supervising is not primary:
            sup_practitioner, _ = self.clinician(supervising, "the supervising clinician")
            supervisor = self.contained_practitioner(sup_practitioner, "supervisor", "supervising")
        return rendering, supervisor, taxonomy

    def clinician(self, participant: dict, what: str) -> tuple[dict, dict | None]:
        resource = self.resolve(participant.get("individual"), "Encounter.participant.individual", what,
                                ("Practitioner", "PractitionerRole", "RelatedPerson"))
        if resource["resourceType"] == "RelatedPerson":
            raise self.error(f"{what} is a RelatedPerson, not a Practitioner", "Encounter.participant.individual")
        if resource["resourceType"] == "PractitionerRole":
            practitioner = self.resolve(resource.get("practitioner"), "PractitionerRole.practitioner", what,
                                        ("Practitioner",))
            return practitioner, resource
        return resource, None

    def contained_practitioner(self, practitioner: dict, local_id: str, what: str) -> dict:
        where = self.key(practitioner)
        npi = _npi(practitioner)
        if npi is None:
            raise self.error(f"{what} clinician {where} has no NPI; add it ({NPI}) to the provider profile in "
                             "the EHR", "Practitioner.identifier")
        if not npi_check_digit_ok(npi):
            raise self.error(f"{what} NPI {npi} of {where} is not 10 digits with a valid check digit; correct it "
                             "in the EHR provider profile", "Practitioner.identifier")
        name = _pick(practitioner.get("name"), "official")
        if not name or not name.get("family"):
            raise self.error(f"{what} clinician {where} has no family name; add it in the EHR",
                             "Practitioner.name")
        return {"resourceType": "Practitioner", "id": local_id, "identifier": [{"system": NPI, "value": npi}],
                "name": [_clone(name)]}

    def taxonomy(self, practitioner: dict, role: dict | None) -> str | None:
        roles = [role] if role is not None else []
        roles += [r for r in self.resources if r["resourceType"] == "PractitionerRole" and r is not role
                  and self.refers_to(r.get("practitioner"), practitioner) and r.get("active", True)]
        for candidate in roles:
            for specialty in candidate.get("specialty") or ():
                code = _first_code(specialty, NUCC)
                if code:
                    return code
        for qualification in practitioner.get("qualification") or ():
            code = _first_code(qualification.get("code"), NUCC)
            if code:
                return code
        return None

    # -- place and time

    def is_telehealth(self) -> bool:
        klass = self.encounter.get("class")
        codings = klass if isinstance(klass, list) else [klass] if isinstance(klass, dict) else []
        for coding in codings:
            if isinstance(coding, dict) and "coding" in coding:  # R5-style CodeableConcept
                if any(c.get("code") == "VR" for c in coding["coding"]):
                    return True
            elif isinstance(coding, dict) and coding.get("code") == "VR" and coding.get("system") in (
                    None, ACT_CODE):
                return True
        return False

    def location(self) -> dict | None:
        for entry in self.encounter.get("location") or ():
            if isinstance(entry, dict) and entry.get("location") and entry.get("status") != "planned":
                return self.resolve(entry["location"], "Encounter.location.location", "the service location",
                                    ("Location",))
        return None

    def place_of_service(self, location: dict | None, telehealth: bool, payer: PayerSettings) -> str:
        coded = None
        if location is not None:
            for concept in location.get("type") or ():
                coded = _first_code(concept, POS)
                if coded:
                    break
        if telehealth:
            return coded if coded in TELEHEALTH_POS else payer.telehealth_pos
        return coded or DEFAULT_POS

    def facility(self, location: dict, billing: dict) -> dict | None:
        address = location.get("address")
        if not _complete_address(address) or _address_key(address) == _address_key(billing["address"][0]):
            return None
        out: dict[str, Any] = {"resourceType": "Location", "id": "facility"}
        npi = _npi(location)
        if npi:
            out["identifier"] = [{"system": NPI, "value": npi}]
        if location.get("name"):
            out["name"] = location["name"]
        out["address"] = _clone(address)
        return out

    def minutes(self) -> Decimal | None:
        length = self.encounter.get("length")
        if isinstance(length, dict) and length.get("value") is not None:
            unit = str(length.get("code") or length.get("unit") or "min").lower()
            try:
                value = to_decimal(length["value"])
            except ValueError:
                raise self.error("the session length is not a number", "Encounter.length") from None
            if unit in ("min", "mins", "minute", "minutes"):
                return value
            if unit in ("h", "hr", "hour", "hours"):
                return value * 60
            raise self.error(f"the session length unit {unit!r} is not minutes or hours", "Encounter.length")
        period = self.encounter.get("period") or {}
        start, end = _parse_instant(period.get("start")), _parse_instant(period.get("end"))
        if start is None or end is None or (start.tzinfo is None) != (end.tzinfo is None):
            return None
        seconds = (end - start).total_seconds()
        if seconds < 0:
            raise self.error("the session ends before it starts", "Encounter.period.end")
        return Decimal(int(seconds + 30) // 60)

    def is_audio_only(self) -> bool:
        """An audio-only telehealth session: the ``EXT_AUDIO_ONLY`` extension, or a ``PHONE`` mode type."""
        enc = self.encounter
        for ext in enc.get("extension") or ():
            if isinstance(ext, dict) and ext.get("url") == EXT_AUDIO_ONLY and ext.get("valueBoolean") is True:
                return True
        return any("PHONE" in _codes(concept, PARTICIPATION_MODE) for concept in enc.get("type") or ()
                   if isinstance(concept, dict))

    def contained_encounter(self) -> dict:
        enc = self.encounter
        missed = self.missed_appointment()
        out: dict[str, Any] = {"resourceType": "Encounter", "id": "encounter",
                               "status": "cancelled" if missed else "finished",
                               "class": _clone(enc["class"]) if isinstance(enc.get("class"), dict)
                               else {"system": ACT_CODE, "code": "AMB"}}
        extensions = []
        if self.is_audio_only():
            extensions.append({"url": EXT_AUDIO_ONLY, "valueBoolean": True})
        if missed:
            extensions.append({"url": EXT_ATTENDANCE, "valueCode": missed})
        if extensions:
            out["extension"] = extensions
        if enc.get("period"):
            out["period"] = _clone(enc["period"])
        if enc.get("length"):
            out["length"] = _clone(enc["length"])
        return out

    # -- what was done and why

    def diagnoses(self) -> list[str]:
        enc = self.encounter
        ranked = []
        for position, entry in enumerate(enc.get("diagnosis") or ()):
            if not isinstance(entry, dict):
                continue
            rank = entry.get("rank")
            ranked.append((rank if isinstance(rank, int) else 1_000_000, position, entry))
        ranked.sort(key=lambda r: (r[0], r[1]))
        codes: list[str] = []
        seen_other: list[str] = []
        for _, _, entry in ranked:
            condition = self.resolve(entry.get("condition"), "Encounter.diagnosis.condition", "a diagnosis",
                                     ("Condition", "Procedure"))
            if condition["resourceType"] != "Condition":
                continue
            icd = _codes(condition.get("code"), ICD10CM)
            if icd:
                codes.append(_icd10(icd[0]))
            else:
                seen_other.extend(c.get("code", "?") for c in (condition.get("code") or {}).get("coding") or ())
        if not codes:
            for concept in enc.get("reasonCode") or ():
                codes.extend(_icd10(c) for c in _codes(concept, ICD10CM))
        unique = list(dict.fromkeys(codes))
        if not unique:
            found = f" (found {', '.join(seen_other[:3])}, not ICD-10-CM)" if seen_other else ""
            raise self.error(f"the encounter has no ICD-10-CM diagnosis{found}; add the diagnosis in ICD-10-CM "
                             "to the encounter in the EHR", "Encounter.diagnosis")
        bad = [code for code in unique if not _ICD_SHAPE.match(code)]
        if bad:
            raise self.error(f"diagnosis {bad[0]!r} is not shaped like an ICD-10-CM code; correct it in the EHR",
                             "Condition.code")
        return unique[:MAX_DIAGNOSES]

    def lines(self) -> list[_Line]:
        charges = [r for r in self.resources if r["resourceType"] == "ChargeItem"
                   and self.refers_to(r.get("context"), self.encounter)
                   and r.get("status") not in _INACTIVE_CHARGE]
        if charges:
            return [self.charge_line(charge) for charge in charges]
        seen: list[str] = []
        procedures = [r for r in self.resources if r["resourceType"] == "Procedure"
                      and self.refers_to(r.get("encounter"), self.encounter)
                      and r.get("status") not in _INACTIVE_PROCEDURE]
        lines = []
        for procedure in procedures:
            line = self.concept_line(procedure.get("code"), "Procedure.code", seen)
            if line:
                lines.append(line)
        if not lines:
            for concept in self.encounter.get("type") or ():
                line = self.concept_line(concept, "Encounter.type", seen)
                if line:
                    lines.append(line)
        if not lines:
            found = f" (found {', '.join(dict.fromkeys(seen))})" if seen else ""
            raise self.error(f"no CPT or HCPCS procedure code for the service{found}; code the session in CPT "
                             "in the EHR or add its code to the source's code_map", "Encounter.type")
        if len(lines) > MAX_ITEMS:
            raise self.error(f"{len(lines)} service lines; an 837P claim holds at most {MAX_ITEMS}",
                             "Claim.item")
        return lines

    def concept_line(self, concept: dict | None, origin: str, seen: list[str]) -> _Line | None:
        if not isinstance(concept, dict):
            return None
        codes = _codes(concept, PROCEDURE_SYSTEMS)
        if not codes:
            seen.extend(f"{c.get('code')}" for c in concept.get("coding") or () if c.get("code"))
            return None
        return _Line(codes[0], concept, Decimal(1), None, None, origin)

    def charge_line(self, charge: dict) -> _Line:
        where = self.key(charge)
        concept = charge.get("code") or {}
        codes = _codes(concept, PROCEDURE_SYSTEMS)
        if not codes:
            found = ", ".join(str(c.get("code")) for c in concept.get("coding") or ()) or "no code"
            raise self.error(f"{where} has no CPT or HCPCS code ({found}); code the charge in CPT in the EHR "
                             "or add its code to the source's code_map", "ChargeItem.code")
        try:
            quantity = to_decimal((charge.get("quantity") or {}).get("value", 1))
            total = charge.get("priceOverride")
            total = money(total["value"]) if isinstance(total, dict) and total.get("value") is not None else None
            factor = charge.get("factorOverride")
            factor = to_decimal(factor) if factor is not None else None
        except ValueError:
            raise self.error(f"{where} has a quantity or price that is not a number", "ChargeItem") from None
        if quantity <= 0:
            raise self.error(f"{where} has quantity {quantity}; units must be positive", "ChargeItem.quantity")
        if total is not None and total <= 0:
            raise self.error(f"{where} has price {total}; a charge must be positive", "ChargeItem.priceOverride")
        return _Line(codes[0], concept, quantity, total, factor, "ChargeItem.code")

    def item(self, sequence: int, line: _Line, *, pcn: str, fees: dict[str, Decimal], pos: str,
             service_date: str, pointers: list[int], minutes: Decimal | None,
             telehealth_modifier: str) -> tuple[dict, Decimal]:
        if line.total is not None:
            net = line.total
            unit_price = (net / line.quantity).quantize(CENT)
        else:
            fee = fees.get(line.code)
            if fee is None:
                raise self.error(f"no price for {line.code}: add it to claims.fee_schedule in the configuration "
                                 "(or send the charge as a ChargeItem with priceOverride)",
                                 "ChargeItem.priceOverride")
            unit_price = money(fee * line.factor) if line.factor is not None else fee
            net = money(unit_price * line.quantity)

        modifiers = [str(ext["valueString"]).strip().upper() for ext in line.concept.get("extension") or ()
                     if ext.get("url") == EXT_MODIFIER and ext.get("valueString")]
        if telehealth_modifier != "none":
            modifiers.append(telehealth_modifier)
        modifiers = list(dict.fromkeys(modifiers))
        if len(modifiers) > MAX_MODIFIERS:
            raise self.error(f"{line.code} has {len(modifiers)} modifiers ({', '.join(modifiers)}); a line holds "
                             f"at most {MAX_MODIFIERS}", f"{line.origin}.extension")

        extensions = [{"url": EXT_LINE_CONTROL, "valueString": line_control_number(pcn, sequence)}]
        if minutes is not None and line.code in TIME_BASED_CODES:
            extensions.append({"url": EXT_MINUTES, "valueDecimal": minutes})
        system = next(c["system"] for c in line.concept["coding"] if c.get("system") in PROCEDURE_SYSTEMS)
        item: dict[str, Any] = {
            "extension": extensions,
            "sequence": sequence,
            "careTeamSequence": [1],
            "diagnosisSequence": pointers,
            "productOrService": {"coding": [{"system": system, "code": line.code}]},
        }
        if modifiers:
            item["modifier"] = [{"coding": [{"system": CPT, "code": m}]} for m in modifiers]
        item["servicedDate"] = service_date
        item["locationCodeableConcept"] = {"coding": [{"system": POS, "code": pos}]}
        item["quantity"] = {"value": line.quantity}
        item["unitPrice"] = {"value": unit_price, "currency": USD}
        item["net"] = {"value": net, "currency": USD}
        item["encounter"] = [{"reference": "#encounter"}]
        return item, net
