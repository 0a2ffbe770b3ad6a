"""Code-set rules: ICD-10-CM validity and billability, CPT/HCPCS and modifier format, Z-codes as primary diagnosis."""

from __future__ import annotations

from claimbridge.claims.scrub.base import ScrubRule

RULES: list[type[ScrubRule]] = []
