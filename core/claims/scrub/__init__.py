"""The claim scrubber: rules that catch what a payer would reject, under per-payer profiles.

    from claimbridge.claims.scrub import create_scrubber, ScrubContext
    result = create_scrubber(plugins, profile_dir).scrub(claim, context=ScrubContext(today=...))
    result.errors, result.warnings, result.findings, result.profile_name

Plugins add rules with ``register_scrub_rules(register)`` (subclasses of :class:`ScrubRule`) and profiles with
``register_payer_profiles(register)`` (:class:`PayerProfile` instances). docs/scrubbing.md lists every rule.
"""

from __future__ import annotations

from claimbridge.claims.scrub.base import (
    ClaimFacts,
    Finding,
    Line,
    PriorClaimLine,
    Provider,
    ScrubContext,
    ScrubRule,
    Severity,
)
from claimbridge.claims.scrub.engine import RULE_FAILED, Scrubber, ScrubResult, create_scrubber
from claimbridge.claims.scrub.facts import ScrubInputError, claim_from_file, facts_from_claim, patient_key
from claimbridge.claims.scrub.profiles import (
    PayerProfile,
    ProfileSet,
    ProviderRestriction,
    builtin_profiles,
    load_profile_dir,
    load_profile_file,
    load_profiles,
    profile_dir_for,
)

__all__ = [
    "RULE_FAILED",
    "ClaimFacts",
    "Finding",
    "Line",
    "PayerProfile",
    "PriorClaimLine",
    "ProfileSet",
    "Provider",
    "ProviderRestriction",
    "ScrubContext",
    "ScrubInputError",
    "ScrubResult",
    "ScrubRule",
    "Scrubber",
    "Severity",
    "builtin_profiles",
    "claim_from_file",
    "create_scrubber",
    "facts_from_claim",
    "load_profile_dir",
    "load_profile_file",
    "load_profiles",
    "patient_key",
    "profile_dir_for",
]
