"""Entry point of the ``ehr_fhir`` plugin: the ``fhir`` (REST) and ``fhir_bulk`` (Bulk Data ndjson) sources."""

from __future__ import annotations

from collections.abc import Callable

import claimbridge

from .bulk import FhirBulkSource
from .source import FhirSource


@claimbridge.hookimpl
def register_sources(register: Callable[[type[claimbridge.EhrSource]], None]) -> None:
    register(FhirSource)
    register(FhirBulkSource)
