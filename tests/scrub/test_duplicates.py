"""duplicates.* rules."""

from __future__ import annotations

from claimbridge.claims.identifiers import make_pcn
from claimbridge.claims.scrub.base import PriorClaimLine
from claimbridge.claims.scrub.rules import duplicates

from .conftest import add_line, context, demo_claim, facts_of, run_rule, set_modifiers


def _prior(encounter_id, claim_id, version=1):
    return PriorClaimLine.lines_of(facts_of(demo_claim(encounter_id, pcn=make_pcn("CB", claim_id, version))))


def test_a_line_already_billed_on_another_claim():
    claim = demo_claim("enc-002")  # its PCN is claim 2, version 1
    assert run_rule(duplicates.DuplicateOfPriorClaim, claim, context=context(prior_lines=_prior("enc-003", 3))) == []
    prior = _prior("enc-002", 902)
    [finding] = run_rule(duplicates.DuplicateOfPriorClaim, claim, context=context(prior_lines=prior))
    assert f"already billed on claim {prior[0].pcn}" in finding.message and finding.path == "Claim.item[0]"


def test_another_version_of_the_same_claim_is_not_a_duplicate():
    claim = demo_claim("enc-002", pcn=make_pcn("CB", 2, 2))
    for prior in (_prior("enc-002", 2, 1), PriorClaimLine.lines_of(facts_of(claim))):
        assert run_rule(duplicates.DuplicateOfPriorClaim, claim, context=context(prior_lines=prior)) == []


def test_a_repeat_modifier_says_the_repeat_is_intended():
    claim = demo_claim("enc-002")
    set_modifiers(claim, 0, "76")
    assert run_rule(duplicates.DuplicateOfPriorClaim, claim, context=context(prior_lines=_prior("enc-002", 902))) \
        == []


def test_the_prior_index_follows_lines_added_during_a_batch():
    claim = demo_claim("enc-002")
    ctx = context(prior_lines=_prior("enc-003", 3))
    assert run_rule(duplicates.DuplicateOfPriorClaim, claim, context=ctx) == []
    ctx.prior_lines.extend(_prior("enc-002", 902))
    assert len(run_rule(duplicates.DuplicateOfPriorClaim, claim, context=ctx)) == 1


def test_two_lines_of_one_claim():
    claim = demo_claim("enc-007")  # 90834 and 96127 × 2
    assert run_rule(duplicates.DuplicateWithinClaim, claim) == []
    add_line(claim, "96127", charge="15.00")
    [finding] = run_rule(duplicates.DuplicateWithinClaim, claim)
    assert "line 3 repeats line 2 (96127 on" in finding.message
    set_modifiers(claim, 2, "59")
    assert run_rule(duplicates.DuplicateWithinClaim, claim) == []
