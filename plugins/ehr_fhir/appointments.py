"""*Appointment bundles* (docs/claim-profile.md, "Appointment bundles"): the upcoming sessions an eligibility
check runs for, each with the patient, the coverages active on its date, their payers and subscribers, and the
clinician.

Shared by the REST and Bulk Data sources (and by the SimplePractice source for the settings and the window):
the bundle is put together by the same :class:`~.bundler.BundleAssembly` reference following as the encounter
bundle, so references are resolved and rewritten the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from claimbridge import ConnectorSettings, RecordError

from .bundler import BundleAssembly, ResourceLookup, _target_type
from .references import FHIR_ID

STREAM = "appointments"
#: statuses the consumer skips; the stream still yields them, so a cancellation replaces the earlier record
CLOSED_STATUSES = frozenset({"cancelled", "noshow", "entered-in-error"})


class AppointmentSettings(ConnectorSettings):
    """The ``appointments`` stream: upcoming appointments as appointment bundles, for eligibility checks."""

    enabled: bool = Field(True, description="offer the `appointments` stream (upcoming appointments, each with "
                                            "the patient's coverages, for insurance eligibility checks)")
    days_ahead: int = Field(3, ge=0, le=60, description="read appointments from today through this many days "
                                                        "later (today is the run's date in `timezone`)")
    timezone: str = Field("UTC", description="IANA time zone of the practice (e.g. America/Chicago): where a "
                                             "day of the window starts and ends")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago, UTC)") from None
        return value


@dataclass(frozen=True)
class AppointmentWindow:
    """Appointments starting at or after ``start`` and before ``end`` (aware datetimes in the practice's zone):
    the days ``first_day`` … ``last_day``."""

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def appointment_window(run_start: datetime, settings: AppointmentSettings) -> AppointmentWindow:
    """The window of a run that started at ``run_start``: today (in the practice's zone) through
    ``days_ahead`` days later, whole days."""
    zone = ZoneInfo(settings.timezone)
    if run_start.tzinfo is None:
        raise ValueError("run_start must be timezone-aware")
    today = run_start.astimezone(zone).date()
    start = datetime.combine(today, time(0), zone)
    end = datetime.combine(today + timedelta(days=settings.days_ahead + 1), time(0), zone)
    return AppointmentWindow(start, end)


def appointment_key(appointment: Any) -> str:
    """``Appointment/<id>``, or a stable stand-in derived from the content when the id is unusable."""
    if isinstance(appointment, dict) and isinstance(appointment.get("id"), str) \
            and FHIR_ID.match(appointment["id"]):
        return f"Appointment/{appointment['id']}"
    digest = hashlib.sha256(json.dumps(appointment, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"Appointment/invalid-{digest}"


def appointment_start(appointment: Any) -> datetime | None:
    """``Appointment.start`` as an aware datetime, or None when it is missing, unreadable or has no zone."""
    value = appointment.get("start") if isinstance(appointment, dict) else None
    if not isinstance(value, str) or len(value) < 16:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def check_appointment(appointment: Any) -> None:
    """Raise RecordError naming the first field that makes ``appointment`` unusable."""
    key = appointment_key(appointment)
    if not isinstance(appointment, dict) or appointment.get("resourceType") != "Appointment":
        raise RecordError("not an Appointment resource", record=key, field="Appointment.resourceType")
    if key.startswith("Appointment/invalid-"):
        raise RecordError("missing or malformed id", record=key, field="Appointment.id")
    if not isinstance(appointment.get("status"), str):
        raise RecordError("missing or malformed status", record=key, field="Appointment.status")
    if appointment_start(appointment) is None:
        raise RecordError("missing, or not a dateTime with a time zone", record=key, field="Appointment.start")
    if "end" in appointment and appointment_start({"start": appointment["end"]}) is None:
        raise RecordError("not a dateTime with a time zone", record=key, field="Appointment.end")
    participants = appointment.get("participant")
    if not (isinstance(participants, list) and all(isinstance(p, dict) for p in participants)):
        raise RecordError("must be a list of objects", record=key, field="Appointment.participant")
    if not any(_actor_type(p) == "Patient" for p in participants):
        raise RecordError("no participant is a Patient: the appointment names no patient", record=key,
                          field="Appointment.participant.actor")


def _actor_type(participant: dict[str, Any]) -> str | None:
    actor = participant.get("actor")
    return _target_type(actor) if isinstance(actor, dict) else None


def period_covers(period: Any, day: date) -> bool:
    """True when a FHIR Period covers ``day``, compared at the precision the period gives (``2026`` covers all
    of 2026); no period (or no bound) covers everything on that side."""
    if not isinstance(period, dict):
        return True
    text = day.isoformat()
    start, end = period.get("start"), period.get("end")
    if isinstance(start, str) and start and text[:len(start[:10])] < start[:10]:
        return False
    return not (isinstance(end, str) and end and text[:len(end[:10])] > end[:10])


def _coverage_order(coverage: dict[str, Any]) -> int:
    order = coverage.get("order")
    return order if isinstance(order, int) and not isinstance(order, bool) else 1_000_000


class AppointmentBundler:
    """Turns an Appointment into an appointment bundle."""

    def __init__(self, lookup: ResourceLookup, *, base_url: str | None = None):
        self.lookup = lookup
        self.base_url = base_url

    def build(self, appointment: dict[str, Any]) -> dict[str, Any]:
        check_appointment(appointment)
        assembly = BundleAssembly(self.lookup, appointment, base_url=self.base_url)
        day = date.fromisoformat(appointment["start"][:10])  # the date as written, in the practice's zone
        patient = None
        for participant in assembly.root["participant"]:
            if _actor_type(participant) == "Patient":
                patient = assembly.follow(participant["actor"], "Patient")
                break
        if patient is None or not patient.startswith("Patient/"):
            raise RecordError("the patient participant cannot be resolved to a Patient", record=assembly.key,
                              field="Appointment.participant.actor")
        assembly.expand()
        found = [c for c in self.lookup.search("Coverage", [("beneficiary", patient)])
                 if c.get("status") == "active" and period_covers(c.get("period"), day)]
        coverages = [assembly.include(c) for c in sorted(found, key=_coverage_order)]
        assembly.expand()
        return assembly.bundle(order=_entry_order(assembly, patient, [c for c in coverages if c]))


def _entry_order(assembly: BundleAssembly, patient: str, coverages: list[str]) -> list[str]:
    """Appointment, Patient, each Coverage (primary first) followed by its payer and subscriber, then the
    Practitioners, Locations and the rest."""
    order = [assembly.key, patient]
    for key in coverages:
        order.append(key)
        coverage = assembly.included[key]
        for reference in [*(coverage.get("payor") or [])[:1], coverage.get("subscriber")]:
            if isinstance(reference, dict):
                target = assembly.local_target(reference, "")
                if target and target != patient:
                    order.append(target)
    for kind in ("Practitioner", "PractitionerRole", "Location"):
        order.extend(k for k in assembly.included if k.startswith(f"{kind}/"))
    return order
