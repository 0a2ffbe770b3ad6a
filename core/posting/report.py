"""Money in and denials out, over everything posted: what ``claimbridge demo`` and ``remits`` summaries show.

The *current* adjudication of a claim is its latest posting that was not reversed (a reversal and the
posting it reverses cancel out). Over those:

* billed — Σ CLP03, the charges the payer adjudicated;
* paid — Σ CLP04, what the payer paid on the claims;
* patient responsibility — Σ CLP05;
* adjusted — billed − paid − patient responsibility: contractual write-downs, denials and other adjustments;
* provider adjustments — Σ PLB (negative: interest paid to the practice; positive: money taken back);
* received — Σ BPR02, the money that actually moved (paid − provider adjustments).

Read from the rollup tables (:mod:`claimbridge.store.rollups`, kept exact by triggers): a row per outcome, per
open-denial category and per total, never one per claim payment.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from claimbridge.claims.money import CENT
from claimbridge.store.models import RollupOpenDenials, RollupOutcomes, RollupTotals

__all__ = ["revenue_summary"]

_ZERO = Decimal(0)


def revenue_summary(store) -> dict:
    """Totals as strings of exact cents, claim counts by outcome, and open denials by category."""
    with store.transaction() as session:
        by_outcome = session.execute(
            select(RollupOutcomes.outcome, RollupOutcomes.payments, RollupOutcomes.charge, RollupOutcomes.paid,
                   RollupOutcomes.patient_responsibility)
            .where(RollupOutcomes.payments > 0).order_by(RollupOutcomes.outcome)).all()
        totals = {name: (count, amount) for name, count, amount in session.execute(
            select(RollupTotals.name, RollupTotals.count, RollupTotals.amount))}
        denials = session.execute(select(RollupOpenDenials.category, RollupOpenDenials.denials,
                                         RollupOpenDenials.amount)
                                  .where(RollupOpenDenials.denials > 0)
                                  .order_by(RollupOpenDenials.amount.desc(), RollupOpenDenials.category)).all()
    outcomes = {outcome: count for outcome, count, *_ in by_outcome}
    claims = sum(outcomes.values())
    billed, paid, patient = (sum((row[column] or _ZERO for row in by_outcome), _ZERO) for column in (2, 3, 4))
    remittances, received = totals.get("remittances", (0, _ZERO))
    provider = totals.get("provider_adjustments", (0, _ZERO))[1]
    unmatched = totals.get("unmatched_claim_payments", (0, _ZERO))[0]

    def cents(value) -> str:
        return str((value or _ZERO).quantize(CENT))

    return {
        "remittances": remittances, "claims_adjudicated": claims, "outcomes": outcomes,
        "billed": cents(billed), "paid": cents(paid), "patient_responsibility": cents(patient),
        "adjusted": cents(billed - paid - patient), "provider_adjustments": cents(provider),
        "received": cents(received), "unmatched_claim_payments": unmatched,
        "open_denials": [{"category": category, "count": count, "amount": cents(amount)}
                         for category, count, amount in denials],
    }
