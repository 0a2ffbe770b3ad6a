"""Telehealth rules: place of service and modifiers for virtual and audio-only sessions."""

from __future__ import annotations

from claimbridge.claims.scrub.base import ScrubRule

RULES: list[type[ScrubRule]] = []
