"""From an appointment bundle (docs/claim-profile.md, "Appointment bundles") to the 270 question to ask.

The appointment's patient, its primary Coverage (the lowest ``order`` among the active ones on the day), the
Coverage's payer (its NIIP payer id, as claims use) and subscriber: when the patient is the subscriber the 270
asks about the subscriber with their member id; otherwise it names the policy holder as subscriber (with the
member id) and the patient as dependent (5010 asks about a dependent only by name, birth date and gender).

A bundle that cannot make a question raises :class:`AppointmentProblem` naming the field (no coverage, no member
id, no payer id …); the caller records that as the check's error so the session is still listed as at risk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from claimbridge.claims.scrub.facts import patient_key
from claimbridge.claims.systems import NPI, SUBSCRIBER_RELATIONSHIP, V2_0203
from claimbridge.x12.eligibility.model import EligibilityInquiry, Member, Payer, Provider

__all__ = ["ACTIVE_APPOINTMENT_STATUSES", "Appointment", "AppointmentProblem", "appointment_of", "inquiry_json",
           "inquiry_sha256"]

#: appointments worth asking about; cancelled, noshow, entered-in-error, fulfilled and waitlist ones are not
ACTIVE_APPOINTMENT_STATUSES = frozenset(("proposed", "pending", "booked", "arrived", "checked-in"))
_GENDERS = {"female": "F", "male": "M"}


class AppointmentProblem(ValueError):
    """The appointment bundle cannot make a 270 question: ``field`` says where (no value is ever quoted)."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Appointment:
    """What eligibility needs of one upcoming appointment."""

    key: str
    status: str
    start: datetime
    service_date: date
    patient_key: str
    payer_id: str
    payer_name: str
    member: Member  # the subscriber as the 270 names them
    dependent: Member | None
    practitioner_npi: str | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_APPOINTMENT_STATUSES

    def inquiry(self, *, provider: Provider, trace_number: str, service_types: tuple[str, ...]
                ) -> EligibilityInquiry:
        return EligibilityInquiry(payer=Payer(id=self.payer_id, name=self.payer_name), provider=provider,
                                  subscriber=self.member, dependent=self.dependent, trace_number=trace_number,
                                  service_date=self.service_date, service_types=service_types)


class _Bundle:
    def __init__(self, bundle: dict):
        entries = [e for e in bundle.get("entry") or () if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        if not entries or entries[0]["resource"].get("resourceType") != "Appointment":
            raise AppointmentProblem("the bundle's first entry is not an Appointment", "Bundle.entry[0]")
        self.resources = [e["resource"] for e in entries]
        self.by_reference: dict[str, dict] = {}
        for entry in entries:
            resource = entry["resource"]
            if resource.get("id"):
                self.by_reference[f"{resource['resourceType']}/{resource['id']}"] = resource
            if entry.get("fullUrl"):
                self.by_reference[entry["fullUrl"]] = resource

    def resolve(self, reference: Any, types: tuple[str, ...]) -> dict | None:
        ref = (reference or {}).get("reference") if isinstance(reference, dict) else None
        if not isinstance(ref, str):
            return None
        resource = self.by_reference.get(ref)
        if resource is None:  # an absolute URL ending in Type/id
            parts = ref.rstrip("/").split("/")
            resource = self.by_reference.get("/".join(parts[-2:])) if len(parts) >= 2 else None
        return resource if resource is not None and resource.get("resourceType") in types else None


def appointment_of(key: str, bundle: dict) -> Appointment:
    """Read one appointment bundle; :class:`AppointmentProblem` when it cannot make a 270 question."""
    found = _Bundle(bundle)
    appointment = found.resources[0]
    status = str(appointment.get("status") or "")
    try:
        start = datetime.fromisoformat(str(appointment.get("start")).replace("Z", "+00:00"))
    except ValueError:
        raise AppointmentProblem("the appointment has no readable start", "Appointment.start") from None
    if start.tzinfo is None:
        raise AppointmentProblem("the appointment's start has no time zone", "Appointment.start")
    service_date = start.date()  # the day as the practice wrote it (its own offset)
    patient = practitioner = None
    for participant in appointment.get("participant") or ():
        actor = participant.get("actor") if isinstance(participant, dict) else None
        patient = patient or found.resolve(actor, ("Patient",))
        practitioner = practitioner or found.resolve(actor, ("Practitioner",))
    if patient is None:
        raise AppointmentProblem("the appointment names no patient the bundle holds", "Appointment.participant")
    coverage = _primary_coverage(found, patient, service_date)
    member_id = str(coverage.get("subscriberId") or "").strip()
    if not member_id:
        raise AppointmentProblem("the coverage has no member id", "Coverage.subscriberId")
    payer = found.resolve((coverage.get("payor") or [None])[0], ("Organization",))
    if payer is None:
        raise AppointmentProblem("the coverage names no payer the bundle holds", "Coverage.payor")
    payer_id = _payer_id(payer)
    if payer_id is None:
        raise AppointmentProblem("the payer has no payer id (NIIP identifier)", "Organization.identifier")
    relationship = _relationship(coverage)
    patient_member = _member(patient, "Patient")
    if relationship == "self":
        subscriber, dependent = Member(**{**asdict(patient_member), "member_id": member_id}), None
    else:
        holder = found.resolve(coverage.get("subscriber"), ("Patient", "RelatedPerson"))
        if holder is None:
            raise AppointmentProblem("the patient is a dependent but the coverage names no subscriber the bundle "
                                     "holds", "Coverage.subscriber")
        subscriber = Member(**{**asdict(_member(holder, holder["resourceType"])), "member_id": member_id})
        dependent = patient_member
    key_of_patient = patient_key(member_id, patient_member.birth_date) or f"{key}:patient"
    return Appointment(key=key, status=status, start=start, service_date=service_date,
                       patient_key=key_of_patient, payer_id=payer_id, payer_name=str(payer.get("name") or payer_id),
                       member=subscriber, dependent=dependent,
                       practitioner_npi=_npi(practitioner) if practitioner else None)


def _primary_coverage(found: _Bundle, patient: dict, day: date) -> dict:
    candidates = []
    for position, resource in enumerate(found.resources):
        if resource.get("resourceType") != "Coverage" or resource.get("status", "active") != "active":
            continue
        beneficiary = found.resolve(resource.get("beneficiary"), ("Patient",))
        if beneficiary is not patient or not _in_period(day, resource.get("period")):
            continue
        order = resource.get("order")
        candidates.append((order if isinstance(order, int) else 1_000_000, position, resource))
    if not candidates:
        raise AppointmentProblem("the patient has no active coverage on the appointment's day", "Coverage")
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def _in_period(day: date, period: Any) -> bool:
    if not isinstance(period, dict):
        return True
    start, end = str(period.get("start") or "")[:10], str(period.get("end") or "")[:10]
    text = day.isoformat()
    return (not start or start <= text) and (not end or text <= end)


def _codes(concept: Any, system: str) -> list[str]:
    return [c.get("code") for c in (concept or {}).get("coding") or () if c.get("system") == system and c.get("code")]


def _relationship(coverage: dict) -> str:
    codes = _codes(coverage.get("relationship"), SUBSCRIBER_RELATIONSHIP)
    return codes[0] if codes else "self"


def _payer_id(payer: dict) -> str | None:
    identifiers = [i for i in payer.get("identifier") or () if isinstance(i.get("value"), str) and i["value"].strip()]
    for identifier in identifiers:
        if "NIIP" in _codes(identifier.get("type"), V2_0203):
            return identifier["value"].strip()
    return identifiers[0]["value"].strip() if identifiers else None


def _npi(resource: dict) -> str | None:
    return next((str(i["value"]) for i in resource.get("identifier") or ()
                 if i.get("system") == NPI and i.get("value")), None)


def _member(person: dict, kind: str) -> Member:
    names = [n for n in person.get("name") or () if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
    if not name or not name.get("family"):
        raise AppointmentProblem(f"the {kind.lower()} has no family name", f"{kind}.name")
    given = [g for g in name.get("given") or () if isinstance(g, str)]
    if not given:
        raise AppointmentProblem(f"the {kind.lower()} has no given name", f"{kind}.name")
    try:
        birth = date.fromisoformat(person["birthDate"]) if person.get("birthDate") else None
    except ValueError:
        raise AppointmentProblem(f"the {kind.lower()}'s birth date is not a date", f"{kind}.birthDate") from None
    if birth is None:
        raise AppointmentProblem(f"the {kind.lower()} has no birth date", f"{kind}.birthDate")
    return Member(last_name=name["family"], first_name=given[0], middle_name=given[1] if len(given) > 1 else "",
                  birth_date=birth, gender=_GENDERS.get(person.get("gender"), "U"))


def inquiry_json(inquiry: EligibilityInquiry) -> str:
    """The question as stored (``eligibility_checks.inquiry``): plain JSON, dates in ISO 8601."""
    return json.dumps(asdict(inquiry), sort_keys=True, default=str)


def inquiry_sha256(inquiry: EligibilityInquiry) -> str:
    """What makes two questions the same: everything but the trace number."""
    data = asdict(inquiry)
    data.pop("trace_number")
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def inquiry_from_json(text: str) -> EligibilityInquiry:
    """The stored question back (to send it again)."""
    data = json.loads(text)

    def member(value: dict | None) -> Member | None:
        if value is None:
            return None
        birth = value.get("birth_date")
        return Member(**{**value, "birth_date": date.fromisoformat(birth) if birth else None})

    return EligibilityInquiry(
        payer=Payer(**data["payer"]), provider=Provider(**data["provider"]), subscriber=member(data["subscriber"]),
        dependent=member(data.get("dependent")), trace_number=data["trace_number"],
        service_date=date.fromisoformat(data["service_date"]) if data.get("service_date") else None,
        service_types=tuple(data["service_types"]))
