"""The built-in scrub rules, one module per subject; :data:`ALL_RULES` is every one of them, in report order.

Each module exposes ``RULES: list[type[ScrubRule]]``. The built-in plugin ``scrub_builtin``
(:mod:`claimbridge.claims.scrub.builtin`) registers :data:`ALL_RULES` through ``register_scrub_rules``, the same
hook a third-party plugin uses.
"""

from __future__ import annotations

from claimbridge.claims.scrub.base import ScrubRule
from claimbridge.claims.scrub.rules import (
    authorizations,
    codes,
    dates,
    duplicates,
    eligibility,
    identity,
    psychotherapy,
    replacement,
    structure,
    telehealth,
)

MODULES = (structure, identity, dates, authorizations, eligibility, duplicates, replacement, codes, psychotherapy,
           telehealth)

ALL_RULES: list[type[ScrubRule]] = [rule for module in MODULES for rule in module.RULES]

__all__ = ["ALL_RULES", "MODULES"]
