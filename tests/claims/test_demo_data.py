"""The demo data set: synthetic, deterministic, billable where it should be and held where it should not."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pytest
from fhir.resources.R4B import get_fhir_model_class

from claimbridge.claims import systems
from claimbridge.plugins.ehr_fhir import demo_data

from .conftest import TODAY

PSYCHOTHERAPY_BANDS = {"90832": (16, 37), "90834": (38, 52), "90837": (53, 10_000), "90847": (26, 10_000)}


def npi_is_valid(npi: str) -> bool:
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return len(npi) == 10 and total % 10 == 0


def by_type(resources, kind):
    return [r for r in resources if r["resourceType"] == kind]


def minutes(encounter) -> int:
    start = dt.datetime.fromisoformat(encounter["period"]["start"])
    end = dt.datetime.fromisoformat(encounter["period"]["end"])
    return int((end - start).total_seconds() // 60)


def cpt(concept, code_map):
    for coding in concept["coding"]:
        if coding["system"] == systems.CPT:
            return coding["code"]
    for coding in concept["coding"]:
        mapped = code_map.get(f"{coding['system']}|{coding['code']}")
        if mapped:
            return mapped
    return None


def test_npi_check_helper_agrees_with_domain_notes():
    assert npi_is_valid("1234567893") and not npi_is_valid("1234567890")


def test_deterministic_and_json_serialisable(resources):
    assert demo_data.demo_resources(TODAY) == resources
    assert json.loads(json.dumps(resources)) == resources
    keys = [f"{r['resourceType']}/{r['id']}" for r in resources]
    assert len(keys) == len(set(keys))


def test_every_resource_is_valid_r4(resources):
    for r in resources:
        get_fhir_model_class(r["resourceType"]).model_validate(r)


def test_identifiers_look_real_but_are_check_digit_valid(resources):
    npis = [i["value"] for r in resources for i in r.get("identifier", []) if i.get("system") == systems.NPI]
    assert len(npis) >= 6 and all(npi_is_valid(n) for n in npis), npis
    practice = next(r for r in by_type(resources, "Organization") if r["id"] == demo_data.PRACTICE_ID)
    tins = [i["value"] for i in practice["identifier"] if i.get("system") == systems.TIN]
    assert tins and len(tins[0]) == 9 and tins[0].isdigit()
    assert len(practice["address"][0]["postalCode"]) == 9
    for patient in by_type(resources, "Patient"):
        assert patient["birthDate"] and patient["gender"] and len(patient["address"][0]["postalCode"]) == 9


def test_cast_of_the_practice(resources):
    counts = Counter(r["resourceType"] for r in resources)
    assert counts["Practitioner"] >= 3 and counts["PractitionerRole"] >= 3 and counts["Patient"] >= 5
    payers = [o for o in by_type(resources, "Organization")
              if any(c["code"] == "NIIP" for i in o.get("identifier", []) for c in i.get("type", {}).get("coding", []))]
    assert {p["id"] for p in payers} >= {"payer-lakeshore", "payer-prairie-medicaid"}
    for role in by_type(resources, "PractitionerRole"):
        assert role["specialty"][0]["coding"][0]["system"] == systems.NUCC
    pos = {c["code"] for loc in by_type(resources, "Location") for t in loc["type"] for c in t["coding"]
           if c["system"] == systems.POS}
    assert pos == {"11"}
    child_cov = next(c for c in by_type(resources, "Coverage") if c["id"] == "cov-04")
    assert child_cov["relationship"]["coding"][0]["code"] == "child"
    assert child_cov["subscriber"]["reference"].startswith("RelatedPerson/")
    icd = {c["code"]["coding"][0]["code"] for c in by_type(resources, "Condition")}
    assert icd >= {"F41.1", "F32.1", "F43.23", "F90.0", "Z63.0"}
    insured = {c["beneficiary"]["reference"] for c in by_type(resources, "Coverage")}
    assert "Patient/pat-06" not in insured


def test_encounters(resources):
    encounters = by_type(resources, "Encounter")
    assert len(encounters) >= 27
    code_map = demo_data.demo_code_map()
    codes = Counter()
    for enc in encounters:
        assert enc["status"] == "finished"
        start = dt.datetime.fromisoformat(enc["period"]["start"]).date()
        assert TODAY - dt.timedelta(days=31) <= start < TODAY
        if "length" in enc:
            assert enc["length"]["value"] == minutes(enc)
        code = cpt(enc["type"][0], code_map)
        codes[code] += 1
        if code in PSYCHOTHERAPY_BANDS and enc["id"] not in demo_data.SCRUB_HELD_ENCOUNTERS:
            low, high = PSYCHOTHERAPY_BANDS[code]
            assert low <= minutes(enc) <= high, enc["id"]
        performers = [c["code"] for p in enc["participant"] for t in p["type"] for c in t["coding"]]
        assert performers[0] == "PPRF"
        assert enc["serviceProvider"]["reference"] == f"Organization/{demo_data.PRACTICE_ID}"
    assert {"90791", "90832", "90834", "90837", "90847", "90853"} <= set(codes)
    assert codes[None] == 1  # enc-027
    assert {e["class"]["code"] for e in encounters} == {"AMB", "VR"}
    assert any("SPRF" in json.dumps(e["participant"]) for e in encounters)
    assert any(systems.PRIOR_AUTH_SYSTEM in json.dumps(e["identifier"]) for e in encounters)
    assert sum("length" in e for e in encounters) >= 5


def test_mapped_encounters_carry_no_cpt(resources):
    for enc in by_type(resources, "Encounter"):
        has_cpt = any(c["system"] == systems.CPT for c in enc["type"][0]["coding"])
        assert has_cpt == (enc["id"] not in (*demo_data.MAPPED_CODE_ENCOUNTERS, "enc-027")), enc["id"]


def test_different_today_moves_the_dates():
    later = demo_data.demo_resources(TODAY + dt.timedelta(days=40))
    enc = next(r for r in later if r["id"] == "enc-001")
    assert enc["period"]["start"].startswith((TODAY + dt.timedelta(days=40 - 29)).isoformat())


@pytest.mark.parametrize("encounter_id", ["enc-001", "enc-007", "enc-011", "enc-015", "enc-022", "enc-026"])
def test_encounter_bundle_shape(resources, encounter_id):
    bundle = demo_data.encounter_bundle(resources, encounter_id)
    get_fhir_model_class("Bundle").model_validate(bundle)
    assert bundle["type"] == "collection"
    first = bundle["entry"][0]
    assert first["fullUrl"] == f"Encounter/{encounter_id}" and first["resource"]["resourceType"] == "Encounter"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    assert all(u == f"{e['resource']['resourceType']}/{e['resource']['id']}" for u, e in zip(urls, bundle["entry"],
                                                                                          strict=True))
    assert sum(u.startswith("Encounter/") for u in urls) == 1
    # every literal reference inside the bundle resolves inside it
    refs = {m for e in bundle["entry"] for m in _refs(e["resource"])}
    assert {r for r in refs if not r.startswith("Encounter/")} <= set(urls)
    encounter = first["resource"]
    patient = encounter["subject"]["reference"]
    coverages = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage"]
    assert all(c["beneficiary"]["reference"] == patient for c in coverages)
    assert (encounter_id == "enc-026") == (not coverages)
    assert any(u.startswith("PractitionerRole/") for u in urls)


def test_encounter_bundle_applies_the_code_map_and_leaves_resources_alone(resources):
    before = json.dumps(resources)
    mapped = demo_data.encounter_bundle(resources, "enc-019")
    raw = demo_data.encounter_bundle(resources, "enc-019", code_map={})
    assert {"system": systems.CPT, "code": "90837"} in mapped["entry"][0]["resource"]["type"][0]["coding"]
    assert all(c["system"] != systems.CPT for c in raw["entry"][0]["resource"]["type"][0]["coding"])
    assert json.dumps(resources) == before
    with pytest.raises(KeyError):
        demo_data.encounter_bundle(resources, "enc-999")


def test_code_map_and_fees_cover_what_the_demo_bills(resources):
    fees = demo_data.demo_fee_schedule()
    code_map = demo_data.demo_code_map()
    assert all(v in fees for v in code_map.values())
    for enc in by_type(resources, "Encounter"):
        code = cpt(enc["type"][0], code_map)
        assert code is None or code in fees


def _refs(node):
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)
