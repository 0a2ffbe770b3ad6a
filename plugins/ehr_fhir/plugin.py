"""Entry point of the ``ehr_fhir`` plugin: the ``fhir`` (REST) and ``fhir_bulk`` (Bulk Data ndjson) sources, and
the write-back of posted 835 results to ``fhir`` sources that have ``write_back`` on."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import claimbridge

from .bulk import FhirBulkSource
from .source import FhirSource

if TYPE_CHECKING:
    from claimbridge.claims.results import RemittancePosted


@claimbridge.hookimpl
def register_sources(register: Callable[[type[claimbridge.EhrSource]], None]) -> None:
    register(FhirSource)
    register(FhirBulkSource)


@claimbridge.hookimpl
def remittance_posted(remittance: RemittancePosted) -> None:
    from .writeback import write_back  # imported on first use: most runs post no remittance

    write_back(remittance)
