"""The hook implementations claimbridge loads through the entry point ``prairie_medicaid``."""

from __future__ import annotations

from collections.abc import Callable

from claimbridge import hookimpl
from claimbridge.claims.scrub import ScrubRule
from prairie_medicaid_rules.rules import RULES


@hookimpl
def register_scrub_rules(register: Callable[[type[ScrubRule]], None]) -> None:
    for rule in RULES:
        register(rule)
