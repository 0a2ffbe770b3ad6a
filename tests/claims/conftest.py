"""Fixtures for the claim builder: the demo practice's resources, settings and a one-call builder."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from claimbridge.claims.build import build_claim
from claimbridge.claims.identifiers import make_pcn
from claimbridge.config import ClaimSettings, PayerSettings, PracticeSettings
from claimbridge.plugins.ehr_fhir import demo_data

TODAY = dt.date(2026, 11, 27)
CLEAN_IDS = [f"enc-{n:03d}" for n in range(1, 26)]


@pytest.fixture(scope="session")
def resources() -> list[dict]:
    return demo_data.demo_resources(TODAY)


@pytest.fixture(scope="session")
def claim_settings() -> ClaimSettings:
    return ClaimSettings(fee_schedule=demo_data.demo_fee_schedule(),
                         payers={k: PayerSettings(**v) for k, v in demo_data.demo_payer_settings().items()})


@pytest.fixture(scope="session")
def practice() -> PracticeSettings:
    return PracticeSettings(**demo_data.demo_practice_settings())


@pytest.fixture
def bundle_of(resources):
    """``bundle_of("enc-001")``: a fresh encounter bundle the test may change."""
    def make(encounter_id: str, **kwargs) -> dict:
        return demo_data.encounter_bundle(copy.deepcopy(resources), encounter_id, **kwargs)
    return make


@pytest.fixture
def build(claim_settings, practice):
    """``build(bundle, **overrides)``: build_claim with the demo settings."""
    def run(bundle: dict, **overrides) -> dict:
        kwargs = dict(source="demo", pcn=make_pcn("CB", 41, 1), version=1, claim_settings=claim_settings,
                      practice=practice, created=TODAY)
        kwargs.update(overrides)
        return build_claim(bundle, **kwargs)
    return run


def resource(bundle: dict, reference: str) -> dict:
    """The resource ``Type/id`` in ``bundle`` (to change it in a test)."""
    for entry in bundle["entry"]:
        if entry["fullUrl"] == reference:
            return entry["resource"]
    raise KeyError(reference)


def drop(bundle: dict, reference: str) -> None:
    bundle["entry"] = [e for e in bundle["entry"] if e["fullUrl"] != reference]


def contained(claim: dict, local_id: str) -> dict | None:
    return next((r for r in claim["contained"] if r["id"] == local_id), None)
