"""Sessions of a SimplePractice export joined into encounter bundles (docs/claim-profile.md), the same shape the
FHIR source yields, so everything downstream is shared.

A *session* is the billing rows of one client, date and clinician (one row per billing code). It is joined to:

* the client (Client ID when the row has one; else by name — ``Jane Doe`` and ``Doe, Jane`` match — and, when
  two clients share a name, by the appointment that names the Client ID); the newest client list row wins;
* the client's plans from the newest insurance export that lists the client (that export is the current
  truth: a plan missing from it has ended), covering the date of service; diagnoses and the authorization from
  the primary plan's row;
* the appointment of that client, date and clinician (attendance, minutes, location), when the appointments
  export is there.

Shows become ``finished`` Encounters; a late cancel or no-show with a fee becomes a ``cancelled`` Encounter
marked with the attendance extension (billed only where the payer profile says so); a plain cancellation and a
row without a fee (NO CHARGE) never become anything. Ids are opaque digests, so no name or date of birth ends up
in a record key or a log line.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from claimbridge.claims.systems import (
    ACT_CODE,
    CPT,
    EXT_ATTENDANCE,
    EXT_AUDIO_ONLY,
    EXT_MODIFIER,
    HCPCS,
    ICD10CM,
    NPI,
    NUCC,
    PARTICIPATION_TYPE,
    POS,
    PRIOR_AUTH_SYSTEM,
    SUBSCRIBER_RELATIONSHIP,
    V2_0203,
)

from .export import Appointment, Charge, Client, Export, Plan, RowProblem
from .settings import SimplePracticeSettings
from .values import name_key

_CPT_SHAPE = "0123456789"


def digest(*parts: object) -> str:
    """An opaque id for ``parts`` (16 hex digits of a sha256): ids carry no names or dates."""
    return _digest("|".join(str(p) for p in parts))


@lru_cache(maxsize=65536)
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Session:
    """One session's parts, before it becomes a bundle."""

    key: str
    client: Client
    day: date
    clinician: str
    charges: tuple[Charge, ...]
    plans: tuple[Plan, ...]
    appointment: Appointment | None
    attendance: str
    stamp: datetime


class Joiner:
    """Joins an :class:`Export` under the source's settings."""

    def __init__(self, export: Export, settings: SimplePracticeSettings):
        self.export = export
        self.settings = settings
        self.clinicians = {_normal(name): (name, value) for name, value in settings.clinicians.items()}
        self.telehealth = {_normal(v) for v in settings.telehealth_locations}
        self.audio_only = {_normal(v) for v in settings.audio_only_locations}
        self.offices = {_normal(name): (name, value) for name, value in settings.service_locations.items()}
        # clients: the newest row per identity
        self.by_id: dict[str, Client] = {}
        by_identity: dict[tuple, Client] = {}
        for client in export.clients:
            identity = ("id", client.client_id) if client.client_id else ("name", client.name_key, client.birth_date)
            by_identity[identity] = client
            if client.client_id:
                self.by_id[client.client_id] = client
        self.by_name: dict[str, list[Client]] = defaultdict(list)
        for client in by_identity.values():
            self.by_name[client.name_key].append(client)
        self.plans = self._current_plans(export.plans)
        self.appointments: dict[tuple[str, date, str], list[Appointment]] = defaultdict(list)
        self.appointments_by_name: dict[tuple[str, date, str], list[Appointment]] = defaultdict(list)
        for appointment in export.appointments:
            self.appointments_by_name[(appointment.client_name_key, appointment.day,
                                       _normal(appointment.clinician))].append(appointment)
            if appointment.client_id:
                self.appointments[(appointment.client_id, appointment.day,
                                   _normal(appointment.clinician))].append(appointment)

    # -- clients and plans --------------------------------------------------------------------------------

    def client_ref(self, client: Client) -> str:
        return client.client_id or f"{client.name_key}|{client.birth_date.isoformat()}"

    def _plan_client(self, plan: Plan) -> Client | None:
        if plan.client_id:
            return self.by_id.get(plan.client_id)
        candidates = self.by_name.get(plan.client_name_key or "", [])
        if plan.birth_date is not None:
            candidates = [c for c in candidates if c.birth_date == plan.birth_date]
        return candidates[0] if len(candidates) == 1 else None

    def _current_plans(self, plans: list[Plan]) -> dict[str, list[Plan]]:
        """Client ref → the plan rows of the newest insurance file that lists the client."""
        newest: dict[str, tuple[str, list[Plan]]] = {}
        for plan in plans:  # oldest file first
            client = self._plan_client(plan)
            if client is None:
                continue
            ref = self.client_ref(client)
            held = newest.get(ref)
            if held is None or held[0] != plan.origin.file:
                newest[ref] = (plan.origin.file, [plan])
            else:
                held[1].append(plan)
        return {ref: found for ref, (_, found) in newest.items()}

    def resolve_client(self, charge: Charge) -> tuple[Client | None, str | None]:
        """The client of a billing row, or why there is none."""
        if charge.client_id:
            client = self.by_id.get(charge.client_id)
            return (client, None) if client else (None, "the row's Client ID is in no client list export; "
                                                        "export the client list too")
        candidates = self.by_name.get(charge.client_name_key, [])
        if len(candidates) == 1:
            return candidates[0], None
        if not candidates:
            return None, ("the row's client is in no client list export (matched by name); export the client "
                          "list, or add the Client ID column to the billing report (columns.billing.client_id)")
        # two clients share the name: the appointment of that date and clinician names the Client ID
        ids = {a.client_id for a in self.appointments_by_name.get(
            (charge.client_name_key, charge.day, _normal(charge.clinician)), []) if a.client_id}
        matched = [c for c in candidates if c.client_id in ids]
        if len(matched) == 1:
            return matched[0], None
        return None, (f"{len(candidates)} clients share this row's client name and nothing tells them apart; add "
                      "the Client ID column to the billing report (columns.billing.client_id) or export the "
                      "appointments report")

    # -- sessions -----------------------------------------------------------------------------------------

    def sessions(self) -> Iterator[Session | RowProblem]:
        """Every billable session of the export (newest rows of each), and the rows that cannot be joined."""
        groups: dict[tuple[str, date, str], list[Charge]] = {}
        clients: dict[str, Client] = {}
        for charge in self.export.charges:
            client, problem = self.resolve_client(charge)
            if client is None:
                yield RowProblem(charge.origin.file, charge.origin.row, problem, field="client", cells=charge.cells,
                                 stamp=charge.origin.stamp)
                continue
            ref = self.client_ref(client)
            clients[ref] = client
            key = (ref, charge.day, _normal(charge.clinician))
            rows = groups.get(key)
            if rows is None or rows[0].origin.file != charge.origin.file:
                groups[key] = [charge]  # a newer export of the session replaces the older rows
            else:
                rows.append(charge)
        for (ref, day, clinician_key), charges in groups.items():
            client = clients[ref]
            appointment = self._appointment(client, day, clinician_key, charges)
            attendance = (appointment.attendance if appointment is not None and appointment.attendance != "scheduled"
                          else charges[0].attendance or "show")
            if attendance == "cancelled":
                continue
            current = self.plans.get(ref, [])
            plans = tuple(p for p in current if p.covers(day))
            # every current plan row counts: a newer export that ends a plan changes the session too
            stamps = [c.origin.stamp for c in charges] + [client.origin.stamp] + [p.origin.stamp for p in current]
            if appointment is not None:
                stamps.append(appointment.origin.stamp)
            yield Session(key=f"sp-{digest(ref, day.isoformat(), clinician_key)}", client=client, day=day,
                          clinician=charges[0].clinician, charges=tuple(charges), plans=plans,
                          appointment=appointment, attendance=attendance, stamp=max(stamps))

    def _appointment(self, client: Client, day: date, clinician_key: str,
                     charges: list[Charge]) -> Appointment | None:
        found = (self.appointments.get((client.client_id, day, clinician_key), []) if client.client_id else [])
        if not found:
            found = self.appointments_by_name.get((client.name_key, day, clinician_key), [])
        if not found:
            return None
        # the newest export's rows; of several that day, the one booked with a billed code
        latest = [a for a in found if a.origin.file == found[-1].origin.file]
        codes = {c.code for c in charges}
        return next((a for a in latest if a.code in codes), latest[0])

    # -- bundles ------------------------------------------------------------------------------------------

    def bundle(self, session: Session) -> dict[str, Any]:
        """The encounter bundle of a session."""
        client = session.client
        patient_id = self.patient_id(client)
        encounter_id = session.key
        resources: list[dict[str, Any]] = []
        encounter: dict[str, Any] = {
            "resourceType": "Encounter", "id": encounter_id,
            "status": "finished" if session.attendance == "show" else "cancelled",
            "class": {"system": ACT_CODE, "code": "AMB"},
            "subject": {"reference": f"Patient/{patient_id}"},
            "period": {"start": session.day.isoformat()},
        }
        extensions = []
        if session.attendance in ("late_cancel", "no_show"):
            extensions.append({"url": EXT_ATTENDANCE, "valueCode": session.attendance})
        appointment = session.appointment
        location = _normal(appointment.location) if appointment and appointment.location else None
        if location in self.telehealth or location in self.audio_only:
            encounter["class"] = {"system": ACT_CODE, "code": "VR"}
            if location in self.audio_only:
                extensions.append({"url": EXT_AUDIO_ONLY, "valueBoolean": True})
        elif location in self.offices:
            place = self.office(location)
            resources.append(place)
            encounter["location"] = [{"location": {"reference": f"Location/{place['id']}"}}]
        if extensions:
            encounter["extension"] = extensions
        if appointment is not None and appointment.minutes:
            encounter["length"] = {"value": appointment.minutes, "unit": "min",
                                   "system": "http://unitsofmeasure.org", "code": "min"}
        # clinicians
        encounter["participant"] = []
        for role, practitioner_id, practitioner in self.practitioners(session.clinician):
            encounter["participant"].append({
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": role}]}],
                "individual": {"reference": f"Practitioner/{practitioner_id}"}})
            resources.append(practitioner)
        # the patient and the plans
        resources.append(_patient(patient_id, client))
        primary = min(session.plans, key=lambda p: p.order) if session.plans else None
        for plan in session.plans:
            resources.extend(self.coverage(plan, patient_id, session.charges))
        diagnoses = primary.diagnoses if primary is not None else ()
        if not diagnoses:
            diagnoses = next((p.diagnoses for p in self.plans.get(self.client_ref(client), []) if p.diagnoses), ())
        encounter["diagnosis"] = []
        for rank, code in enumerate(diagnoses, 1):
            condition_id = f"{patient_id}-dx-{digest(code)}"
            resources.append({"resourceType": "Condition", "id": condition_id,
                              "code": {"coding": [{"system": ICD10CM, "code": code}]},
                              "subject": {"reference": f"Patient/{patient_id}"}})
            encounter["diagnosis"].append({"condition": {"reference": f"Condition/{condition_id}"}, "rank": rank})
        if primary is not None and primary.authorization:
            encounter["identifier"] = [{"system": PRIOR_AUTH_SYSTEM, "value": primary.authorization}]
        # the charges: one ChargeItem per billing code
        for number, charge in enumerate(sorted(session.charges, key=lambda c: c.origin.row), 1):
            concept: dict[str, Any] = {"coding": [{"system": _code_system(charge.code), "code": charge.code}]}
            if charge.modifiers:
                concept["extension"] = [{"url": EXT_MODIFIER, "valueString": m} for m in charge.modifiers]
            resources.append({
                "resourceType": "ChargeItem", "id": f"{encounter_id}-{number}", "status": "billable",
                "code": concept, "subject": {"reference": f"Patient/{patient_id}"},
                "context": {"reference": f"Encounter/{encounter_id}"},
                "quantity": {"value": _number(charge.units)},
                "priceOverride": {"value": _number(charge.total), "currency": "USD"},
            })
        entries = [encounter, *resources]
        return {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in entries]}

    def office(self, location: str) -> dict[str, Any]:
        """The Location of an office in ``service_locations`` (``location``: its normalised name)."""
        name, office = self.offices[location]
        place: dict[str, Any] = {"resourceType": "Location", "id": f"sp-location-{digest(name)}",
                                 "status": "active", "name": name,
                                 "type": [{"coding": [{"system": POS, "code": office.pos}]}]}
        if office.address is not None:
            place["address"] = {"line": list(office.address.line), "city": office.address.city,
                                "state": office.address.state, "postalCode": office.address.postal_code}
        return place

    def practitioners(self, clinician: str) -> list[tuple[str, str, dict[str, Any]]]:
        """``(participant type, Practitioner id, Practitioner)`` of a clinician named in an export: the
        rendering clinician (``PPRF``) and, when configured, the supervisor (``SPRF``)."""
        found = self.clinicians.get(_normal(clinician))
        if found is None:
            people = [("PPRF", clinician, None)]
        else:
            name, settings = found
            people = [("PPRF", name, settings)]
            if settings.supervisor:
                people.append(("SPRF", settings.supervisor, self.settings.clinicians[settings.supervisor]))
        out = []
        for role, name, settings in people:
            practitioner_id = f"sp-clinician-{digest(_normal(name))}"
            out.append((role, practitioner_id, _practitioner(practitioner_id, name, settings)))
        return out

    def patient_id(self, client: Client) -> str:
        return f"sp-client-{digest(self.client_ref(client))}"

    def coverage(self, plan: Plan, patient_id: str, charges: tuple[Charge, ...] = ()) -> list[dict[str, Any]]:
        """The payer Organization, the subscriber (a RelatedPerson, when the client is not the subscriber) and
        the Coverage of one plan row; ``charges`` (billing rows) may name the payer id the plan row lacks."""
        payer_id = plan.payer_id
        if payer_id is None:
            # the billing row's "Name (PayerID)" cell names the id the insurance export left out
            for charge in charges:
                for cell in (charge.primary, charge.secondary):
                    if cell and cell[1] and name_key(cell[0], "") == name_key(plan.payer_name, ""):
                        payer_id = cell[1]
        organization_id = f"sp-payer-{digest(payer_id or plan.payer_name)}"
        organization: dict[str, Any] = {"resourceType": "Organization", "id": organization_id,
                                        "name": plan.payer_name}
        if payer_id:
            organization["identifier"] = [{"type": {"coding": [{"system": V2_0203, "code": "NIIP"}]},
                                           "value": payer_id}]
        coverage_id = f"{patient_id}-plan-{digest(plan.order, plan.payer_name, plan.member_id)}"
        coverage: dict[str, Any] = {
            "resourceType": "Coverage", "id": coverage_id, "status": "active", "order": plan.order,
            "beneficiary": {"reference": f"Patient/{patient_id}"},
            "subscriberId": plan.member_id,
            "relationship": {"coding": [{"system": SUBSCRIBER_RELATIONSHIP, "code": plan.relationship}]},
            "payor": [{"reference": f"Organization/{organization_id}"}],
        }
        if plan.start or plan.end:
            coverage["period"] = {k: v.isoformat() for k, v in (("start", plan.start), ("end", plan.end)) if v}
        if plan.group_number:
            coverage["class"] = [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                                       "code": "group"}]}, "value": plan.group_number}]
        out = [organization]
        if plan.relationship != "self" and plan.insured:
            insured_id = f"{coverage_id}-insured"
            person: dict[str, Any] = {"resourceType": "RelatedPerson", "id": insured_id,
                                      "patient": {"reference": f"Patient/{patient_id}"},
                                      "name": [{"family": plan.insured["last"], "given": [plan.insured["first"]]}]}
            if plan.insured.get("birth_date"):
                person["birthDate"] = plan.insured["birth_date"].isoformat()
            if plan.insured.get("sex"):
                person["gender"] = plan.insured["sex"]
            out.append(person)
            coverage["subscriber"] = {"reference": f"RelatedPerson/{insured_id}"}
        out.append(coverage)
        return out


def _patient(patient_id: str, client: Client) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient", "id": patient_id,
                               "name": [{"family": client.last, "given": [client.first]}],
                               "birthDate": client.birth_date.isoformat(), "gender": client.sex or "unknown"}
    if client.client_id:
        patient["identifier"] = [{"system": "https://claimbridge.dev/fhir/sid/simplepractice-client",
                                  "value": client.client_id}]
    if client.address:
        patient["address"] = [client.address]
    return patient


def _practitioner(practitioner_id: str, name: str, clinician) -> dict[str, Any]:
    given, _, family = name.rpartition(" ")
    resource: dict[str, Any] = {"resourceType": "Practitioner", "id": practitioner_id,
                                "name": [{"family": family or name, "given": [given] if given else []}]}
    if clinician is not None:
        resource["identifier"] = [{"system": NPI, "value": clinician.npi}]
        if clinician.taxonomy:
            resource["qualification"] = [{"code": {"coding": [{"system": NUCC, "code": clinician.taxonomy}]}}]
    return resource


def _code_system(code: str) -> str:
    if len(code) == 5 and code[:4].isdigit() and (code[4].isdigit() or code[4] in "FTU"):
        return CPT
    if len(code) == 5 and code[0].isalpha() and code[1:].isdigit():
        return HCPCS
    return "https://claimbridge.dev/fhir/sid/simplepractice-billing-code"


def _number(value) -> float | int:
    """A Decimal as a JSON number (exact for amounts in cents and unit counts)."""
    return int(value) if value == value.to_integral_value() else float(value)


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()
