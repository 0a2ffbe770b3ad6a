"""Money in and denials out, over everything posted: what ``claimbridge demo`` and ``remits`` summaries show.

The *current* adjudication of a claim is its latest posting that was not reversed (a reversal and the
posting it reverses cancel out). Over those:

* billed — Σ CLP03, the charges the payer adjudicated;
* paid — Σ CLP04, what the payer paid on the claims;
* patient responsibility — Σ CLP05;
* adjusted — billed − paid − patient responsibility: contractual write-downs, denials and other adjustments;
* provider adjustments — Σ PLB (negative: interest paid to the practice; positive: money taken back);
* received — Σ BPR02, the money that actually moved (paid − provider adjustments).
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from claimbridge.claims.money import CENT
from claimbridge.store.models import Denial, ProviderAdjustmentRow, Remittance, RemittanceClaim

__all__ = ["revenue_summary"]

_ZERO = Decimal(0)


def revenue_summary(store) -> dict:
    """Totals as strings of exact cents, claim counts by outcome, and open denials by category."""
    with store.transaction() as session:
        current = (RemittanceClaim.reversed_by_id.is_(None), RemittanceClaim.outcome != "reversal",
                   RemittanceClaim.match == "matched")
        # one pass over the current adjudications, by outcome; the totals are their sums
        by_outcome = session.execute(
            select(RemittanceClaim.outcome, func.count(), func.sum(RemittanceClaim.charge),
                   func.sum(RemittanceClaim.paid), func.sum(RemittanceClaim.patient_responsibility))
            .where(*current).group_by(RemittanceClaim.outcome)).all()
        outcomes = {outcome: count for outcome, count, *_ in by_outcome}
        claims = sum(outcomes.values())
        billed, paid, patient = (sum((row[column] or _ZERO for row in by_outcome), _ZERO) for column in (2, 3, 4))
        provider = session.execute(select(func.sum(ProviderAdjustmentRow.amount))).scalar_one()
        received, remittances = session.execute(select(func.sum(Remittance.amount), func.count())
                                                .select_from(Remittance)).one()
        unmatched = session.execute(select(func.count()).select_from(RemittanceClaim)
                                    .where(RemittanceClaim.match == "unmatched")).scalar_one()
        denials = session.execute(select(Denial.category, func.count(), func.sum(Denial.amount))
                                  .where(Denial.status == "open").group_by(Denial.category)
                                  .order_by(func.sum(Denial.amount).desc())).all()

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
