"""Replacement and void claims: the frequency code and the payer's original claim number (REF*F8)."""

from __future__ import annotations

from claimbridge.claims.scrub.base import ScrubRule, Severity
from claimbridge.claims.scrub.examples import example

FREQUENCIES = {"1": "original", "7": "replacement", "8": "void"}
#: a payer claim control number (277CA REF*1K, 835 CLP07), for the examples
_PAYER_CLAIM = "2026111500123"
_EXT = "Claim.extension.where(url='https://claimbridge.dev/fhir/StructureDefinition/claim-frequency')"


class FrequencyCode(ScrubRule):
    id = "replacement.frequency_code"
    title = "The claim frequency code is 1 (original), 7 (replacement) or 8 (void)"
    fix = "Send an original as 1; correct a paid or denied claim with 7, cancel one with 8 (never 5 or 6 on 837P)."
    path = _EXT
    source = "837P TR3 005010X222A1 CLM05-3 (NUBC frequency codes used by professional claims)"

    passes = (example("the example claim (an original, 1)"),
              example("a replacement (7) of a claim the payer has", frequency="7", related_claim_number=_PAYER_CLAIM),
              example("a void (8) of a claim the payer has", frequency="8", related_claim_number=_PAYER_CLAIM))
    fails = (example("frequency 5 (late charge: institutional claims only)", frequency="5"),
             example("no frequency code", frequency=""))

    def check(self, facts, profile, context):
        if facts.frequency not in FREQUENCIES:
            yield self.finding(f"claim frequency {facts.frequency or '(none)'!r} is not 1, 7 or 8")


class PayerClaimNumber(ScrubRule):
    id = "replacement.payer_claim_number"
    title = "A replacement (7) or void (8) carries the payer's claim number of the original (REF*F8)"
    fix = ("Take the payer claim control number from the 277CA (REF*1K) or the 835 (CLP07) of the original and "
           "resubmit with it.")
    path = "Claim.related"
    source = "837P TR3 005010X222A1 REF*F8 (required when CLM05-3 is 7 or 8)"

    passes = (example("the example claim (an original, 1)"),
              example("a replacement (7) with the payer's claim number", frequency="7",
                      related_claim_number=_PAYER_CLAIM))
    fails = (example("a replacement (7) without the payer's claim number", frequency="7"),
             example("a void (8) without the payer's claim number", frequency="8"))

    def check(self, facts, profile, context):
        if facts.frequency in ("7", "8") and not facts.related_claim_number:
            yield self.finding(f"this {FREQUENCIES[facts.frequency]} claim (frequency {facts.frequency}) has no "
                               "payer claim number of the original")


class OriginalWithReference(ScrubRule):
    id = "replacement.original_with_reference"
    severity = Severity.WARNING
    title = "An original claim (1) does not carry a payer claim number"
    fix = "If this corrects a claim the payer has, send it as a replacement (7); otherwise drop the related claim."
    path = "Claim.related"
    source = "837P TR3 005010X222A1 REF*F8 (not used on originals; payers may reject or mis-match)"

    passes = (example("the example claim (an original without a payer claim number)"),
              example("a replacement (7) with the payer's claim number", frequency="7",
                      related_claim_number=_PAYER_CLAIM))
    fails = (example("an original (1) carrying a payer claim number", related_claim_number=_PAYER_CLAIM),)

    def check(self, facts, profile, context):
        if facts.frequency == "1" and facts.related_claim_number:
            yield self.finding(f"original claim carries payer claim number {facts.related_claim_number}; "
                               "was it meant as a replacement (7)?")


RULES: list[type[ScrubRule]] = [FrequencyCode, PayerClaimNumber, OriginalWithReference]
