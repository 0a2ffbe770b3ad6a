"""docs/scrubbing.md stays honest: every registered rule and every profile key is documented."""

from __future__ import annotations

from pathlib import Path

from claimbridge.claims.scrub.engine import ENGINE_RULES
from claimbridge.claims.scrub.profiles import PayerProfile, builtin_profiles
from claimbridge.plugin_host import create_plugin_host

DOC = Path(__file__).resolve().parents[2] / "docs" / "scrubbing.md"


def test_every_registered_rule_is_documented():
    text = DOC.read_text(encoding="utf-8")
    host = create_plugin_host(env={})
    ids = [*host.scrub_rules, *(rule.id for rule in ENGINE_RULES)]
    missing = [rule_id for rule_id in ids if f"`{rule_id}`" not in text]
    assert not missing, f"add these rules to docs/scrubbing.md: {missing}"


def test_every_profile_key_and_shipped_profile_is_documented():
    text = DOC.read_text(encoding="utf-8")
    assert not [key for key in PayerProfile.model_fields if f"| `{key}` |" not in text]
    assert not [name for name in builtin_profiles() if f"**`{name}`**" not in text]


def test_every_built_in_rule_has_a_test():
    """Each rule is exercised by a test that names it (by id or class), with a passing and a failing claim."""
    from claimbridge.claims.scrub.rules import ALL_RULES

    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    untested = [rule.id for rule in ALL_RULES if rule.id not in text and rule.__name__ not in text]
    assert not untested, f"no test names these rules: {untested}"
