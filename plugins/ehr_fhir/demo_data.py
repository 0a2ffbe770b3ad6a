"""A synthetic FHIR R4 data set for a small therapy group practice, and the encounter bundles made from it.

Nobody in here is real. NPIs are made up but pass the check digit (Luhn over ``80840`` + the first nine digits),
tax ids are nine made-up digits, ZIP codes have nine digits. Everything is a pure function of ``today`` so the
demo, the tests and the benchmarks see the same data on every run.

What is in it:

* the practice ``Organization/org-practice`` (type 2 NPI, TIN) with two offices: ``Location/loc-main`` at the
  billing address and ``Location/loc-annex`` elsewhere (both POS 11), and two payers,
  ``Organization/payer-lakeshore`` (commercial, payer id ``LKSHP``) and ``Organization/payer-prairie-medicaid``
  (Medicaid, payer id ``PSMCD``);
* five clinicians with PractitionerRoles carrying NUCC taxonomies; ``Practitioner/prac-associate`` is a
  pre-licensed counselor who sees patients under ``Practitioner/prac-lpc`` (participant type ``SPRF``);
* twelve patients: ``pat-01`` … ``pat-07`` with encounters, ``pat-08`` … ``pat-12`` with upcoming
  appointments only (one eligibility scenario each, see below). ``pat-04`` is a child covered as the ``child`` of her mother
  (``RelatedPerson/rp-04-mother``, the subscriber); ``pat-07`` is covered as the ``spouse`` of ``pat-03``;
  ``pat-05`` has a commercial plan (order 1) and Medicaid (order 2); ``pat-01`` also has a cancelled old plan;
  ``pat-06`` has no coverage at all;
* 31 finished encounters in the 30 days before ``today``: ``enc-001`` … ``enc-025`` become clean claims
  (no scrub errors or warnings under the shipped ``default`` profile and :func:`demo_payer_profiles`),
  :data:`HELD_ENCOUNTERS` do not become claims at all:

  - ``enc-026``: the patient has no Coverage (``ClaimBuildError`` field ``Coverage``);
  - ``enc-027``: only a SNOMED and a local code that the code map does not know (no CPT coding);

  and :data:`SCRUB_HELD_ENCOUNTERS` build into claims that the scrubber holds (each trips exactly one rule):

  - ``enc-028``: 90837 (53+ minutes) billed for a 41-minute session → ``psychotherapy.time_band`` (90834);
  - ``enc-029``: an in-person session whose code carries telehealth modifier 95 (a template habit) →
    ``telehealth.in_person_modifier``;
  - ``enc-030``: diagnosed with the ICD-10-CM category F41, not a billable code →
    ``codes.icd10_billable``;
  - ``enc-031``: the E/M add-on 90833 billed without an E/M service → ``psychotherapy.addon_without_em``.

* :func:`demo_payer_profiles`: scrubber payer profiles matching :func:`demo_payer_settings` and
  ``config/payers/`` (the Medicaid plan wants GT, POS 02, HQ on group therapy, authorization for 90837, at most
  2 units of 96127 and no Z-code first). Without them the
  ``default`` profile applies, which wants 95, and holds the Medicaid telehealth claims ``enc-008`` and
  ``enc-009``.

* 14 appointments (``appt-00`` … ``appt-13``, :func:`_appointments`): 12 from today to 3 days ahead — 10 booked,
  1 pending, 1 cancelled — and one each yesterday and 4 days ahead, outside the ``appointments`` stream's default
  window. :data:`APPOINTMENT_SCENARIOS` says which eligibility case each shows; the member ids of ``pat-08`` …
  ``pat-12`` end in the suffixes the sandbox payer answers by (``LKH4081INACTIVE``, ``LKH4082CARVEOUT``,
  ``LKH4083NOVISITS``, ``IL8830AUTH``, ``LKH4085HIGHDED``); ``pat-12`` also has a Medicaid plan that ended last
  year. The encounters and their claims are unchanged by them.
* :data:`MAPPED_CODE_ENCOUNTERS` (``enc-019``, ``enc-022``, ``enc-023``) carry only a SNOMED coding plus a local
  service code in ``Encounter.type``; :func:`demo_code_map` turns them into CPT, as a source's code map would.
* ``enc-007`` has two ChargeItems (90834 and 96127 × 2), ``enc-021`` a ChargeItem with a sliding-scale
  ``priceOverride``, ``enc-004`` a Procedure; ``enc-008`` carries a prior authorization; ``enc-010`` (group,
  Medicaid) has modifier ``HQ``; ``enc-012`` and ``enc-014`` happen at the annex (a service facility on the claim).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from claimbridge.claims.systems import (
    ACT_CODE,
    CLAIM_FILING_INDICATOR,
    CPT,
    EXT_MODIFIER,
    HCPCS,
    ICD10CM,
    NPI,
    NUCC,
    PARTICIPATION_TYPE,
    POS,
    PRIOR_AUTH_SYSTEM,
    SNOMED,
    SUBSCRIBER_RELATIONSHIP,
    TIN,
    V2_0203,
)

#: the practice's own service codes (what a practice management system calls its "services")
LOCAL_SERVICE_SYSTEM = "https://riverbend-counseling.example/fhir/CodeSystem/service"
MRN_SYSTEM = "https://riverbend-counseling.example/fhir/sid/mrn"
ENCOUNTER_ID_SYSTEM = "https://riverbend-counseling.example/fhir/sid/visit"

#: encounters that must not become clean claims, with the reason
HELD_ENCOUNTERS = {
    "enc-026": "patient has no coverage",
    "enc-027": "procedure code unknown to the code map (no CPT coding)",
}
#: encounters that build into claims the scrubber must hold, with the id of the rule that holds each
SCRUB_HELD_ENCOUNTERS = {
    "enc-028": "psychotherapy.time_band",
    "enc-029": "telehealth.in_person_modifier",
    "enc-030": "codes.icd10_billable",
    "enc-031": "psychotherapy.addon_without_em",
}
#: encounters whose procedure is coded only in SNOMED plus a local code; the code map supplies the CPT code
MAPPED_CODE_ENCOUNTERS = ("enc-019", "enc-022", "enc-023")
PRACTICE_ID = "org-practice"
PRACTICE_NPI = "1847293010"
PRACTICE_TIN = "364829175"
PRACTICE_TAXONOMY = "261QM0801X"  # mental health clinic/center (group)

_TZ = "-06:00"
_PRACTICE_ADDRESS = {"line": ["410 Harbor Street", "Suite 200"], "city": "Springfield", "state": "IL",
                     "postalCode": "627011234"}
_ANNEX_ADDRESS = {"line": ["88 Elm Avenue"], "city": "Springfield", "state": "IL", "postalCode": "627031456"}


def demo_fee_schedule() -> dict[str, Decimal]:
    """Charge per unit by CPT code (the practice's usual and customary fees)."""
    return {code: Decimal(fee) for code, fee in {
        "90791": "200.00", "90792": "225.00", "90832": "95.00", "90834": "140.00", "90837": "185.00",
        "90833": "110.00", "90839": "220.00", "90840": "100.00", "90846": "130.00", "90847": "150.00", "90853": "60.00",
        "90785": "25.00", "96127": "15.00",
    }.items()}


def demo_code_map() -> dict[str, str]:
    """Source code → CPT code, keyed ``<system>|<code>`` (the FHIR token form).

    ``enc-027``'s local code ``ADMIN15`` and SNOMED 409063005 are deliberately absent.
    """
    return {
        f"{SNOMED}|90407005": "90791",  # evaluation of psychiatric state of patient
        f"{LOCAL_SERVICE_SYSTEM}|INTAKE": "90791",
        f"{LOCAL_SERVICE_SYSTEM}|IND30": "90832",
        f"{LOCAL_SERVICE_SYSTEM}|IND45": "90834",
        f"{LOCAL_SERVICE_SYSTEM}|IND60": "90837",
        f"{LOCAL_SERVICE_SYSTEM}|FAM50": "90847",
        f"{LOCAL_SERVICE_SYSTEM}|GRP90": "90853",
    }


def demo_practice_settings() -> dict[str, Any]:
    """The ``practice`` section of a demo configuration (plain data, as it would be written in YAML)."""
    return {
        "name": "Riverbend Counseling Group PLLC",
        "npi": PRACTICE_NPI,
        "tax_id": PRACTICE_TIN,
        "taxonomy": PRACTICE_TAXONOMY,
        "address": {"line": list(_PRACTICE_ADDRESS["line"]), "city": "Springfield", "state": "IL",
                    "postal_code": _PRACTICE_ADDRESS["postalCode"]},
        "contact": {"name": "Billing Office", "phone": "2175550100", "email": "billing@riverbend.example"},
    }


def demo_payer_settings() -> dict[str, dict[str, Any]]:
    """The ``claims.payers`` section of a demo configuration, by payer id."""
    return {
        "LKSHP": {"name": "Lakeshore Health Plan", "claim_filing_indicator": "CI",
                  "telehealth_modifier": "95", "telehealth_pos": "10"},
        "PSMCD": {"name": "Prairie State Medicaid", "claim_filing_indicator": "MC",
                  "telehealth_modifier": "GT", "telehealth_pos": "02"},
    }


def demo_payer_profiles() -> dict[str, dict[str, Any]]:
    """Scrubber payer profiles for the demo payers, by profile name (plain data: write each to
    ``payers/<name>.yaml`` next to the configuration, or pass ``PayerProfile(**value)`` to a ``ProfileSet``).

    They agree with :func:`demo_payer_settings`, which tells the claim builder the same telehealth modifier and
    place of service, and with the examples in ``config/payers/``; keys not given take the ``PayerProfile``
    defaults.
    """
    return {
        "lakeshore": {
            "description": "Lakeshore Health Plan (commercial)", "payer_ids": ["LKSHP"],
            "claim_filing_indicator": "CI", "telehealth_modifier": "95", "audio_only_modifier": "93",
            "telehealth_pos": ["02", "10"], "authorization_required_codes": [], "max_96127_units": 4,
            "z_code_primary": "warning", "requires_group_npi": True,
            # Lakeshore pays associates only under a licensed supervisor (prac-associate is a counselor)
            "supervision_required_taxonomies": ["101YM0800X"],
            "timely_filing_days": 180, "timely_filing_warning_days": 30,
        },
        "prairie-medicaid": {
            "description": "Prairie State Medicaid", "payer_ids": ["PSMCD"], "claim_filing_indicator": "MC",
            "telehealth_modifier": "GT", "telehealth_pos": ["02"], "audio_only_modifier": "93",
            "authorization_required_codes": ["90837"], "authorization_warning_visits": 3,
            "max_96127_units": 2, "z_code_primary": "error", "group_modifier": "HQ", "requires_group_npi": True,
            "timely_filing_days": 180, "timely_filing_warning_days": 45,
        },
    }


# --------------------------------------------------------------------------------------------- resources


def _ref(resource_type: str, rid: str) -> dict[str, str]:
    return {"reference": f"{resource_type}/{rid}"}


def _address(address: dict) -> dict:
    return {"use": "work", "type": "physical", **copy.deepcopy(address), "country": "US"}


def _organizations() -> list[dict]:
    practice = {
        "resourceType": "Organization", "id": PRACTICE_ID, "active": True,
        "identifier": [
            {"system": NPI, "value": PRACTICE_NPI},
            {"type": {"coding": [{"system": V2_0203, "code": "TAX"}]}, "system": TIN, "value": PRACTICE_TIN},
        ],
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
        "name": "Riverbend Counseling Group PLLC",
        "telecom": [{"system": "phone", "value": "2175550100", "use": "work"},
                    {"system": "email", "value": "billing@riverbend.example", "use": "work"}],
        "address": [_address(_PRACTICE_ADDRESS)],
    }
    payers = []
    for rid, name, payer_id, street, city, state, zip9 in (
        ("payer-lakeshore", "Lakeshore Health Plan", "LKSHP", "PO Box 4410", "Chicago", "IL", "606804410"),
        ("payer-prairie-medicaid", "Prairie State Medicaid", "PSMCD", "PO Box 19020", "Springfield", "IL",
         "627949020"),
    ):
        payers.append({
            "resourceType": "Organization", "id": rid, "active": True,
            "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "NIIP"}]}, "value": payer_id}],
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                  "code": "pay", "display": "Payer"}]}],
            "name": name,
            "address": [{"line": [street], "city": city, "state": state, "postalCode": zip9, "country": "US"}],
        })
    # an old payer only referred to by a cancelled coverage
    payers.append({
        "resourceType": "Organization", "id": "payer-oldplan", "active": False,
        "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "NIIP"}]}, "value": "OLDPL"}],
        "name": "Old Mutual Benefit Plan",
    })
    return [practice, *payers]


def _locations() -> list[dict]:
    def location(rid: str, name: str, address: dict) -> dict:
        return {
            "resourceType": "Location", "id": rid, "status": "active", "name": name, "mode": "instance",
            "type": [{"coding": [{"system": POS, "code": "11", "display": "Office"}]}],
            "address": _address(address), "managingOrganization": _ref("Organization", PRACTICE_ID),
        }
    return [location("loc-main", "Riverbend Counseling - Harbor Street", _PRACTICE_ADDRESS),
            location("loc-annex", "Riverbend Counseling - Elm Avenue Annex", _ANNEX_ADDRESS)]


# id, NPI, given, family, suffix, gender, NUCC code, NUCC display, licensed
_CLINICIANS = (
    ("prac-psychologist", "1540388620", "Marisol", "Quintero-Vale", "PsyD", "female", "103TC0700X",
     "Clinical Psychologist"),
    ("prac-lcsw", "1672503947", "Desmond", "Achterberg", "LCSW", "male", "1041C0700X", "Clinical Social Worker"),
    ("prac-lpc", "1983371067", "Ingrid", "Solvang", "LPC", "female", "101YP2500X", "Professional Counselor"),
    ("prac-associate", "1436219871", "Tobias", "Renwick", "LPC-A", "male", "101YM0800X",
     "Mental Health Counselor"),
    ("prac-mft", "1720945538", "Priya", "Halloran", "LMFT", "female", "106H00000X",
     "Marriage & Family Therapist"),
)


def _clinicians() -> list[dict]:
    out = []
    for rid, npi, given, family, suffix, gender, taxonomy, display in _CLINICIANS:
        out.append({
            "resourceType": "Practitioner", "id": rid, "active": True,
            "identifier": [{"system": NPI, "value": npi}],
            "name": [{"use": "official", "family": family, "given": [given], "suffix": [suffix]}],
            "gender": gender,
            "telecom": [{"system": "phone", "value": "2175550100", "use": "work"}],
        })
        out.append({
            "resourceType": "PractitionerRole", "id": f"role-{rid.removeprefix('prac-')}", "active": True,
            "practitioner": _ref("Practitioner", rid),
            "organization": _ref("Organization", PRACTICE_ID),
            "location": [_ref("Location", "loc-main")],
            "code": [{"text": "associate therapist" if rid == "prac-associate" else "therapist"}],
            "specialty": [{"coding": [{"system": NUCC, "code": taxonomy, "display": display}]}],
        })
    return out


# id, given, family, gender, birth date, street, zip9, conditions (ICD-10-CM code, display)
_PATIENTS = (
    ("pat-01", "Lena", "Marchetti-Oyelaran", "female", "1988-04-17", "1207 Willow Bend Road", "627041188",
     (("F41.1", "Generalized anxiety disorder"),)),
    ("pat-02", "Rafael", "Okonkwo-Brandt", "male", "1979-11-02", "33 Cottonwood Lane Apt 4", "627025521",
     (("F32.1", "Major depressive disorder, single episode, moderate"),)),
    ("pat-03", "Samuel", "Thistlewood", "male", "1991-07-23", "5150 Prairie View Drive", "627118834",
     (("F43.23", "Adjustment disorder with mixed anxiety and depressed mood"),
      # a category, not a billable code: only enc-030 uses it (SCRUB_HELD_ENCOUNTERS)
      ("F41", "Other anxiety disorders"))),
    ("pat-04", "Juniper", "Aldana-Fitch", "female", "2016-02-09", "72 Meadowlark Court", "627077310",
     (("F90.0", "Attention-deficit hyperactivity disorder, predominantly inattentive type"),
      ("Z62.820", "Parent-biological child conflict"))),
    ("pat-05", "Corinne", "Vasquez-Lindqvist", "female", "1965-09-30", "908 Sangamon Avenue", "627024417",
     (("F33.1", "Major depressive disorder, recurrent, moderate"), ("F41.1", "Generalized anxiety disorder"))),
    ("pat-06", "Wendell", "Prudhomme", "male", "1983-12-12", "41 Lincoln Park Terrace", "627036602",
     (("F41.1", "Generalized anxiety disorder"),)),
    ("pat-07", "Noemi", "Thistlewood", "female", "1992-03-05", "5150 Prairie View Drive", "627118834",
     (("F41.1", "Generalized anxiety disorder"), ("Z63.0", "Problems in relationship with spouse or partner"))),
    # patients with upcoming appointments only, one per eligibility scenario (APPOINTMENT_SCENARIOS)
    ("pat-08", "Tomasz", "Ellingboe", "male", "1986-08-14", "219 Bramblewood Drive", "627046612",
     (("F43.10", "Post-traumatic stress disorder, unspecified"),)),
    ("pat-09", "Adaeze", "Kowalczyk-Reyes", "female", "1977-01-28", "1640 Timber Ridge Road", "627129051",
     (("F33.1", "Major depressive disorder, recurrent, moderate"),)),
    ("pat-10", "Bernard", "Oyelowo-Strand", "male", "1969-05-06", "7 Foxglove Circle", "627043390",
     (("F41.1", "Generalized anxiety disorder"),)),
    ("pat-11", "Liesel", "Marangoni", "female", "1995-10-19", "402 Chatham Road Apt 12", "627042207",
     (("F31.81", "Bipolar II disorder"),)),
    ("pat-12", "Keanu", "Abernathy-Sol", "male", "1990-12-01", "58 Old Jacksonville Road", "627113345",
     (("F41.1", "Generalized anxiety disorder"),)),
)


def _patients_and_conditions(today: dt.date) -> list[dict]:
    out = []
    for rid, given, family, gender, birth, street, zip9, conditions in _PATIENTS:
        out.append({
            "resourceType": "Patient", "id": rid, "active": True,
            "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "MR"}]}, "system": MRN_SYSTEM,
                            "value": f"RB{rid[-2:]}0{len(family)}"}],
            "name": [{"use": "official", "family": family, "given": [given]}],
            "gender": gender, "birthDate": birth,
            "telecom": [{"system": "phone", "value": f"21755501{rid[-2:]}", "use": "home"}],
            "address": [{"use": "home", "line": [street], "city": "Springfield", "state": "IL",
                         "postalCode": zip9, "country": "US"}],
        })
        onset = (today - dt.timedelta(days=120)).isoformat()
        for code, display in conditions:
            out.append({
                "resourceType": "Condition", "id": f"cond-{rid[-2:]}-{code.replace('.', '').lower()}",
                "clinicalStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                "verificationStatus": {"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                "category": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                    "code": "encounter-diagnosis"}]}],
                "code": {"coding": [{"system": ICD10CM, "code": code, "display": display}], "text": display},
                "subject": _ref("Patient", rid),
                "onsetDateTime": onset,
            })
    out.append({
        "resourceType": "RelatedPerson", "id": "rp-04-mother", "active": True,
        "patient": _ref("Patient", "pat-04"),
        "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                      "code": "MTH", "display": "mother"}]}],
        "name": [{"use": "official", "family": "Aldana-Fitch", "given": ["Rosalind"]}],
        "gender": "female", "birthDate": "1984-06-21",
        "address": [{"use": "home", "line": ["72 Meadowlark Court"], "city": "Springfield", "state": "IL",
                     "postalCode": "627077310", "country": "US"}],
    })
    return out


def _coverages(today: dt.date) -> list[dict]:
    start = dt.date(today.year - 1, 1, 1).isoformat()

    def coverage(rid, patient, payer, filing, member_id, relationship="self", subscriber=None, order=1,
                 status="active", period=None):
        return {
            "resourceType": "Coverage", "id": rid, "status": status,
            "identifier": [{"type": {"coding": [{"system": V2_0203, "code": "MB"}]}, "value": member_id}],
            "type": {"coding": [{"system": CLAIM_FILING_INDICATOR, "code": filing}]},
            "subscriber": subscriber or _ref("Patient", patient),
            "subscriberId": member_id,
            "beneficiary": _ref("Patient", patient),
            "relationship": {"coding": [{"system": SUBSCRIBER_RELATIONSHIP, "code": relationship}]},
            "period": period or {"start": start},
            "payor": [_ref("Organization", payer)],
            "order": order,
        }

    return [
        coverage("cov-01", "pat-01", "payer-lakeshore", "CI", "LKH40917723"),
        coverage("cov-01-old", "pat-01", "payer-oldplan", "CI", "OMB5512001", status="cancelled",
                 period={"start": dt.date(today.year - 3, 1, 1).isoformat(),
                         "end": dt.date(today.year - 2, 12, 31).isoformat()}),
        coverage("cov-02", "pat-02", "payer-prairie-medicaid", "MC", "IL8830271945"),
        coverage("cov-03", "pat-03", "payer-lakeshore", "CI", "LKH40388105"),
        coverage("cov-04", "pat-04", "payer-lakeshore", "CI", "LKH40612290", relationship="child",
                 subscriber=_ref("RelatedPerson", "rp-04-mother")),
        coverage("cov-05", "pat-05", "payer-lakeshore", "CI", "LKH40777361", order=1),
        coverage("cov-05-mcd", "pat-05", "payer-prairie-medicaid", "MC", "IL8830199020", order=2),
        coverage("cov-07", "pat-07", "payer-lakeshore", "CI", "LKH40388105", relationship="spouse",
                 subscriber=_ref("Patient", "pat-03")),
        # APPOINTMENT_SCENARIOS: active in the EHR; the (sandbox) payer's 271 tells the member id's story
        coverage("cov-08", "pat-08", "payer-lakeshore", "CI", "LKH4081INACTIVE"),
        coverage("cov-09", "pat-09", "payer-lakeshore", "CI", "LKH4082CARVEOUT"),
        coverage("cov-10", "pat-10", "payer-lakeshore", "CI", "LKH4083NOVISITS"),
        coverage("cov-11", "pat-11", "payer-prairie-medicaid", "MC", "IL8830AUTH"),
        coverage("cov-12", "pat-12", "payer-lakeshore", "CI", "LKH4085HIGHDED"),
        # pat-12's plan before this one: ended last year, so not in any appointment bundle
        coverage("cov-12-old", "pat-12", "payer-prairie-medicaid", "MC", "IL8830162233", order=1,
                 period={"start": dt.date(today.year - 3, 1, 1).isoformat(),
                         "end": dt.date(today.year - 1, 6, 30).isoformat()}),
    ]


# CPT code → display, and the local/SNOMED codes used for MAPPED_CODE_ENCOUNTERS
_CPT_DISPLAY = {
    "90791": "Psychiatric diagnostic evaluation",
    "90832": "Psychotherapy, 30 minutes",
    "90833": "Psychotherapy, 30 minutes, with an E/M service",
    "90834": "Psychotherapy, 45 minutes",
    "90837": "Psychotherapy, 60 minutes",
    "90847": "Family psychotherapy with patient",
    "90853": "Group psychotherapy",
    "96127": "Brief emotional/behavioral assessment",
}

# id, patient, rendering, supervisor, class, code, minutes, days ago, start "HH:MM", location, diagnoses
_ENCOUNTERS = (
    ("enc-001", "pat-01", "prac-psychologist", None, "AMB", "90791", 60, 29, "09:00", "loc-main", ("f411",)),
    ("enc-002", "pat-01", "prac-psychologist", None, "AMB", "90837", 55, 22, "09:00", "loc-main", ("f411",)),
    ("enc-003", "pat-01", "prac-psychologist", None, "VR", "90837", 57, 15, "09:00", "loc-main", ("f411",)),
    ("enc-004", "pat-01", "prac-psychologist", None, "VR", "90834", 45, 8, "09:00", "loc-main", ("f411",)),
    ("enc-005", "pat-01", "prac-psychologist", None, "AMB", "90834", 48, 1, "09:00", "loc-main", ("f411",)),
    ("enc-006", "pat-02", "prac-lcsw", None, "AMB", "90791", 65, 28, "10:00", "loc-main", ("f321",)),
    ("enc-007", "pat-02", "prac-lcsw", None, "AMB", "90834", 45, 21, "10:00", "loc-main", ("f321",)),
    ("enc-008", "pat-02", "prac-lcsw", None, "VR", "90834", 50, 14, "10:00", "loc-main", ("f321",)),
    ("enc-009", "pat-02", "prac-lcsw", None, "VR", "90832", 30, 7, "10:00", "loc-main", ("f321",)),
    ("enc-010", "pat-02", "prac-lcsw", None, "AMB", "90853", 90, 3, "17:30", "loc-main", ("f321",)),
    ("enc-011", "pat-03", "prac-associate", "prac-lpc", "AMB", "90791", 60, 27, "13:00", "loc-main",
     ("f4323",)),
    ("enc-012", "pat-03", "prac-associate", "prac-lpc", "AMB", "90834", 45, 20, "13:00", "loc-annex",
     ("f4323",)),
    ("enc-013", "pat-03", "prac-associate", "prac-lpc", "VR", "90832", 28, 13, "13:00", "loc-main",
     ("f4323",)),
    ("enc-014", "pat-03", "prac-associate", "prac-lpc", "AMB", "90834", 42, 6, "13:00", "loc-annex",
     ("f4323",)),
    ("enc-015", "pat-04", "prac-mft", None, "AMB", "90791", 60, 26, "15:30", "loc-main", ("f900", "z62820")),
    ("enc-016", "pat-04", "prac-mft", None, "AMB", "90847", 50, 19, "15:30", "loc-main", ("f900", "z62820")),
    ("enc-017", "pat-04", "prac-mft", None, "VR", "90847", 55, 12, "15:30", "loc-main", ("f900", "z62820")),
    ("enc-018", "pat-04", "prac-mft", None, "AMB", "90832", 30, 5, "15:30", "loc-main", ("f900",)),
    ("enc-019", "pat-05", "prac-lcsw", None, "VR", "90837", 60, 25, "14:00", "loc-main", ("f331", "f411")),
    ("enc-020", "pat-05", "prac-lcsw", None, "AMB", "90837", 55, 18, "14:00", "loc-main", ("f331", "f411")),
    ("enc-021", "pat-05", "prac-lcsw", None, "AMB", "90853", 90, 3, "17:30", "loc-main", ("f331",)),
    ("enc-022", "pat-07", "prac-psychologist", None, "AMB", "90791", 60, 24, "11:00", "loc-main",
     ("f411", "z630")),
    ("enc-023", "pat-07", "prac-psychologist", None, "VR", "90834", 45, 17, "11:00", "loc-main", ("f411",)),
    ("enc-024", "pat-07", "prac-psychologist", None, "VR", "90834", 40, 10, "11:00", "loc-main", ("f411",)),
    ("enc-025", "pat-07", "prac-psychologist", None, "AMB", "90837", 58, 4, "11:00", "loc-main",
     ("f411", "z630")),
    ("enc-026", "pat-06", "prac-lpc", None, "AMB", "90834", 45, 9, "16:00", "loc-main", ("f411",)),
    ("enc-027", "pat-01", "prac-psychologist", None, "AMB", None, 15, 2, "12:00", "loc-main", ("f411",)),
    # SCRUB_HELD_ENCOUNTERS: they build, the scrubber holds them
    ("enc-028", "pat-01", "prac-psychologist", None, "AMB", "90837", 41, 11, "09:00", "loc-main", ("f411",)),
    ("enc-029", "pat-05", "prac-lcsw", None, "AMB", "90834", 45, 11, "14:00", "loc-main", ("f331",)),
    ("enc-030", "pat-03", "prac-associate", "prac-lpc", "AMB", "90834", 45, 9, "13:00", "loc-main", ("f41",)),
    ("enc-031", "pat-07", "prac-psychologist", None, "AMB", "90833", 30, 7, "11:00", "loc-main", ("f411",)),
)

# encounter id → the codings its Encounter.type carries instead of a CPT coding
_NON_CPT_TYPES = {
    "enc-019": [{"system": SNOMED, "code": "75516001", "display": "Psychotherapy"},
                {"system": LOCAL_SERVICE_SYSTEM, "code": "IND60", "display": "Individual therapy 60"}],
    "enc-022": [{"system": SNOMED, "code": "90407005", "display": "Evaluation of psychiatric state of patient"},
                {"system": LOCAL_SERVICE_SYSTEM, "code": "INTAKE", "display": "Intake assessment"}],
    "enc-023": [{"system": SNOMED, "code": "75516001", "display": "Psychotherapy"},
                {"system": LOCAL_SERVICE_SYSTEM, "code": "IND45", "display": "Individual therapy 45"}],
    "enc-027": [{"system": SNOMED, "code": "409063005", "display": "Counseling"},
                {"system": LOCAL_SERVICE_SYSTEM, "code": "ADMIN15", "display": "Care coordination call"}],
}
_WITH_LENGTH = {"enc-001", "enc-003", "enc-006", "enc-010", "enc-013", "enc-016", "enc-019", "enc-021",
                "enc-024"}


def _encounters(today: dt.date) -> list[dict]:
    out = []
    for rid, patient, rendering, supervisor, klass, cpt, minutes, days_ago, start, location, dx in _ENCOUNTERS:
        day = today - dt.timedelta(days=days_ago)
        hour, minute = map(int, start.split(":"))
        begin = dt.datetime(day.year, day.month, day.day, hour, minute)
        end = begin + dt.timedelta(minutes=minutes)
        if rid in _NON_CPT_TYPES:
            type_ = {"coding": copy.deepcopy(_NON_CPT_TYPES[rid])}
        else:
            type_ = {"coding": [{"system": CPT, "code": cpt, "display": _CPT_DISPLAY[cpt]}]}
        if rid == "enc-010":  # group therapy for a Medicaid member: the state wants HQ
            type_["extension"] = [{"url": EXT_MODIFIER, "valueString": "HQ"}]
        if rid == "enc-029":  # an in-person session coded from a telehealth template
            type_["extension"] = [{"url": EXT_MODIFIER, "valueString": "95"}]
        participants = [{
            "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "PPRF",
                                  "display": "primary performer"}]}],
            "individual": _ref("Practitioner", rendering),
        }]
        if supervisor:
            participants.append({
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "SPRF",
                                      "display": "secondary performer"}]}],
                "individual": _ref("Practitioner", supervisor),
            })
        encounter: dict[str, Any] = {
            "resourceType": "Encounter", "id": rid,
            "identifier": [{"system": ENCOUNTER_ID_SYSTEM, "value": f"V{rid[-3:]}"}],
            "status": "finished",
            "class": {"system": ACT_CODE, "code": klass,
                      "display": "ambulatory" if klass == "AMB" else "virtual"},
            "type": [type_],
            "subject": _ref("Patient", patient),
            "participant": participants,
            "period": {"start": begin.isoformat() + _TZ, "end": end.isoformat() + _TZ},
            "diagnosis": [{"condition": _ref("Condition", f"cond-{patient[-2:]}-{code}"), "rank": rank,
                           "use": {"coding": [{
                               "system": "http://terminology.hl7.org/CodeSystem/diagnosis-role",
                               "code": "billing"}]}}
                          for rank, code in enumerate(dx, start=1)],
            "location": [{"location": _ref("Location", location)}],
            "serviceProvider": _ref("Organization", PRACTICE_ID),
        }
        if rid in _WITH_LENGTH:
            encounter["length"] = {"value": minutes, "unit": "min", "system": "http://unitsofmeasure.org",
                                   "code": "min"}
        if rid == "enc-008":
            encounter["identifier"].append({"system": PRIOR_AUTH_SYSTEM, "value": "PA26-0048812"})
        out.append(encounter)
    return out


def _charge_items_and_procedures(today: dt.date) -> list[dict]:
    def charge(rid, encounter, patient, code, quantity, price=None):
        item = {
            "resourceType": "ChargeItem", "id": rid, "status": "billable",
            "code": {"coding": [{"system": CPT, "code": code, "display": _CPT_DISPLAY[code]}]},
            "subject": _ref("Patient", patient),
            "context": _ref("Encounter", encounter),
            "quantity": {"value": quantity},
        }
        if price is not None:
            # a float keeps the resources JSON-serialisable; the builder reads it through str() exactly
            item["priceOverride"] = {"value": float(price), "currency": "USD"}
        return item

    day = (today - dt.timedelta(days=8)).isoformat()
    return [
        charge("chg-007-1", "enc-007", "pat-02", "90834", 1),
        charge("chg-007-2", "enc-007", "pat-02", "96127", 2),
        charge("chg-021-1", "enc-021", "pat-05", "90853", 1, "45.00"),
        {
            "resourceType": "Procedure", "id": "proc-004", "status": "completed",
            "code": {"coding": [{"system": CPT, "code": "90834", "display": _CPT_DISPLAY["90834"]}]},
            "subject": _ref("Patient", "pat-01"),
            "encounter": _ref("Encounter", "enc-004"),
            "performedDateTime": day,
        },
    ]


#: upcoming appointment → the eligibility scenario it shows (the member id suffix the sandbox payer answers by:
#: plugins/clearinghouse_sftp/member_scenarios.py); ids absent here are plain active coverage
APPOINTMENT_SCENARIOS = {
    "appt-03": "dependent: a child on her mother's plan (RelatedPerson subscriber)",
    "appt-04": "two coverages: commercial primary, Medicaid secondary",
    "appt-05": "a spouse on her husband's plan (Patient subscriber)",
    "appt-06": "no coverage on file",
    "appt-07": "INACTIVE: coverage lapsed at the payer",
    "appt-08": "CARVEOUT: mental health carved out to a behavioral health plan",
    "appt-09": "NOVISITS: mental health visits exhausted",
    "appt-10": "AUTH: prior authorization required",
    "appt-11": "HIGHDED: high deductible left to meet",
    "appt-12": "cancelled: still read, so it replaces the booked record; not checked",
}

# id, patient, practitioner, location (None: telehealth), CPT, status, days from today, start "HH:MM", minutes
_APPOINTMENTS = (
    ("appt-00", "pat-01", "prac-psychologist", "loc-main", "90834", "fulfilled", -1, "09:00", 45),
    ("appt-01", "pat-01", "prac-psychologist", "loc-main", "90834", "booked", 0, "09:00", 45),
    ("appt-02", "pat-02", "prac-lcsw", None, "90834", "booked", 1, "10:00", 45),
    ("appt-03", "pat-04", "prac-mft", "loc-main", "90847", "booked", 1, "15:30", 50),
    ("appt-04", "pat-05", "prac-lcsw", "loc-main", "90837", "booked", 2, "14:00", 60),
    ("appt-05", "pat-07", "prac-psychologist", None, "90834", "booked", 3, "11:00", 45),
    ("appt-06", "pat-06", "prac-lpc", "loc-main", "90834", "booked", 3, "16:00", 45),
    ("appt-07", "pat-08", "prac-lpc", "loc-main", "90791", "booked", 0, "13:00", 60),
    ("appt-08", "pat-09", "prac-psychologist", "loc-main", "90837", "booked", 1, "08:00", 60),
    ("appt-09", "pat-10", "prac-lcsw", None, "90834", "pending", 2, "09:00", 45),
    ("appt-10", "pat-11", "prac-lcsw", "loc-annex", "90837", "booked", 2, "16:00", 60),
    ("appt-11", "pat-12", "prac-mft", "loc-main", "90834", "booked", 3, "13:30", 45),
    ("appt-12", "pat-03", "prac-associate", "loc-annex", "90834", "cancelled", 1, "13:00", 45),
    ("appt-13", "pat-02", "prac-lcsw", "loc-main", "90834", "booked", 4, "10:00", 45),
)


def _appointments(today: dt.date) -> list[dict]:
    """Appointments from yesterday to four days ahead: ``appt-00`` (yesterday) and ``appt-13`` (day 4) fall
    outside the default window of the ``appointments`` stream (today through 3 days ahead)."""
    out = []
    for rid, patient, practitioner, location, cpt, status, days, start, minutes in _APPOINTMENTS:
        day = today + dt.timedelta(days=days)
        hour, minute = map(int, start.split(":"))
        begin = dt.datetime(day.year, day.month, day.day, hour, minute)
        participants = [
            {"actor": _ref("Patient", patient), "required": "required", "status": "accepted"},
            {"type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "PPRF"}]}],
             "actor": _ref("Practitioner", practitioner), "required": "required", "status": "accepted"},
        ]
        if location:
            participants.append({"actor": _ref("Location", location), "required": "required",
                                 "status": "accepted"})
        appointment: dict[str, Any] = {
            "resourceType": "Appointment", "id": rid, "status": status,
            "serviceType": [{"coding": [{"system": CPT, "code": cpt, "display": _CPT_DISPLAY[cpt]}]}],
            "appointmentType": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0276",
                "code": "ROUTINE" if cpt != "90791" else "CHECKUP"}]},
            "start": begin.isoformat() + _TZ,
            "end": (begin + dt.timedelta(minutes=minutes)).isoformat() + _TZ,
            "minutesDuration": minutes,
            "participant": participants,
        }
        if location is None:
            appointment["comment"] = "Video visit"
        if status == "cancelled":
            appointment["cancelationReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason", "code": "pat"}]}
        out.append(appointment)
    return out


def demo_resources(today: dt.date) -> list[dict]:
    """Every resource of the demo practice, as JSON-serialisable FHIR R4 dicts.

    Encounters fall in the 30 days before ``today``, appointments from yesterday to four days ahead; the result
    depends on nothing else.
    """
    return [
        *_organizations(),
        *_locations(),
        *_clinicians(),
        *_patients_and_conditions(today),
        *_coverages(today),
        *_encounters(today),
        *_charge_items_and_procedures(today),
        *_appointments(today),
    ]


# ---------------------------------------------------------------------------------------- encounter bundle

_PROCEDURE_SYSTEMS = (CPT, HCPCS)


def apply_code_map(concept: dict, code_map: Mapping[str, str]) -> None:
    """Add a CPT coding to ``concept`` (in place) when it has none and one of its codings is in the map."""
    codings = concept.get("coding") or []
    if any(c.get("system") in _PROCEDURE_SYSTEMS for c in codings):
        return
    for coding in codings:
        cpt = code_map.get(f"{coding.get('system')}|{coding.get('code')}")
        if cpt:
            codings.append({"system": CPT, "code": cpt})
            return


def _references(node: Any):
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            yield ref
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def encounter_bundle(resources: list[dict], encounter_id: str, *,
                     code_map: Mapping[str, str] | None = None) -> dict:
    """The encounter bundle a FHIR source yields for ``Encounter/<encounter_id>`` (docs/claim-profile.md).

    A ``collection`` Bundle: the Encounter first, then every resource it refers to directly or through an
    included resource, plus the Coverages whose beneficiary is the patient, the PractitionerRoles of its
    practitioners, and the ChargeItems and Procedures of the encounter. ``fullUrl`` is ``<Type>/<id>``.
    ``code_map`` (``<system>|<code>`` → CPT, default :func:`demo_code_map`; ``{}`` for none) adds a CPT coding
    to procedure codes the way a source's code map does. Resources are copied; ``resources`` is not changed.
    A reference to something not in ``resources`` stays in the bundle unresolved.
    """
    code_map = demo_code_map() if code_map is None else code_map
    index = {f"{r['resourceType']}/{r['id']}": r for r in resources}
    key = f"Encounter/{encounter_id}"
    if key not in index:
        raise KeyError(f"no {key} in the resources")
    encounter = index[key]
    patient = encounter.get("subject", {}).get("reference")
    practitioners = {p["individual"]["reference"] for p in encounter.get("participant", []) if "individual" in p}

    reverse = []
    for r in resources:
        kind = r["resourceType"]
        if (kind == "Coverage" and r.get("beneficiary", {}).get("reference") == patient
                or kind == "PractitionerRole" and r.get("practitioner", {}).get("reference") in practitioners
                or kind == "ChargeItem" and r.get("context", {}).get("reference") == key
                or kind == "Procedure" and r.get("encounter", {}).get("reference") == key):
            reverse.append(f"{kind}/{r['id']}")

    ordered = [key]
    seen = {key}
    queue = [key]
    pending_reverse = list(reverse)
    while queue or pending_reverse:
        if not queue:
            ref = pending_reverse.pop(0)
            if ref in seen:
                continue
            seen.add(ref)
            ordered.append(ref)
            queue.append(ref)
            continue
        for ref in _references(index[queue.pop(0)]):
            # other encounters (e.g. a Condition's) are not part of this encounter's bundle
            if ref in seen or ref not in index or ref.startswith("Encounter/"):
                continue
            seen.add(ref)
            ordered.append(ref)
            queue.append(ref)

    entries = []
    for ref in ordered:
        resource = copy.deepcopy(index[ref])
        if resource["resourceType"] == "Encounter":
            for concept in resource.get("type", []):
                apply_code_map(concept, code_map)
        elif resource["resourceType"] in ("ChargeItem", "Procedure") and "code" in resource:
            apply_code_map(resource["code"], code_map)
        entries.append({"fullUrl": ref, "resource": resource})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
