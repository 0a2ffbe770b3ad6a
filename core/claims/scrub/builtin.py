"""The built-in plugin ``scrub_builtin``: registers the built-in scrub rules and the shipped payer profiles
through the same hooks a third-party plugin implements.

The plugin host always registers it (it is not subject to ``CLAIMBRIDGE_DISABLE_PLUGINS``: a practice turns
off single rules with a profile's ``disabled_rules``, never the whole scrubber).
"""

from __future__ import annotations

from collections.abc import Callable

from claimbridge import hookimpl
from claimbridge.claims.scrub.base import ScrubRule
from claimbridge.claims.scrub.profiles import PayerProfile, builtin_profiles


@hookimpl
def register_scrub_rules(register: Callable[[type[ScrubRule]], None]) -> None:
    from claimbridge.claims.scrub.rules import ALL_RULES

    for rule in ALL_RULES:
        register(rule)


@hookimpl
def register_payer_profiles(register: Callable[[PayerProfile], None]) -> None:
    for profile in builtin_profiles().values():
        register(profile)
