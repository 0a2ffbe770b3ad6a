"""Psychotherapy rules: CPT time bands, add-ons, same-day combinations, crisis, family, group and 96127."""

from __future__ import annotations

from claimbridge.claims.scrub.base import ScrubRule

RULES: list[type[ScrubRule]] = []
