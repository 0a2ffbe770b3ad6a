"""Claims for scrubber tests, built from the demo practice (plugins/ehr_fhir/demo_data.py).

Import the helpers (``from .conftest import demo_claim, facts_of, run_rule``) or use the fixtures of the same
names. Every helper returns a fresh copy: a test may change what it gets.

* :func:`demo_claim` ``(encounter_id="enc-002", *, edit=None, **overrides)`` — the Claim ``build_claim`` makes
  for a demo encounter (as a dict with Decimal money). ``edit`` is called with the encounter bundle before the
  build (to change the EHR data); ``overrides`` go to ``build_claim`` (``frequency``, ``payer_claim_number``,
  ``created``, ``pcn`` …).
* :func:`facts_of` ``(claim)`` — :class:`ClaimFacts` of a claim.
* :func:`run_rule` ``(rule_cls, claim_or_facts, profile=None, context=None, **profile_fields)`` — the findings
  of one rule (a list), with the ``default`` profile (or a ``test`` profile with ``profile_fields``) and a
  context whose ``today`` is :data:`TODAY`.
* :func:`profile` ``(**fields)`` — a PayerProfile named ``test``; :func:`context` ``(**fields)`` — a
  ScrubContext for :data:`TODAY`.
* Claim editing: :func:`item`, :func:`set_code`, :func:`set_modifiers`, :func:`set_minutes`, :func:`set_pos`,
  :func:`set_units`, :func:`set_class`, :func:`contained`, :func:`add_line`, :func:`set_payer_id`.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from claimbridge.claims import systems
from claimbridge.claims.build import build_claim
from claimbridge.claims.identifiers import make_pcn
from claimbridge.claims.scrub.base import ClaimFacts, Finding, ScrubContext, ScrubRule
from claimbridge.claims.scrub.profiles import PayerProfile
from claimbridge.config import ClaimSettings, PayerSettings, PracticeSettings
from claimbridge.plugins.ehr_fhir import demo_data

TODAY = dt.date(2026, 11, 27)
#: demo encounters that build into claims (enc-026 and enc-027 fail to build)
CLEAN_IDS = tuple(f"enc-{n:03d}" for n in range(1, 26))


@cache
def _resources() -> tuple[dict, ...]:
    return tuple(demo_data.demo_resources(TODAY))


@cache
def _settings() -> tuple[ClaimSettings, PracticeSettings]:
    claim_settings = ClaimSettings(fee_schedule=demo_data.demo_fee_schedule(),
                                   payers={k: PayerSettings(**v) for k, v in demo_data.demo_payer_settings().items()})
    return claim_settings, PracticeSettings(**demo_data.demo_practice_settings())


def demo_bundle(encounter_id: str = "enc-002") -> dict:
    """A fresh encounter bundle of the demo practice."""
    return demo_data.encounter_bundle(copy.deepcopy(list(_resources())), encounter_id)


_BUILT: dict[tuple, dict] = {}


def demo_claim(encounter_id: str = "enc-002", *, edit: Callable[[dict], Any] | None = None, **overrides) -> dict:
    """A fresh Claim built from a demo encounter (see the module docstring)."""
    key = (encounter_id, tuple(sorted((k, repr(v)) for k, v in overrides.items())))
    if edit is None and key in _BUILT:
        return copy.deepcopy(_BUILT[key])
    bundle = demo_bundle(encounter_id)
    if edit is not None:
        edit(bundle)
    claim_settings, practice = _settings()
    kwargs: dict[str, Any] = dict(source="demo", pcn=make_pcn("CB", int(encounter_id[-3:]), 1), version=1,
                                  claim_settings=claim_settings, practice=practice, created=TODAY)
    kwargs.update(overrides)
    claim = build_claim(bundle, **kwargs)
    if edit is None:
        _BUILT[key] = copy.deepcopy(claim)
    return claim


def bundle_resource(bundle: dict, reference: str) -> dict:
    """The resource ``Type/id`` in an encounter bundle (for ``edit`` callbacks)."""
    for entry in bundle["entry"]:
        if entry["fullUrl"] == reference:
            return entry["resource"]
    raise KeyError(reference)


def facts_of(claim: dict) -> ClaimFacts:
    from claimbridge.claims.scrub.facts import facts_from_claim

    return facts_from_claim(claim)


def profile(**fields) -> PayerProfile:
    """A payer profile named ``test`` (the model's defaults, changed by ``fields``)."""
    fields.setdefault("name", "test")
    return PayerProfile(**fields)


def default_profile() -> PayerProfile:
    """The shipped ``default`` profile."""
    from claimbridge.claims.scrub.profiles import builtin_profiles

    return builtin_profiles()["default"]


def context(**fields) -> ScrubContext:
    fields.setdefault("today", TODAY)
    return ScrubContext(**fields)


def run_rule(rule_cls: type[ScrubRule], claim_or_facts: dict | ClaimFacts, profile: PayerProfile | None = None,
             context: ScrubContext | None = None, **profile_fields) -> list[Finding]:
    """The findings of one rule on a claim (or its facts)."""
    facts = claim_or_facts if isinstance(claim_or_facts, ClaimFacts) else facts_of(claim_or_facts)
    if profile is None:
        profile = PayerProfile(name="test", **profile_fields) if profile_fields else default_profile()
    if context is None:
        context = ScrubContext(today=TODAY)
    return list(rule_cls().check(facts, profile, context))


def rule_ids(findings) -> list[str]:
    return [f.rule for f in findings]


# ------------------------------------------------------------------------------------------- claim edits


def contained(claim: dict, local_id: str) -> dict | None:
    return next((r for r in claim.get("contained", []) if r.get("id") == local_id), None)


def item(claim: dict, index: int = 0) -> dict:
    return claim["item"][index]


def set_code(claim: dict, index: int, code: str, system: str = systems.CPT) -> dict:
    item(claim, index)["productOrService"] = {"coding": [{"system": system, "code": code}]}
    return claim


def set_modifiers(claim: dict, index: int, *modifiers: str) -> dict:
    if modifiers:
        item(claim, index)["modifier"] = [{"coding": [{"system": systems.CPT, "code": m}]} for m in modifiers]
    else:
        item(claim, index).pop("modifier", None)
    return claim


def set_minutes(claim: dict, index: int, minutes: int | Decimal | None) -> dict:
    it = item(claim, index)
    it["extension"] = [e for e in it.get("extension", []) if e["url"] != systems.EXT_MINUTES]
    if minutes is not None:
        it["extension"].append({"url": systems.EXT_MINUTES, "valueDecimal": Decimal(minutes)})
    return claim


def set_pos(claim: dict, index: int, pos: str) -> dict:
    item(claim, index)["locationCodeableConcept"] = {"coding": [{"system": systems.POS, "code": pos}]}
    return claim


def set_units(claim: dict, index: int, units: int | Decimal) -> dict:
    item(claim, index)["quantity"] = {"value": Decimal(units)}
    return claim


def set_class(claim: dict, code: str) -> dict:
    """Encounter.class of the contained encounter: ``VR`` virtual, ``AMB`` in person."""
    contained(claim, "encounter")["class"] = {"system": systems.ACT_CODE, "code": code}
    return claim


def set_payer_id(claim: dict, payer_id: str) -> dict:
    contained(claim, "payer")["identifier"] = [
        {"type": {"coding": [{"system": systems.V2_0203, "code": "NIIP"}]}, "value": payer_id}]
    return claim


def add_line(claim: dict, code: str, *, charge: str = "100.00", units: int = 1, minutes: int | None = None,
             modifiers: tuple[str, ...] = (), service_date: str | None = None) -> dict:
    """Append a service line like the first one (same date, POS, pointers) and keep ``total`` = Σ net."""
    first = item(claim, 0)
    new = copy.deepcopy(first)
    sequence = len(claim["item"]) + 1
    new["sequence"] = sequence
    new["extension"] = [{"url": systems.EXT_LINE_CONTROL,
                         "valueString": f"{first['extension'][0]['valueString'][:-3]}{sequence:03d}"}]
    claim["item"].append(new)
    set_code(claim, sequence - 1, code)
    set_modifiers(claim, sequence - 1, *modifiers)
    set_minutes(claim, sequence - 1, minutes)
    new["quantity"] = {"value": Decimal(units)}
    new["unitPrice"] = {"value": Decimal(charge), "currency": "USD"}
    new["net"] = {"value": (Decimal(charge) * units).quantize(Decimal("0.01")), "currency": "USD"}
    if service_date:
        new["servicedDate"] = service_date
    claim["total"] = {"value": sum((i["net"]["value"] for i in claim["item"]), Decimal("0.00")), "currency": "USD"}
    return claim


# ------------------------------------------------------------------------------------------- claim files


def claim_bundle(claim: dict, *, style: str = "relative", bundle_type: str = "collection") -> dict:
    """The Claim as a Bundle a tool would send to ``claimbridge scrub``: each contained resource becomes an
    entry and ``#local`` references become ``Type/id`` (``style="relative"``), ``urn:uuid:…`` full URLs
    (``"urn"``) or absolute URLs (``"absolute"``). Returns a new Bundle; ``claim`` is not changed."""
    claim = copy.deepcopy(claim)
    if any(r.get("id") == "facility" for r in claim.get("contained", [])) and "facility" not in claim:
        claim["facility"] = {"reference": "#facility"}  # how a Bundle names the service facility
    contained_resources = claim.pop("contained", [])
    refs = {}
    entries = []
    for n, resource in enumerate(contained_resources):
        rid = f"{resource['id']}-1"
        if style == "urn":
            ref = full_url = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        elif style == "absolute":
            ref = full_url = f"https://ehr.example/fhir/{resource['resourceType']}/{rid}"
        else:
            ref, full_url = f"{resource['resourceType']}/{rid}", f"https://ehr.example/fhir/{resource['resourceType']}/{rid}"
        refs[f"#{resource['id']}"] = ref
        resource["id"] = rid
        entries.append({"fullUrl": full_url, "resource": resource})

    def relink(node):
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str) and node["reference"] in refs:
                node["reference"] = refs[node["reference"]]
            for value in node.values():
                relink(value)
        elif isinstance(node, list):
            for value in node:
                relink(value)

    relink(claim)
    for entry in entries:
        relink(entry["resource"])
    claim["id"] = "claim-1"
    claim_entry = {"fullUrl": "https://ehr.example/fhir/Claim/claim-1", "resource": claim}
    if bundle_type == "transaction":
        for entry in [claim_entry, *entries]:
            entry["request"] = {"method": "POST", "url": entry["resource"]["resourceType"]}
    return {"resourceType": "Bundle", "type": bundle_type, "entry": [claim_entry, *entries]}


def write_json(path, document: dict):
    """Write ``document`` (Decimals as exact numbers) to ``path``; returns the path."""
    from claimbridge.claims.money import claim_to_json

    path.write_text(claim_to_json(document), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(name="demo_claim")
def _demo_claim_fixture():
    return demo_claim


@pytest.fixture(name="facts_of")
def _facts_of_fixture():
    return facts_of


@pytest.fixture(name="run_rule")
def _run_rule_fixture():
    return run_rule
