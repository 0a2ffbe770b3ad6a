"""Hand-built profile Claims (docs/claim-profile.md) for the 837P tests: a small therapy practice's week.

Names, NPIs and member ids are invented; the NPIs pass the Luhn check.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

from claimbridge.claims import systems
from claimbridge.x12 import Envelope, Submitter

# Luhn-valid NPIs: two group practices, three clinicians and a supervising psychologist
GROUP_NPI = "1234567893"
SECOND_GROUP_NPI = "1245319599"
THERAPIST_NPI = "1679576722"
COUNSELOR_NPI = "1609393727"
SUPERVISOR_NPI = "1417947169"
FACILITY_NPI = "1528064003"

ENVELOPE = Envelope(
    sender_qualifier="ZZ", sender_id="CLAIMBRIDGE01", receiver_qualifier="ZZ", receiver_id="STEDI",
    gs_sender="CLAIMBRIDGE01", gs_receiver="STEDI", usage="T", isa13=17, gs06=17, st02=1,
    created=datetime(2026, 3, 2, 14, 5, tzinfo=UTC),
)
SUBMITTER = Submitter(id="CLAIMBRIDGE01", name="Lakeside Counseling Group", contact_name="Dana Billing",
                      phone="(555) 123-4567", email="billing@lakeside.example")


def _coding(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


def _address(line: str, city: str, state: str, postal: str) -> list[dict]:
    return [{"use": "work", "line": [line], "city": city, "state": state, "postalCode": postal}]


def person(local_id: str, family: str, given: list[str], birth: str, gender: str,
           resource_type: str = "Patient") -> dict:
    resource = {"resourceType": resource_type, "id": local_id, "name": [{"family": family, "given": given}],
                "birthDate": birth, "gender": gender,
                "address": [{"use": "home", "line": ["12 Elm St", "Apt 3"], "city": "Springfield",
                             "state": "IL", "postalCode": "62704"}]}
    if resource_type == "RelatedPerson":
        resource["patient"] = {"reference": "#patient"}
    return resource


def billing_org(npi: str = GROUP_NPI, name: str = "Lakeside Counseling Group",
                tin: str = "123456789") -> dict:
    return {"resourceType": "Organization", "id": "billing", "name": name,
            "identifier": [{"system": systems.NPI, "value": npi}, {"system": systems.TIN, "value": tin}],
            "address": _address("400 Main St Ste 200", "Springfield", "IL", "627011234"),
            "telecom": [{"system": "phone", "value": "5551234567"}]}


def practitioner(local_id: str, npi: str, family: str, given: str) -> dict:
    return {"resourceType": "Practitioner", "id": local_id, "identifier": [{"system": systems.NPI, "value": npi}],
            "name": [{"family": family, "given": [given]}]}


def make_claim(pcn: str, *, code: str = "90837", charge: str = "150.00", date: str = "2026-02-23",
               pos: str = "11", modifiers: tuple[str, ...] = (), diagnoses: tuple[str, ...] = ("F41.1",),
               relationship: str = "self", billing: dict | None = None,
               rendering: tuple[str, str, str] = (THERAPIST_NPI, "Rivera", "Ana"),
               taxonomy: str = "1041C0700X", supervisor: tuple[str, str, str] | None = None,
               facility: bool = False, prior_auth: str | None = None, frequency: str = "1",
               payer_claim_number: str | None = None, filing: str = "CI",
               patient: dict | None = None, subscriber: dict | None = None,
               extra_lines: tuple[tuple[str, str, tuple[int, ...]], ...] = ()) -> dict:
    """One Claim as the builder makes it. ``extra_lines`` adds (code, charge, diagnosis sequences) items."""
    patient = patient or person("patient", "Okafor", ["Grace", "N"], "1988-04-12", "female")
    contained = [patient]
    subscriber_ref = "#patient"
    if relationship != "self":
        subscriber = subscriber or person("subscriber", "Okafor", ["James"], "1985-09-30", "male",
                                          resource_type="RelatedPerson")
        contained.append(subscriber)
        subscriber_ref = "#subscriber"
    coverage = {
        "resourceType": "Coverage", "id": "coverage", "status": "active", "subscriberId": "XJH123456789",
        "relationship": _coding(systems.SUBSCRIBER_RELATIONSHIP, relationship),
        "type": _coding(systems.CLAIM_FILING_INDICATOR, filing),
        "class": [{"type": _coding("http://terminology.hl7.org/CodeSystem/coverage-class", "group"),
                   "value": "GRP0042", "name": "ACME EMPLOYEES"}],
        "payor": [{"reference": "#payer"}], "beneficiary": {"reference": "#patient"},
        "subscriber": {"reference": subscriber_ref},
    }
    payer = {"resourceType": "Organization", "id": "payer", "name": "Blue Lake Health Plan",
             "identifier": [{"type": _coding(systems.V2_0203, "NIIP"), "value": "BLHP1"}]}
    contained += [coverage, payer, billing or billing_org(),
                  practitioner("rendering", *rendering),
                  {"resourceType": "Encounter", "id": "encounter", "status": "finished",
                   "class": {"system": systems.ACT_CODE, "code": "VR" if pos in ("02", "10") else "AMB"},
                   "period": {"start": f"{date}T10:00:00-06:00", "end": f"{date}T10:55:00-06:00"},
                   "length": {"value": 55, "unit": "min"}}]
    care_team = [{"sequence": 1, "provider": {"reference": "#rendering"},
                  "role": _coding(systems.CARE_TEAM_ROLE, "primary"),
                  "qualification": _coding(systems.NUCC, taxonomy)}]
    if supervisor:
        contained.append(practitioner("supervisor", *supervisor))
        care_team.append({"sequence": 2, "provider": {"reference": "#supervisor"},
                          "role": _coding(systems.CARE_TEAM_ROLE, "supervisor")})
    if facility:
        contained.append({"resourceType": "Location", "id": "facility", "name": "Lakeside Satellite Office",
                          "identifier": [{"system": systems.NPI, "value": FACILITY_NPI}],
                          "address": {"line": ["9 River Rd"], "city": "Chatham", "state": "IL",
                                      "postalCode": "62629-0101"}})
    lines = [(code, charge, (1,), modifiers), *((c, ch, d, ()) for c, ch, d in extra_lines)]
    items = []
    for sequence, (line_code, line_charge, pointers, mods) in enumerate(lines, start=1):
        item = {
            "sequence": sequence, "careTeamSequence": [1], "diagnosisSequence": list(pointers),
            "productOrService": _coding(systems.CPT, line_code),
            "servicedDate": date, "locationCodeableConcept": _coding(systems.POS, pos),
            "quantity": {"value": 1}, "unitPrice": {"value": Decimal(line_charge), "currency": "USD"},
            "net": {"value": Decimal(line_charge), "currency": "USD"},
            "encounter": [{"reference": "#encounter"}],
            "extension": [{"url": systems.EXT_LINE_CONTROL, "valueString": f"{pcn}{sequence}"}],
        }
        if mods:
            item["modifier"] = [_coding(systems.CPT, m) for m in mods]
        items.append(item)
    claim = {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": "2026-03-02",
        "type": _coding(systems.CLAIM_TYPE, "professional"),
        "priority": _coding(systems.PROCESS_PRIORITY, "normal"),
        "identifier": [{"system": systems.PCN_SYSTEM, "value": pcn},
                       {"system": systems.ENCOUNTER_KEY_SYSTEM, "value": f"ehr/Encounter/{pcn.lower()}"}],
        "extension": [{"url": systems.EXT_FREQUENCY, "valueCode": frequency}],
        "contained": contained,
        "patient": {"reference": "#patient"}, "provider": {"reference": "#billing"},
        "billablePeriod": {"start": date, "end": date},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": "#coverage"}}],
        "careTeam": care_team,
        "diagnosis": [{"sequence": n, "diagnosisCodeableConcept": _coding(systems.ICD10CM, d)}
                      for n, d in enumerate(diagnoses, start=1)],
        "item": items,
        "total": {"value": sum((Decimal(i["net"]["value"]) for i in items), Decimal(0)), "currency": "USD"},
    }
    if prior_auth:
        claim["insurance"][0]["preAuthRef"] = [prior_auth]
    if payer_claim_number:
        claim["related"] = [{"relationship": _coding(systems.RELATED_CLAIM_RELATIONSHIP, "prior"),
                             "reference": {"value": payer_claim_number}}]
    return claim


def therapy_week() -> list[dict]:
    """The realistic batch: every shape the encoder must handle, across two billing providers."""
    child = person("patient", "Okafor", ["Mia"], "2014-06-01", "female")
    second_group = billing_org(SECOND_GROUP_NPI, "Northside Family Therapy PLLC", "987654321")
    return [
        # adult, self-subscriber, office visit, two diagnoses
        make_claim("CB1ADULT01", diagnoses=("F41.1", "F33.1")),
        # child dependant of the subscribing parent, family therapy
        make_claim("CB2CHILD01", code="90847", charge="140.00", relationship="child", patient=child,
                   diagnoses=("F90.2",)),
        # telehealth at home (POS 10) with modifier 95 and a second line on another diagnosis
        make_claim("CB3TELE01", pos="10", modifiers=("95",), charge="150.5",
                   diagnoses=("F41.1", "Z63.0"), extra_lines=(("96127", "25.25", (1, 2)),)),
        # in person at a satellite office: 2310C service facility
        make_claim("CB4FACIL01", facility=True),
        # pre-licensed counselor under a supervising psychologist, prior authorization on file
        make_claim("CB5SUPER01", rendering=(COUNSELOR_NPI, "Chen", "Lee"), taxonomy="101YP2500X",
                   supervisor=(SUPERVISOR_NPI, "Adler", "Ruth"), prior_auth="PA778899",
                   billing=second_group, filing="MC"),
        # replacement of a paid claim: frequency 7 with the payer's claim number
        make_claim("CB6REPL01", frequency="7", payer_claim_number="2026041000123", billing=second_group,
                   code="90834", charge="110.00"),
    ]


def without(claim: dict, *path: str | int) -> dict:
    """A deep copy of ``claim`` with the element at ``path`` removed."""
    copied = copy.deepcopy(claim)
    target = copied
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copied
