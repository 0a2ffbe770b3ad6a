"""The demo practice written as a SimplePractice-style export, so the SimplePractice source can run from files.

Everything is derived from :func:`claimbridge.plugins.ehr_fhir.demo_data.demo_resources` (synthetic people
only) and is a pure function of ``today``: the same ``today`` gives byte-identical files (CSV, the .xlsx, whose
``docProps`` dates and zip entry times are fixed, and the .zip).

Files (one kind per file; headers exactly as :mod:`.layouts` gives them, in that order):

* ``billing`` — the appointment status / billing report: the 18 columns of the real report (no ``Client ID``,
  ``Appointment Status`` or ``Modifiers``), so the source joins its rows to clients by name (and date of birth)
  and to the appointments by client, date and code. One row per billing code of every attended session (a
  session with several charge items — ``enc-007``: 90834 and 96127 × 2 — has one row per code, same date,
  client and clinician), plus one row per late-cancelled appointment that carries a fee.
* ``appointments`` — every appointment: the 31 demo encounters (``Show``) and the extra, non-billable
  appointments of :data:`EXTRA_APPOINTMENTS` (``Late Cancelled``, ``No Show``, ``Cancelled``, and one free
  ``Show``).
* ``upcoming`` — a second appointments export, of the coming days (``appointments-upcoming-<today>.csv``): the
  FHIR demo's appointments from today to 4 days ahead (``appt-01`` … ``appt-13``) with a blank Status
  (``Cancelled`` for ``appt-12``), the ``appointments`` stream's eligibility scenarios with the same clients and
  member ids (``…INACTIVE``, ``…CARVEOUT``, ``…NOVISITS``, ``…AUTH``, ``…HIGHDED``, the child on her mother's
  plan, two plans, no plan). They have no billing rows and change no session.
* ``clients`` — the demo Patients (pat-08 … pat-12 have upcoming appointments only). ``insurance`` — the demo
  Coverages, with the client's diagnoses.
* ``insurance_payments`` — payments recorded for attended sessions at least :data:`PAID_AFTER_DAYS` days old.

Quirks the source must cope with (and which sessions carry them):

* ``Charge``, ``Paid`` and ``Unpaid`` appear twice (client side, then insurance side): read by position.
* Trailing spaces: every ``90837`` billing code is written ``"90837 "``; ``Juniper Aldana-Fitch`` (pat-04) is
  written with a trailing space in the billing report; ``Corinne Vasquez-Lindqvist``'s (pat-05) primary payer
  cell ends in a space.
* Payers are written ``Name (PayerID)`` in the billing and payments reports; the insurance report has the
  name and a ``Payer ID`` column.
* Money is ``$185.00`` (``$1,185.00`` with a comma from a thousand on: no demo amount is that large),
  negative amounts as ``($20.00)`` (``enc-002``) or ``-$10.00`` (``enc-016``): both rows are ``OVER`` on the
  client side (the client paid more than the copay).
* ``Client Payment Status`` is ``NO CHARGE`` on every billable row whose client owes nothing (Prairie State
  Medicaid members and the dual-covered pat-05): that alone must not stop a claim. What must never become a
  claim is a ``Total Fee`` of ``$0.00`` — the free phone check-in of :data:`EXTRA_APPOINTMENTS` (pat-05).
* Late-cancel fee rows carry the booked code (90834) and a fee billed to the client only (insurance side
  ``NO CHARGE``, ``$0.00``): only the appointments export (``Late Cancelled``) says they are not sessions.
* pat-01 still has her old plan in the insurance report (``Old Mutual Benefit Plan``, also ``Primary``, with a
  Coverage End two years back): the plan that covers the date of service is the one to bill.

The FHIR demo's held encounters keep an equivalent defect where the format can express it:

* ``enc-026`` (pat-06 has no coverage): the billing row names ``Lakeshore Health Plan (LKSHP)`` as primary
  insurance, but the insurance report has no row for Wendell Prudhomme (no member id): it must not build.
* ``enc-027`` (no CPT code): billed under the practice's custom service code ``ADMIN15`` (``$35.00``), which is
  not a CPT/HCPCS code.

The scrub-held encounters: ``enc-028`` (90837 for 41 minutes) and ``enc-031`` (90833 without E/M) carry their
defect unchanged. ``enc-029``'s telehealth modifier on an in-person session cannot be written (the report has no
modifiers) and ``enc-030``'s non-billable F41 cannot either (diagnoses are per client, not per session: pat-03's
are written ``F43.23``); from this export both become clean claims.

The insurance report has no supervisor: ``Tobias Renwick`` (``prac-associate``) sees his clients under
``Ingrid Solvang`` in the FHIR demo (:data:`SUPERVISORS`); a source that wants the supervising provider needs it
from configuration. Clinicians are named ``First Last`` (no credentials), exactly the keys of
``source_settings["clinicians"]``. No two demo clients share a name (pat-03 and pat-07 share a last name and an
address: Samuel and Noemi Thistlewood; Noemi is insured as Samuel's spouse).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from claimbridge.claims.systems import CPT, EXT_AUDIO_ONLY, HCPCS, ICD10CM, NPI, NUCC, PRIOR_AUTH_SYSTEM
from claimbridge.plugins.ehr_fhir.demo_data import (
    HELD_ENCOUNTERS,
    LOCAL_SERVICE_SYSTEM,
    SCRUB_HELD_ENCOUNTERS,
    apply_code_map,
    demo_code_map,
    demo_fee_schedule,
    demo_resources,
)

from .layouts import APPOINTMENTS, BILLING, CLIENTS, INSURANCE, INSURANCE_PAYMENTS, Layout

#: the kinds of file written, in order
KINDS = ("billing", "appointments", "clients", "insurance", "insurance_payments", "upcoming")
FORMS = ("csv", "xlsx", "zip")
#: file name stems by kind (the date of the export is appended)
FILE_STEMS = {"billing": "appointment-status", "appointments": "appointments", "clients": "clients",
              "insurance": "client-insurance", "insurance_payments": "insurance-payments",
              "upcoming": "appointments-upcoming"}
#: the 18 columns of the billing report as seen in a real download (DOMAIN.md)
BILLING_COLUMNS = 18
TELEHEALTH_LOCATIONS = ["Video Office", "Telehealth"]
AUDIO_ONLY_LOCATIONS = ["Phone"]
#: the practice's time zone (the FHIR demo writes its times at -06:00): ``appointments.timezone`` of a source
#: that should read the export's times as the practice's wall clock (the demo's source leaves it at UTC)
PRACTICE_TIMEZONE = "America/Chicago"
#: the Location written for a video session
VIDEO_LOCATION = "Video Office"
#: rendering clinician → supervising clinician, as the FHIR demo has them (not expressible in the export)
SUPERVISORS = {"Tobias Renwick": "Ingrid Solvang"}
#: the client's copay by primary payer id, when there is no secondary plan (other payers: the client owes nothing)
COPAYS = {"LKSHP": Decimal("25.00")}
#: the fees of the practice's custom (non-CPT) services
CUSTOM_SERVICE_FEES = {"ADMIN15": Decimal("35.00")}
LATE_CANCEL_FEE = Decimal("75.00")
#: attended sessions at least this many days old have been paid by the insurer (and are in insurance_payments)
PAID_AFTER_DAYS = 21
#: days from the date of service to the insurer's payment
PAYMENT_LAG_DAYS = 14
#: sessions at least this many days old have been paid by the client; the last UNINVOICED_DAYS are not invoiced
CLIENT_PAID_AFTER_DAYS = 7
UNINVOICED_DAYS = 2
#: encounter id → what the client paid, and how the negative unpaid amount is written ("paren" or "minus")
OVERPAID = {"enc-002": (Decimal("45.00"), "paren"), "enc-016": (Decimal("35.00"), "minus")}
#: held encounter → the payer the billing report names although the insurance report has no plan for the client
BILLED_WITHOUT_PLAN = {"enc-026": "payer-lakeshore"}
#: billing rows written with trailing spaces: these codes, these patients' names, these patients' primary payer
TRAILING_SPACE_CODES = {"90837"}
TRAILING_SPACE_CLIENTS = {"pat-04"}
TRAILING_SPACE_PAYER_CLIENTS = {"pat-05"}

#: appointments SimplePractice has that the FHIR demo does not (none becomes a claim):
#: id, patient, clinician, status, code, minutes, days ago, start, location (a Location id or a name), fee
EXTRA_APPOINTMENTS = (
    ("sp-late-1", "pat-03", "prac-associate", "Late Cancelled", "90834", 45, 23, "13:00", "loc-main",
     LATE_CANCEL_FEE),
    ("sp-late-2", "pat-07", "prac-psychologist", "Late Cancelled", "90834", 45, 3, "11:00", "Telehealth",
     LATE_CANCEL_FEE),
    ("sp-noshow", "pat-04", "prac-mft", "No Show", "90847", 50, 2, "15:30", VIDEO_LOCATION, None),
    ("sp-cancel", "pat-01", "prac-psychologist", "Cancelled", "90834", 45, 20, "09:00", "loc-main", None),
    # a free phone check-in: Total Fee $0.00, NO CHARGE on both sides
    ("sp-free", "pat-05", "prac-lcsw", "Show", "90832", 20, 9, "14:00", "Phone", Decimal("0.00")),
)
#: FHIR Appointment.status → the appointments export's Status of an upcoming appointment (blank: not yet seen)
UPCOMING_STATUSES = {"booked": "", "pending": "", "cancelled": "Cancelled"}
_CENT = Decimal("0.01")
_RELATIONSHIPS = {"self": "Self", "spouse": "Spouse", "child": "Child"}
_ORDERS = {1: "Primary", 2: "Secondary", 3: "Tertiary"}
_SEX = {"female": "Female", "male": "Male"}


@dataclass
class DemoExport:
    """What :func:`write_demo_export` wrote."""

    folder: Path
    #: kind → the file holding it (form ``zip``: the archive, for every kind)
    files: dict[str, Path]
    #: the ``settings`` of a ``type: simplepractice`` source reading ``folder``
    source_settings: dict[str, Any]
    #: form ``zip``: kind → the member name inside the archive (``reports/…``); empty otherwise
    members: dict[str, str] = field(default_factory=dict)
    form: str = "csv"


# ------------------------------------------------------------------------------------------- the practice


@dataclass
class _Line:
    code: str
    units: int
    total: Decimal

    @property
    def rate(self) -> Decimal:
        return (self.total / self.units).quantize(_CENT) if self.units else self.total


@dataclass
class _Session:
    id: str
    patient: str
    clinician: str
    start: dt.datetime
    minutes: int
    status: str
    location: str
    lines: list[_Line]
    days_ago: int
    #: a fee that is not for a session (late cancel): billed to the client only
    client_only: bool = False
    #: the code booked, for an appointment without billing lines (an upcoming one)
    booked_code: str | None = None


def _coding(concept: dict | None, systems: tuple[str, ...]) -> str | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") in systems and coding.get("code"):
            return coding["code"]
    return None


def _ref_id(ref: dict | None) -> str:
    return (ref or {}).get("reference", "").split("/", 1)[-1]


class _Practice:
    """The demo resources, indexed the way the export needs them."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        resources = demo_resources(today)
        self.by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        self.kind = {kind: [r for r in resources if r["resourceType"] == kind]
                     for kind in {r["resourceType"] for r in resources}}
        self.patients = self.kind["Patient"]
        self.client_ids = {p["id"]: f"SP-{10001 + i}" for i, p in enumerate(self.patients)}
        self.fees = demo_fee_schedule()
        self.code_map = demo_code_map()
        roles = {_ref_id(r["practitioner"]): r for r in self.kind["PractitionerRole"]}
        self.clinicians: dict[str, dict[str, str]] = {}
        self.clinician_names: dict[str, str] = {}
        for prac in self.kind["Practitioner"]:
            name = prac["name"][0]
            self.clinician_names[prac["id"]] = f"{name['given'][0]} {name['family']}"
            taxonomy = next((c["code"] for s in roles[prac["id"]].get("specialty", []) for c in s["coding"]
                             if c.get("system") == NUCC), "")
            npi = next(i["value"] for i in prac["identifier"] if i.get("system") == NPI)
            self.clinicians[self.clinician_names[prac["id"]]] = {"npi": npi, "taxonomy": taxonomy}
        self.locations = {loc["id"]: loc for loc in self.kind["Location"]}
        self.upcoming = sorted(self._upcoming_sessions(), key=lambda s: (s.start, self.client_name(s.patient), s.id))
        self.sessions = sorted(self._encounter_sessions() + self._extra_sessions(),
                               key=lambda s: (s.start, self.client_name(s.patient), s.id))

    # people

    def client_name(self, patient_id: str) -> str:
        name = self.by_ref[f"Patient/{patient_id}"]["name"][0]
        return f"{name['given'][0]} {name['family']}"

    def payer(self, org_id: str) -> tuple[str, str]:
        org = self.by_ref[f"Organization/{org_id}"]
        return org["name"], org["identifier"][0]["value"]

    def payer_cell(self, org_id: str) -> str:
        name, payer_id = self.payer(org_id)
        return f"{name} ({payer_id})"

    def coverages(self, patient_id: str) -> list[dict]:
        """The patient's coverages: current ones by order, then ended or cancelled ones."""
        own = [c for c in self.kind["Coverage"] if _ref_id(c["beneficiary"]) == patient_id]
        return sorted(own, key=lambda c: (c["status"] != "active" or "end" in c.get("period", {}),
                                          c.get("order", 99)))

    def active_coverages(self, patient_id: str, day: dt.date) -> list[dict]:
        out = []
        for cov in self.coverages(patient_id):
            period = cov.get("period", {})
            if cov["status"] != "active" or period.get("start", "0000") > day.isoformat():
                continue
            if period.get("end") and period["end"] < day.isoformat():
                continue
            out.append(cov)
        return out

    def diagnoses(self, patient_id: str) -> list[str]:
        """The client's diagnosis codes: those the patient's sessions use, except the scrub-held ones'."""
        codes: list[str] = []
        for enc in self.kind["Encounter"]:
            if _ref_id(enc["subject"]) != patient_id or enc["id"] in SCRUB_HELD_ENCOUNTERS:
                continue
            for dx in sorted(enc.get("diagnosis", []), key=lambda d: d.get("rank", 99)):
                code = _coding(self.by_ref[dx["condition"]["reference"]].get("code"), (ICD10CM,))
                if code and code not in codes:
                    codes.append(code)
        return codes

    def authorizations(self, patient_id: str) -> dict[str, str]:
        """Coverage id → prior authorization number (from the encounters that carry one)."""
        out: dict[str, str] = {}
        for enc in self.kind["Encounter"]:
            if _ref_id(enc["subject"]) != patient_id:
                continue
            for ident in enc.get("identifier", []):
                if ident.get("system") == PRIOR_AUTH_SYSTEM:
                    day = dt.date.fromisoformat(enc["period"]["start"][:10])
                    active = self.active_coverages(patient_id, day)
                    if active:
                        out.setdefault(active[0]["id"], ident["value"])
        return out

    # sessions

    def _lines(self, enc: dict) -> list[_Line]:
        ref = f"Encounter/{enc['id']}"
        lines = []
        for item in self.kind.get("ChargeItem", []):
            if item.get("context", {}).get("reference") != ref or item.get("status") != "billable":
                continue
            code = _coding(item["code"], (CPT, HCPCS))
            units = int(item.get("quantity", {}).get("value", 1))
            if "priceOverride" in item:
                total = Decimal(str(item["priceOverride"]["value"])).quantize(_CENT)
            else:
                total = self.fees[code] * units
            lines.append(_Line(code, units, total))
        if lines:
            return lines
        for proc in self.kind.get("Procedure", []):
            if proc.get("encounter", {}).get("reference") == ref and proc.get("status") == "completed":
                code = _coding(proc["code"], (CPT, HCPCS))
                if code:
                    lines.append(_Line(code, 1, self.fees[code]))
        if lines:
            return lines
        for concept in enc.get("type", []):
            concept = {"coding": list(concept.get("coding", []))}
            apply_code_map(concept, self.code_map)
            code = _coding(concept, (CPT, HCPCS))
            if code:
                lines.append(_Line(code, 1, self.fees[code]))
        if lines:
            return lines
        # no CPT code at all (enc-027): SimplePractice bills the practice's own service code
        for concept in enc.get("type", []):
            code = _coding(concept, (LOCAL_SERVICE_SYSTEM,))
            if code:
                return [_Line(code, 1, CUSTOM_SERVICE_FEES[code])]
        raise ValueError(f"Encounter/{enc['id']} has no service code")

    def _encounter_sessions(self) -> list[_Session]:
        out = []
        for enc in self.kind["Encounter"]:
            start = dt.datetime.fromisoformat(enc["period"]["start"][:19])
            end = dt.datetime.fromisoformat(enc["period"]["end"][:19])
            length = enc.get("length")
            minutes = int(length["value"]) if length else round((end - start).total_seconds() / 60)
            audio_only = any(e.get("url") == EXT_AUDIO_ONLY and e.get("valueBoolean")
                             for e in enc.get("extension", []))
            if audio_only:
                location = AUDIO_ONLY_LOCATIONS[0]
            elif enc["class"]["code"] == "VR":
                location = VIDEO_LOCATION
            else:
                location = self.locations[_ref_id(enc["location"][0]["location"])]["name"]
            performer = next(p for p in enc["participant"]
                             if any(c["code"] == "PPRF" for t in p.get("type", []) for c in t["coding"]))
            out.append(_Session(
                id=enc["id"], patient=_ref_id(enc["subject"]), clinician=_ref_id(performer["individual"]),
                start=start, minutes=minutes, status="Show", location=location, lines=self._lines(enc),
                days_ago=(self.today - start.date()).days,
            ))
        return out

    def _upcoming_sessions(self) -> list[_Session]:
        """The FHIR demo's appointments from today on (:data:`UPCOMING_STATUSES`; the past ones are sessions)."""
        out = []
        for appointment in self.kind.get("Appointment", []):
            start = dt.datetime.fromisoformat(appointment["start"][:19])
            if start.date() < self.today:
                continue
            actors = [_ref_id(p["actor"]) for p in appointment["participant"]]
            kinds = [p["actor"]["reference"].split("/", 1)[0] for p in appointment["participant"]]
            location = next((self.locations[a]["name"] for a, k in zip(actors, kinds, strict=True)
                             if k == "Location"), VIDEO_LOCATION)
            out.append(_Session(
                id=appointment["id"], patient=actors[kinds.index("Patient")],
                clinician=actors[kinds.index("Practitioner")], start=start,
                minutes=appointment["minutesDuration"], status=UPCOMING_STATUSES[appointment["status"]],
                location=location, lines=[], days_ago=(self.today - start.date()).days,
                booked_code=_coding(appointment["serviceType"][0], (CPT,)),
            ))
        return out

    def _extra_sessions(self) -> list[_Session]:
        out = []
        for sid, patient, clinician, status, code, minutes, days_ago, start, location, fee in EXTRA_APPOINTMENTS:
            day = self.today - dt.timedelta(days=days_ago)
            hour, minute = map(int, start.split(":"))
            if location in self.locations:
                location = self.locations[location]["name"]
            lines = [] if fee is None else [_Line(code, 1, fee)]
            out.append(_Session(
                id=sid, patient=patient, clinician=clinician,
                start=dt.datetime(day.year, day.month, day.day, hour, minute), minutes=minutes, status=status,
                location=location, lines=lines, days_ago=days_ago, client_only=status != "Show",
            ))
        return out


# -------------------------------------------------------------------------------------------- formatting


def _money(amount: Decimal, negative: str = "paren") -> str:
    text = f"${abs(amount):,.2f}"
    if amount < 0:
        return f"({text})" if negative == "paren" else f"-{text}"
    return text


def _date(day: dt.date) -> str:
    return day.strftime("%m/%d/%Y")


def _time(moment: dt.datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def _zip9(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == 9 else code


def _phone(digits: str) -> str:
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else digits


def _status(charge: Decimal, unpaid: Decimal) -> str:
    if charge == 0:
        return "NO CHARGE"
    if unpaid < 0:
        return "OVER"
    return "PAID" if unpaid == 0 else "UNPAID"


def headers(layout: Layout, count: int | None = None) -> list[str]:
    """The default headers of ``layout``, in order (the first ``count`` only)."""
    return [column.header for column in layout.columns[:count]]


# ------------------------------------------------------------------------------------------------- rows


def _billing_rows(practice: _Practice) -> tuple[list[list[str]], list[list[str]]]:
    """The billing report's rows, and the insurance payments report's."""
    rows: list[list[str]] = []
    payments: list[tuple[dt.date, str, str, dt.date, str, Decimal]] = []
    for session in practice.sessions:
        if not session.lines:
            continue
        day = session.start.date()
        active = practice.active_coverages(session.patient, day)
        payer_orgs = [_ref_id(c["payor"][0]) for c in active]
        if not payer_orgs and session.id in BILLED_WITHOUT_PLAN:
            payer_orgs = [BILLED_WITHOUT_PLAN[session.id]]
        primary = practice.payer_cell(payer_orgs[0]) if payer_orgs else ""
        if primary and session.patient in TRAILING_SPACE_PAYER_CLIENTS:
            primary += " "
        secondary = practice.payer_cell(payer_orgs[1]) if len(payer_orgs) > 1 else ""
        client = practice.client_name(session.patient)
        if session.patient in TRAILING_SPACE_CLIENTS:
            client += " "
        copay = Decimal("0.00")
        if len(payer_orgs) == 1:
            copay = COPAYS.get(practice.payer(payer_orgs[0])[1], Decimal("0.00"))
        insurer_pays = (session.status == "Show" and session.days_ago >= PAID_AFTER_DAYS
                        and session.id not in HELD_ENCOUNTERS and session.id not in SCRUB_HELD_ENCOUNTERS)
        for index, line in enumerate(session.lines):
            if session.client_only or not payer_orgs:
                client_charge = line.total
            else:
                client_charge = min(copay, line.total) if index == 0 else Decimal("0.00")
            insurance_charge = line.total - client_charge
            negative = "paren"
            client_paid = Decimal("0.00")
            if session.days_ago >= CLIENT_PAID_AFTER_DAYS:
                client_paid = client_charge
                if index == 0 and session.id in OVERPAID:
                    client_paid, negative = OVERPAID[session.id]
            client_unpaid = client_charge - client_paid
            uninvoiced = client_charge if session.days_ago <= UNINVOICED_DAYS else Decimal("0.00")
            insurance_paid = insurance_charge if insurer_pays else Decimal("0.00")
            insurance_unpaid = insurance_charge - insurance_paid
            code = line.code + (" " if line.code in TRAILING_SPACE_CODES else "")
            rows.append([
                _date(day), client, practice.clinician_names[session.clinician], code, primary, secondary,
                _money(line.rate), str(line.units), _money(line.total),
                _status(client_charge, client_unpaid), _money(client_charge), _money(uninvoiced),
                _money(client_paid), _money(client_unpaid, negative),
                _status(insurance_charge, insurance_unpaid), _money(insurance_charge), _money(insurance_paid),
                _money(insurance_unpaid),
            ])
            if insurance_paid:
                payments.append((day + dt.timedelta(days=PAYMENT_LAG_DAYS), practice.payer_cell(payer_orgs[0]),
                                 practice.client_name(session.patient), day, line.code, insurance_paid))
    payments.sort(key=lambda p: (p[0], p[1], p[3], p[2], p[4]))
    payment_rows = []
    batches: dict[tuple[dt.date, str], str] = {}
    for paid_on, payer, client, day, code, amount in payments:
        reference = batches.setdefault((paid_on, payer), f"EFT{paid_on:%y%m%d}{len(batches) + 1:04d}")
        payment_rows.append([_date(paid_on), payer, reference, client, _date(day), code, _money(amount)])
    return rows, payment_rows


def _appointment_rows(practice: _Practice, sessions: list[_Session] | None = None) -> list[list[str]]:
    rows = []
    for session in practice.sessions if sessions is None else sessions:
        end = session.start + dt.timedelta(minutes=session.minutes)
        code = session.lines[0].code if session.lines else session.booked_code or next(
            e[4] for e in EXTRA_APPOINTMENTS if e[0] == session.id)
        rows.append([
            _date(session.start.date()), _time(session.start), _time(end), str(session.minutes),
            practice.client_name(session.patient), practice.client_ids[session.patient],
            practice.clinician_names[session.clinician], code, session.status, session.location,
        ])
    return rows


def _client_rows(practice: _Practice) -> list[list[str]]:
    rows = []
    for patient in practice.patients:
        name = patient["name"][0]
        address = patient["address"][0]
        phone = next((t["value"] for t in patient.get("telecom", []) if t.get("system") == "phone"), "")
        rows.append([
            practice.client_ids[patient["id"]], name["given"][0], name["family"],
            _date(dt.date.fromisoformat(patient["birthDate"])), _SEX.get(patient.get("gender", ""), ""),
            address["line"][0], " ".join(address["line"][1:]), address["city"], address["state"],
            _zip9(address["postalCode"]), _phone(phone),
        ])
    return rows


def _insurance_rows(practice: _Practice) -> list[list[Any]]:
    """Rows with dates as :class:`datetime.date` (written MM/DD/YYYY in CSV, as date cells in Excel)."""
    rows: list[list[Any]] = []
    for patient in practice.patients:
        pid = patient["id"]
        diagnoses = ", ".join(practice.diagnoses(pid))
        authorizations = practice.authorizations(pid)
        for cov in practice.coverages(pid):
            payer_name, payer_id = practice.payer(_ref_id(cov["payor"][0]))
            relationship = cov.get("relationship", {}).get("coding", [{}])[0].get("code", "self")
            insured: list[Any] = ["", "", "", ""]
            if relationship != "self":
                person = practice.by_ref[cov["subscriber"]["reference"]]
                insured = [person["name"][0]["given"][0], person["name"][0]["family"],
                           dt.date.fromisoformat(person["birthDate"]), _SEX.get(person.get("gender", ""), "")]
            period = cov.get("period", {})
            rows.append([
                practice.client_ids[pid], practice.client_name(pid), dt.date.fromisoformat(patient["birthDate"]),
                _ORDERS.get(cov.get("order", 1), "Primary"), payer_name, payer_id, cov["subscriberId"], "",
                _RELATIONSHIPS.get(relationship, "Other"), *insured,
                dt.date.fromisoformat(period["start"]) if period.get("start") else "",
                dt.date.fromisoformat(period["end"]) if period.get("end") else "",
                diagnoses, authorizations.get(cov["id"], ""),
            ])
    return rows


# ------------------------------------------------------------------------------------------------ writing


def _csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_date(v) if isinstance(v, dt.date) else v for v in row])
    return out.getvalue().encode("utf-8")


def _zip_time(today: dt.date) -> tuple[int, int, int, int, int, int]:
    return (max(today.year, 1980), today.month, today.day, 0, 0, 0)


def _fixed_zip(members: list[tuple[str, bytes]], today: dt.date) -> bytes:
    """A zip of ``members`` whose bytes depend only on them and ``today``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_zip_time(today))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def _xlsx_bytes(title: str, header: list[str], rows: list[list[Any]], today: dt.date) -> bytes:
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells:
            if isinstance(cell.value, dt.date):
                cell.number_format = "mm/dd/yyyy"
    stamp = dt.datetime(today.year, today.month, today.day)
    workbook.properties.creator = "SimplePractice"
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    buffer = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook stamps 'modified' with the current time
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)
    ExcelWriter(workbook, archive).save()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as written:
        members = [(info.filename, written.read(info)) for info in written.infolist()]
    return _fixed_zip(members, today)


def demo_source_settings(folder: Path) -> dict[str, Any]:
    """The ``settings`` of a ``type: simplepractice`` source reading ``folder`` (the demo practice)."""
    practice = _Practice(dt.date(2026, 1, 31))  # nothing below depends on the date
    service_locations = {}
    for location in practice.locations.values():
        address = location["address"]
        service_locations[location["name"]] = {
            "pos": "11",
            "address": {"line": list(address["line"]), "city": address["city"], "state": address["state"],
                        "postal_code": address["postalCode"]},
        }
    return {
        "folder": str(folder),
        "clinicians": {name: {**value, **({"supervisor": SUPERVISORS[name]} if name in SUPERVISORS else {})}
                       for name, value in practice.clinicians.items()},
        "telehealth_locations": list(TELEHEALTH_LOCATIONS),
        "audio_only_locations": list(AUDIO_ONLY_LOCATIONS),
        "service_locations": service_locations,
        # the demo practice is in Chicago, like the FHIR demo's (-06:00): the export's times are local times
        "appointments": {"timezone": "America/Chicago"},
    }


def demo_source_entry(folder: Path) -> dict[str, Any]:
    """A ``sources[]`` configuration entry for a SimplePractice source reading the demo export in ``folder``."""
    return {"name": "simplepractice", "type": "simplepractice", "settings": demo_source_settings(folder)}


def demo_reports(today: dt.date) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Kind → (header, rows) of every report (insurance dates as :class:`datetime.date`, the rest text)."""
    practice = _Practice(today)
    billing, payments = _billing_rows(practice)
    return {
        "billing": (headers(BILLING, BILLING_COLUMNS), billing),
        "appointments": (headers(APPOINTMENTS), _appointment_rows(practice)),
        "upcoming": (headers(APPOINTMENTS), _appointment_rows(practice, practice.upcoming)),
        "clients": (headers(CLIENTS), _client_rows(practice)),
        "insurance": (headers(INSURANCE), _insurance_rows(practice)),
        "insurance_payments": (headers(INSURANCE_PAYMENTS), payments),
    }


def write_demo_export(folder: Path, today: dt.date, *, form: str = "csv") -> DemoExport:
    """Write the demo practice to ``folder`` as a SimplePractice export (see the module docstring).

    ``form``: ``csv`` (every report a CSV file), ``xlsx`` (the insurance report as an Excel workbook, the rest
    CSV) or ``zip`` (every report as CSV under ``reports/`` in ``simplepractice-export-<today>.zip``). Files of
    the same name are overwritten; write each form to its own folder.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(FORMS)}, not {form!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    reports = demo_reports(today)
    files: dict[str, Path] = {}
    members: dict[str, str] = {}
    contents: list[tuple[str, bytes]] = []
    for kind in KINDS:
        header, rows = reports[kind]
        name = f"{FILE_STEMS[kind]}-{today.isoformat()}"
        if form == "xlsx" and kind == "insurance":
            contents.append((f"{name}.xlsx", _xlsx_bytes("Client Insurance", header, rows, today)))
        else:
            contents.append((f"{name}.csv", _csv_bytes(header, rows)))
    if form == "zip":
        archive = folder / f"simplepractice-export-{today.isoformat()}.zip"
        named = [(f"reports/{name}", data) for name, data in contents]
        archive.write_bytes(_fixed_zip(named, today))
        for kind, (name, _data) in zip(KINDS, named, strict=True):
            files[kind] = archive
            members[kind] = name
    else:
        for kind, (name, data) in zip(KINDS, contents, strict=True):
            path = folder / name
            path.write_bytes(data)
            files[kind] = path
    return DemoExport(folder=folder, files=files, source_settings=demo_source_settings(folder), members=members,
                      form=form)
