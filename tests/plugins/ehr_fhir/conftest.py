"""Fixtures of the ehr_fhir tests: the FHIR servers (Medplum, the sandbox) and the Bulk Data sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.fhir_server import *  # noqa: F403 - pytest finds fixtures by name

BULK_SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "corpus" / "fhir" / \
    "smart-on-fhir__sample-bulk-fhir-datasets"


@pytest.fixture(scope="session")
def bulk_sample() -> Path:
    """The SMART sample Bulk Data export (Synthea, conditional references); skip when the corpus is absent."""
    if not (BULK_SAMPLE / "Encounter.000.ndjson").is_file():
        pytest.skip(f"Bulk Data sample not found at {BULK_SAMPLE}")
    return BULK_SAMPLE
