"""The scrubber: runs every rule on a claim under the payer's profile and collects the findings.

:func:`create_scrubber` builds one from the plugin host (the built-in rules and profiles arrive through the
built-in plugin ``scrub_builtin``, like any plugin's) and the practice's profile folder; :class:`Scrubber` can
also be made directly from rule classes and a :class:`ProfileSet` (tests, benchmarks).

A rule never stops the pipeline: one that raises becomes an error finding ``scrubber.rule_failed`` naming the
rule, and the claim is held until the rule is fixed or the finding overridden.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimbridge.claims.scrub.base import ClaimFacts, Finding, ScrubContext, ScrubRule, Severity
from claimbridge.claims.scrub.facts import facts_from_claim
from claimbridge.claims.scrub.profiles import PayerProfile, ProfileSet, load_profiles
from claimbridge.errors import FatalError

if TYPE_CHECKING:
    from claimbridge.plugin_host import PluginHost

log = logging.getLogger(__name__)

RULE_FAILED = "scrubber.rule_failed"
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
_REQUIRED = ("title", "fix", "source")


@dataclass(frozen=True)
class ScrubResult:
    """What the scrubber found in one claim: the findings (in rule order), how many are errors and warnings, and
    the name of the payer profile applied. ``held`` is true when there is an error."""

    findings: tuple[Finding, ...]
    errors: int
    warnings: int
    profile_name: str

    @property
    def held(self) -> bool:
        return self.errors > 0

    def to_dict(self) -> dict[str, Any]:
        return {"errors": self.errors, "warnings": self.warnings, "profile": self.profile_name,
                "findings": [f.to_dict() for f in self.findings]}


class _RuleFailed:
    """The pseudo-rule behind ``scrubber.rule_failed`` (listed in docs/scrubbing.md like the others)."""

    id = RULE_FAILED
    severity = Severity.ERROR
    title = "A rule raised an exception; the claim was not fully checked"
    fix = ("Report it to whoever maintains the rule (the log has the traceback); override the finding only after "
           "checking by hand what the rule checks.")
    path = "Claim"
    source = "claimbridge scrubber"


def check_rule_class(rule: Any) -> list[str]:
    """Problems with a rule class: not a ScrubRule, bad id, missing title/fix/source."""
    if not (isinstance(rule, type) and issubclass(rule, ScrubRule)):
        return [f"{rule!r} is not a subclass of ScrubRule"]
    problems = []
    rule_id = getattr(rule, "id", None)
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        problems.append(f"{rule.__name__}: id {rule_id!r} is not dotted lowercase (e.g. 'mypractice.referral')")
    for attr in _REQUIRED:
        if not isinstance(getattr(rule, attr, None), str) or not getattr(rule, attr):
            problems.append(f"{rule.__name__}: class attribute {attr!r} is missing")
    if not isinstance(getattr(rule, "severity", None), Severity):
        problems.append(f"{rule.__name__}: severity must be a Severity")
    if getattr(rule, "__abstractmethods__", None):
        problems.append(f"{rule.__name__}: check() is not implemented")
    return problems


class Scrubber:
    """Runs ``rules`` on claims, choosing the profile from ``profiles`` by the claim's payer id.

    Rule classes are instantiated once; a rule instance must not keep per-claim state.
    """

    def __init__(self, rules: Iterable[type[ScrubRule]], profiles: ProfileSet):
        self.profiles = profiles
        problems: list[str] = []
        self.rules: list[ScrubRule] = []
        seen: dict[str, type[ScrubRule]] = {}
        for rule in rules:
            found = check_rule_class(rule)
            if not found and rule.id in seen and seen[rule.id] is not rule:
                found = [f"rule id {rule.id!r} is used by both {seen[rule.id].__name__} and {rule.__name__}"]
            problems.extend(found)
            if not found and rule.id not in seen:
                seen[rule.id] = rule
                self.rules.append(rule())
        if problems:
            raise FatalError("scrub rules are unusable:\n  - " + "\n  - ".join(problems))
        self.rule_ids = frozenset(seen)
        self._plans: dict[int, tuple[PayerProfile, list[tuple[ScrubRule, Severity | None]]]] = {}
        for profile in profiles:
            unknown = sorted((set(profile.disabled_rules) | set(profile.severity_overrides)) - self.rule_ids)
            if unknown:
                log.warning("payer profile %s names rules that are not registered: %s", profile.name,
                            ", ".join(unknown))

    def _plan(self, profile: PayerProfile) -> list[tuple[ScrubRule, Severity | None]]:
        """The rules to run for ``profile`` with their severity override (computed once per profile)."""
        cached = self._plans.get(id(profile))
        if cached is not None and cached[0] is profile:
            return cached[1]
        disabled = set(profile.disabled_rules)
        overrides = {k: Severity(v) for k, v in profile.severity_overrides.items()}
        plan = [(rule, overrides.get(rule.id)) for rule in self.rules if rule.id not in disabled]
        if len(self._plans) > 1024:  # profiles made on the fly (scrub(profile=PayerProfile(...))) must not pile up
            self._plans.clear()
        self._plans[id(profile)] = (profile, plan)
        return plan

    def profile_for(self, facts: ClaimFacts, profile: PayerProfile | str | None = None) -> PayerProfile:
        if isinstance(profile, PayerProfile):
            return profile
        if isinstance(profile, str):
            return self.profiles.get(profile)
        return self.profiles.for_payer(facts.payer_id)

    def scrub(self, claim_or_facts: dict | ClaimFacts, *, context: ScrubContext | None = None,
              profile: PayerProfile | str | None = None) -> ScrubResult:
        """Scrub one claim (the Claim dict, or its :class:`ClaimFacts` when the caller has them already).

        ``context`` defaults to an empty one for today (UTC). ``profile`` forces a profile (by name or
        instance) instead of the one chosen by payer id (``claimbridge scrub --payer-profile``).
        """
        facts = claim_or_facts if isinstance(claim_or_facts, ClaimFacts) else facts_from_claim(claim_or_facts)
        chosen = self.profile_for(facts, profile)
        if context is None:
            context = ScrubContext(today=today_utc())
        findings: list[Finding] = []
        errors = warnings = 0
        for rule, override in self._plan(chosen):
            try:
                for finding in rule.check(facts, chosen, context):
                    if override is not None and finding.severity is not override:
                        finding = replace(finding, severity=override)
                    if finding.severity is Severity.ERROR:
                        errors += 1
                    else:
                        warnings += 1
                    findings.append(finding)
            except Exception as exc:  # noqa: BLE001 - a rule's bug must not stop the pipeline
                # the message may hold claim data: log the traceback, keep the finding to the exception type
                log.exception("scrub rule %s failed on claim %s", rule.id, facts.pcn)
                findings.append(Finding(rule=RULE_FAILED, severity=Severity.ERROR,
                                        message=f"rule {rule.id} failed ({type(exc).__name__}); the claim was not "
                                                "fully checked", fix=_RuleFailed.fix, path=_RuleFailed.path))
                errors += 1
        return ScrubResult(findings=tuple(findings), errors=errors, warnings=warnings, profile_name=chosen.name)


def today_utc() -> date:
    return datetime.now(UTC).date()


def create_scrubber(plugins: PluginHost | None = None, profile_dir: str | Path | None = None) -> Scrubber:
    """A scrubber with every registered rule and profile.

    ``plugins`` is the plugin host (default: :func:`~claimbridge.plugin_host.create_plugin_host` with the
    environment's block-list); its ``scrub_rules`` hold the built-in rules (plugin ``scrub_builtin``) and the
    plugins', its ``payer_profiles`` the shipped profiles and the plugins'. ``profile_dir`` (the practice's
    ``payers`` folder, see :func:`~claimbridge.claims.scrub.profiles.profile_dir_for`) adds profiles and
    replaces those of the same name. Raises :class:`~claimbridge.errors.ConfigError` for a bad profile and
    :class:`~claimbridge.errors.FatalError` for a bad rule.
    """
    if plugins is None:
        from claimbridge.plugin_host import create_plugin_host

        plugins = create_plugin_host()
    profiles = load_profiles(profile_dir=profile_dir, registered=plugins.payer_profiles.values())
    return Scrubber(plugins.scrub_rules.values(), profiles)


#: every rule-like id the scrubber itself may report (for docs and overrides)
ENGINE_RULES = (_RuleFailed,)
