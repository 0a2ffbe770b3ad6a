"""Upcoming appointments of a SimplePractice export as *appointment bundles* (docs/claim-profile.md,
"Appointment bundles"), the same shape the FHIR sources yield, for insurance eligibility checks.

An appointment row of the appointments export whose start falls in the window (today through
``appointments.days_ahead`` days later, in ``appointments.timezone``) becomes an Appointment joined, with the
encounter bundles' machinery (:class:`~.bundles.Joiner`), to the client (Patient), the client's plan rows that
cover its date (Coverages, primary first, each with its payer and, when the client is not the insured, a
RelatedPerson subscriber), the clinician (Practitioner with the NPI of ``clinicians``) and the office (Location).

The id is ``sp-<client id>-<yyyymmddHHMM>-<clinician slug>`` (a digest stands in for a client without a Client
ID), so the same appointment in the next export keeps its key; of several rows with one key, the newest export's
wins. Cancelled and missed appointments are still yielded (status ``cancelled`` / ``noshow``), so a cancellation
replaces the booked record.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from claimbridge.claims.systems import PARTICIPATION_TYPE
from claimbridge.plugins.ehr_fhir.appointments import AppointmentWindow

from .bundles import Joiner, _code_system, _normal, _patient, digest
from .export import Appointment, Client, RowProblem

#: attendance (export.py) → FHIR Appointment.status
STATUSES = {"scheduled": "booked", "show": "fulfilled", "late_cancel": "cancelled", "cancelled": "cancelled",
            "no_show": "noshow"}
_NOT_ID = re.compile(r"[^A-Za-z0-9.\-]+")
#: FHIR ids are at most 64 characters
_ID_LENGTH = 64


def appointment_id(client_part: str, start: datetime, clinician: str) -> str:
    """``sp-<client id>-<yyyymmddHHMM>-<clinician slug>``, at most 64 characters."""
    slug = _NOT_ID.sub("-", _normal(clinician)).strip("-.") or "clinician"
    head = f"sp-{client_part}-{start:%Y%m%d%H%M}-"
    return head + slug[:_ID_LENGTH - len(head)].rstrip("-.")


class UpcomingAppointments:
    """The appointment bundles of one export's window."""

    def __init__(self, joiner: Joiner, window: AppointmentWindow):
        self.joiner = joiner
        self.window = window
        self.zone = window.start.tzinfo or ZoneInfo("UTC")

    def read(self) -> Iterator[tuple[str, dict[str, Any]] | RowProblem]:
        """``(key, bundle)`` per appointment in the window (the newest row of each key), and the rows that
        cannot make one as :class:`RowProblem`: every appointments-export row that could not be read (an
        unreadable date or status: its day is unknown, so it may be in the window), and the window's rows
        naming no known client or no start time."""
        for problem in self.joiner.export.problems:
            if problem.kind == "appointments":
                yield problem
        newest: dict[str, tuple[Appointment, Client, datetime]] = {}
        for appointment in self.joiner.export.appointments:  # oldest file first
            if not self.window.first_day <= appointment.day <= self.window.last_day:
                continue
            client, problem = self.joiner.resolve_client(appointment)
            if client is None:
                yield RowProblem(appointment.origin.file, appointment.origin.row, problem, field="client",
                                 stamp=appointment.origin.stamp)
                continue
            if appointment.start is None:
                yield RowProblem(appointment.origin.file, appointment.origin.row,
                                 "the appointment has no start time (an eligibility check needs the day and "
                                 "time); export the appointments report with its Start Time column",
                                 field="start_time", stamp=appointment.origin.stamp)
                continue
            start = datetime.combine(appointment.day, appointment.start, self.zone)
            if not self.window.holds(start):
                continue
            client_part = client.client_id and _NOT_ID.sub("-", client.client_id).strip("-.")
            if not client_part or len(client_part) > 24:
                client_part = digest(self.joiner.client_ref(client))
            newest[f"Appointment/{appointment_id(client_part, start, appointment.clinician)}"] = (
                appointment, client, start)
        for key, (appointment, client, start) in newest.items():
            yield key, self.bundle(key.removeprefix("Appointment/"), appointment, client, start)

    def bundle(self, appointment_id: str, appointment: Appointment, client: Client,
               start: datetime) -> dict[str, Any]:
        joiner = self.joiner
        patient_id = joiner.patient_id(client)
        resource: dict[str, Any] = {"resourceType": "Appointment", "id": appointment_id,
                                    "status": STATUSES[appointment.attendance], "start": start.isoformat()}
        if appointment.minutes:
            resource["end"] = (start + timedelta(minutes=appointment.minutes)).isoformat()
            resource["minutesDuration"] = appointment.minutes
        if appointment.code:
            resource["serviceType"] = [{"coding": [{"system": _code_system(appointment.code),
                                                    "code": appointment.code}]}]
        participants: list[dict[str, Any]] = [{"actor": {"reference": f"Patient/{patient_id}"},
                                               "status": "accepted"}]
        others: list[dict[str, Any]] = []
        for role, practitioner_id, practitioner in joiner.practitioners(appointment.clinician):
            participants.append({"type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": role}]}],
                                 "actor": {"reference": f"Practitioner/{practitioner_id}"}, "status": "accepted"})
            others.append(practitioner)
        location = _normal(appointment.location) if appointment.location else None
        if location in joiner.offices:
            place = joiner.office(location)
            participants.append({"actor": {"reference": f"Location/{place['id']}"}, "status": "accepted"})
            others.append(place)
        elif location in joiner.telehealth or location in joiner.audio_only:
            resource["comment"] = "telehealth" if location in joiner.telehealth else "telehealth, audio only"
        resource["participant"] = participants
        coverages: list[dict[str, Any]] = []
        plans = [p for p in joiner.plans.get(joiner.client_ref(client), []) if p.covers(appointment.day)]
        for plan in sorted(plans, key=lambda p: p.order):
            parts = joiner.coverage(plan, patient_id)
            coverages.extend(r for r in parts if r["resourceType"] == "Coverage")  # the Coverage, then the rest
            coverages.extend(r for r in parts if r["resourceType"] != "Coverage")
        entries = [resource, _patient(patient_id, client), *coverages, *others]
        unique = {f"{r['resourceType']}/{r['id']}": r for r in reversed(entries)}
        ordered = [r for r in entries if unique.get(f"{r['resourceType']}/{r['id']}") is r]
        return {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in ordered]}
