"""The claim scrubber: rules that catch what a payer would reject, under per-payer profiles.

    from claimbridge.claims.scrub import create_scrubber, ScrubContext
    result = create_scrubber(plugins, profile_dir).scrub(claim, context=ScrubContext(today=...))
    result.errors, result.warnings, result.findings, result.profile_name

Plugins add rules with ``register_scrub_rules(register)`` (subclasses of :class:`ScrubRule`) and profiles with
``register_payer_profiles(register)`` (:class:`PayerProfile` instances). A rule carries its own examples
(``passes``/``fails``, built with :func:`example`; see ``scrub.examples``). docs/scrubbing.md lists every rule.
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
from claimbridge.claims.scrub.examples import (
    EXAMPLE_SERVICE_DATE,
    EXAMPLE_TODAY,
    Example,
    example,
    example_claim,
    example_facts,
    example_line,
    prior_visits,
)
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
    "EXAMPLE_SERVICE_DATE",
    "EXAMPLE_TODAY",
    "RULE_FAILED",
    "ClaimFacts",
    "Example",
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
    "example",
    "example_claim",
    "example_facts",
    "example_line",
    "facts_from_claim",
    "load_profile_dir",
    "load_profile_file",
    "load_profiles",
    "patient_key",
    "prior_visits",
    "profile_dir_for",
]
