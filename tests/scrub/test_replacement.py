"""replacement.* rules."""

from __future__ import annotations

from claimbridge.claims import systems
from claimbridge.claims.scrub.base import Severity
from claimbridge.claims.scrub.rules import replacement

from .conftest import demo_claim, run_rule


def _frequency(claim, code):
    next(e for e in claim["extension"] if e["url"] == systems.EXT_FREQUENCY)["valueCode"] = code


def test_frequency_must_be_1_7_or_8():
    for code in ("1", "7", "8"):
        claim = demo_claim("enc-002")
        _frequency(claim, code)
        assert run_rule(replacement.FrequencyCode, claim) == []
    claim = demo_claim("enc-002")
    _frequency(claim, "5")
    [finding] = run_rule(replacement.FrequencyCode, claim)
    assert "'5' is not 1, 7 or 8" in finding.message


def test_replacement_and_void_need_the_payer_claim_number():
    claim = demo_claim("enc-002", frequency="7", payer_claim_number="2026111500123")
    assert run_rule(replacement.PayerClaimNumber, claim) == []
    del claim["related"]
    [finding] = run_rule(replacement.PayerClaimNumber, claim)
    assert "replacement claim (frequency 7) has no payer claim number" in finding.message
    claim = demo_claim("enc-002", frequency="8", payer_claim_number="2026111500123")
    claim["related"][0]["reference"]["value"] = " "
    [finding] = run_rule(replacement.PayerClaimNumber, claim)
    assert "void claim (frequency 8)" in finding.message


def test_an_original_with_a_payer_claim_number_is_a_warning():
    claim = demo_claim("enc-002", frequency="7", payer_claim_number="2026111500123")
    assert run_rule(replacement.OriginalWithReference, claim) == []
    _frequency(claim, "1")
    [finding] = run_rule(replacement.OriginalWithReference, claim)
    assert finding.severity is Severity.WARNING and "2026111500123" in finding.message
