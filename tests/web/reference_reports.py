"""The dashboard reports as they were computed before the rollup tables (migration 0008): joins and sums over
every claim, claim line and 835 claim payment. The tests hold the rollup-read reports to these numbers."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, Integer, Numeric, and_, case, cast, func, literal, or_, select

from claimbridge.claims.money import CENT
from claimbridge.claims.states import ClaimStatus as S
from claimbridge.store.models import (
    Claim,
    ClaimLine,
    ClaimVersion,
    Denial,
    ProviderAdjustmentRow,
    Remittance,
    RemittanceClaim,
)

#: nothing paid yet: the whole charge is outstanding
AWAITING = (S.SUBMITTED.value, S.ACCEPTED.value, S.REJECTED.value, S.REVERSED.value)
#: adjudicated with denied money still being worked
WORKED = (S.DENIED.value, S.PARTIALLY_PAID.value)
OUTSTANDING_STATUSES = AWAITING + WORKED
#: denial resolutions after which the money is still expected from a payer
STILL_EXPECTED = ("appealed", "rebilled_other_payer")
#: (label, oldest age in days) — ages are whole days from the date of service to ``today``
AGING_BUCKETS = (("0-30", 30), ("31-60", 60), ("61-90", 90), ("90+", None))
ADJUDICATED = ("paid", "partially_paid", "denied")

_ZERO = Decimal(0)


def _money(cents) -> str:
    return str((Decimal(int(cents or 0)).scaleb(-2)).quantize(CENT))


def _dialect(session) -> str:
    return session.get_bind().dialect.name


def _charge_cents(session):
    """The current version's billed total in cents, read from its FHIR Claim JSON in SQL."""
    if _dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import JSON as PG_JSON

        value = cast(cast(ClaimVersion.fhir, PG_JSON)["total"]["value"].astext, Numeric(14, 2))
    else:
        value = func.json_extract(ClaimVersion.fhir, "$.total.value")
    return cast(func.round(value * 100), BigInteger)


def _days_between(session, later, earlier):
    """Whole days from ``earlier`` to ``later`` (two DATE expressions)."""
    if _dialect(session) == "postgresql":
        return later - earlier
    return cast(func.julianday(later) - func.julianday(earlier), Integer)


def _current_adjudication():
    return (RemittanceClaim.reversed_by_id.is_(None), RemittanceClaim.outcome != "reversal",
            RemittanceClaim.match == "matched")


# -- AR aging --------------------------------------------------------------------------------------------------


def ar_aging(store, today: date) -> dict:
    """Outstanding claims (see the module docstring) by age of their date of service: 0–30, 31–60, 61–90 and
    90+ days, each with its claim count and amount, plus the totals and the split by status."""
    with store.transaction() as session:
        per_claim = _outstanding_per_claim(session, today).subquery()
        rows = session.execute(
            select(per_claim.c.bucket, per_claim.c.status, func.count(), func.sum(per_claim.c.amount))
            .where(per_claim.c.amount > 0).group_by(per_claim.c.bucket, per_claim.c.status)).all()
    buckets = {label: [0, 0] for label, _ in AGING_BUCKETS}
    statuses: dict[str, list[int]] = {}
    for bucket, status, count, amount in rows:
        buckets[bucket][0] += count
        buckets[bucket][1] += int(amount or 0)
        entry = statuses.setdefault(status, [0, 0])
        entry[0] += count
        entry[1] += int(amount or 0)
    total_count = sum(c for c, _ in buckets.values())
    total_amount = sum(a for _, a in buckets.values())
    return {
        "as_of": today.isoformat(),
        "buckets": [{"bucket": label, "claims": buckets[label][0], "amount": _money(buckets[label][1])}
                    for label, _ in AGING_BUCKETS],
        "by_status": [{"status": s, "claims": c, "amount": _money(a)} for s, (c, a) in sorted(statuses.items())],
        "total": {"claims": total_count, "amount": _money(total_amount)},
    }


def _outstanding_per_claim(session, today: date, statuses=OUTSTANDING_STATUSES):
    """One row per outstanding claim: id, status, payer, date of service, aging bucket, amount (cents).

    claims (ix_claims_status) → claim_versions (uq claim_id, version) → claim_lines (ix_claim_lines_version_id);
    the denied amount is a correlated sum over denials (ix_denials_claim_id) evaluated for denied and partially
    paid claims only."""
    denied = (select(func.coalesce(func.sum(Denial.amount), 0))
              .join(RemittanceClaim, RemittanceClaim.id == Denial.remittance_claim_id)
              .where(Denial.claim_id == Claim.id, RemittanceClaim.version == Claim.current_version,
                     RemittanceClaim.reversed_by_id.is_(None),
                     or_(Denial.status == "open", Denial.resolution.in_(STILL_EXPECTED)))
              .correlate(Claim).scalar_subquery())
    service_date = func.min(ClaimLine.service_date)
    whens = [(service_date >= today - timedelta(days=oldest), literal(label))
             for label, oldest in AGING_BUCKETS if oldest is not None]
    amount = case((Claim.status.in_(AWAITING), func.coalesce(_charge_cents(session), 0)), else_=denied)
    return (select(Claim.id.label("claim_id"), Claim.status.label("status"),
                   func.max(ClaimLine.payer_id).label("payer_id"), service_date.label("service_date"),
                   case(*whens, else_=literal(AGING_BUCKETS[-1][0])).label("bucket"), amount.label("amount"))
            .join(ClaimVersion, and_(ClaimVersion.claim_id == Claim.id,
                                     ClaimVersion.version == Claim.current_version))
            .join(ClaimLine, ClaimLine.version_id == ClaimVersion.id)
            .where(Claim.status.in_(statuses))
            .group_by(Claim.id, Claim.status, Claim.current_version, ClaimVersion.fhir))


# -- denial rates ----------------------------------------------------------------------------------------------


def _adjudications(session):
    """One row per current adjudication (matched, not reversed): its claim, outcome, payer id (of the claim
    version it answers), payer name, payment date and date of service.

    remittance_claims (ix_remittance_claims_match) → remittances (pk) → claim_versions (uq claim_id, version) →
    claim_lines (ix_claim_lines_version_id)."""
    return (select(RemittanceClaim.id.label("rc_id"), RemittanceClaim.claim_id.label("claim_id"),
                   RemittanceClaim.outcome.label("outcome"), RemittanceClaim.charge.label("charge"),
                   RemittanceClaim.paid.label("paid"),
                   func.max(ClaimLine.payer_id).label("payer_id"),
                   func.max(Remittance.payer_name).label("payer_name"),
                   func.max(Remittance.payment_date).label("payment_date"),
                   func.min(ClaimLine.service_date).label("service_date"))
            .join(Remittance, Remittance.id == RemittanceClaim.remittance_id)
            .join(ClaimVersion, and_(ClaimVersion.claim_id == RemittanceClaim.claim_id,
                                     ClaimVersion.version == RemittanceClaim.version))
            .join(ClaimLine, ClaimLine.version_id == ClaimVersion.id)
            .where(*_current_adjudication(), RemittanceClaim.outcome.in_(ADJUDICATED))
            .group_by(RemittanceClaim.id, RemittanceClaim.claim_id, RemittanceClaim.outcome,
                      RemittanceClaim.charge, RemittanceClaim.paid))


def _rate(denied: int, adjudicated: int) -> str:
    return str((Decimal(denied) / Decimal(adjudicated)).quantize(Decimal("0.0001"))) if adjudicated else "0.0000"


def denial_rates(store) -> dict:
    """Claims adjudicated vs denied (claim outcome ``denied`` on a current adjudication), by payer; and, by
    denial category, the adjudicated claims with at least one denial of that category on a current adjudication.
    Rates are fractions (``"0.2500"``); a claim adjudicated twice (denied, then paid on appeal) counts once as
    adjudicated and once as denied."""
    with store.transaction() as session:
        adj = _adjudications(session).subquery()
        by_payer = session.execute(
            select(adj.c.payer_id, func.max(adj.c.payer_name), func.count(func.distinct(adj.c.claim_id)),
                   func.count(func.distinct(case((adj.c.outcome == "denied", adj.c.claim_id)))))
            .group_by(adj.c.payer_id).order_by(adj.c.payer_id)).all()
        adjudicated = session.execute(
            select(func.count(func.distinct(RemittanceClaim.claim_id)))
            .where(*_current_adjudication(), RemittanceClaim.outcome.in_(ADJUDICATED))).scalar_one()
        # denials (ix_denials_category) → remittance_claims (pk)
        by_category = session.execute(
            select(Denial.category, func.count(func.distinct(Denial.claim_id)), func.sum(Denial.amount))
            .join(RemittanceClaim, RemittanceClaim.id == Denial.remittance_claim_id)
            .where(*_current_adjudication(), Denial.claim_id.is_not(None))
            .group_by(Denial.category).order_by(Denial.category)).all()
    total_denied = sum(row[3] for row in by_payer)
    return {
        "adjudicated": adjudicated, "denied": total_denied, "rate": _rate(total_denied, adjudicated),
        "by_payer": [{"payer_id": payer or "", "payer_name": name or payer or "", "adjudicated": n, "denied": d,
                      "rate": _rate(d, n)} for payer, name, n, d in by_payer],
        "by_category": [{"category": category, "claims": n, "amount": str((amount or _ZERO).quantize(CENT)),
                         "rate": _rate(n, adjudicated)} for category, n, amount in by_category],
    }


# -- days to payment -------------------------------------------------------------------------------------------


def _percentile(histogram: list[tuple[int, int]], fraction: float) -> int | None:
    """Nearest-rank percentile of a sorted (value, count) histogram."""
    n = sum(count for _, count in histogram)
    if not n:
        return None
    rank = max(1, math.ceil(fraction * n))
    seen = 0
    for value, count in histogram:
        seen += count
        if seen >= rank:
            return value
    return histogram[-1][0]


def _median(histogram: list[tuple[int, int]]) -> int | float | None:
    """The median of a sorted (value, count) histogram (the mean of the two middle values when even)."""
    n = sum(count for _, count in histogram)
    if not n:
        return None
    ordered = []
    for middle in ((n - 1) // 2, n // 2):
        seen = 0
        for value, count in histogram:
            seen += count
            if seen > middle:
                ordered.append(value)
                break
    total = ordered[0] + ordered[1]
    return total // 2 if total % 2 == 0 else total / 2


def _days_histograms(session) -> dict[str, dict]:
    """Per payer id: name, the histogram of days from service to the 835 payment date of paid claims
    (outcome paid or partially_paid, payment date known), and Σ paid / Σ charge. SQL groups by (payer, days)."""
    adj = _adjudications(session).where(Remittance.payment_date.is_not(None),
                                        RemittanceClaim.outcome.in_(("paid", "partially_paid"))).subquery()
    days = _days_between(session, adj.c.payment_date, adj.c.service_date)
    rows = session.execute(
        select(adj.c.payer_id, func.max(adj.c.payer_name), days.label("days"), func.count(),
               func.sum(adj.c.paid), func.sum(adj.c.charge))
        .group_by(adj.c.payer_id, days).order_by(adj.c.payer_id, days)).all()
    payers: dict[str, dict] = {}
    for payer, name, day_count, count, paid, charge in rows:
        entry = payers.setdefault(payer or "", {"name": name, "histogram": [], "paid": 0, "charge": 0})
        entry["histogram"].append((int(day_count), count))
        entry["paid"] += int(paid or 0)
        entry["charge"] += int(charge or 0)
        entry["name"] = entry["name"] or name
    return payers


def days_to_payment(store) -> dict:
    """Median and 90th percentile (nearest rank) of whole days from the date of service to the 835's payment
    date, for claims paid (in full or in part) on a current adjudication, by payer and overall."""
    with store.transaction() as session:
        payers = _days_histograms(session)
    overall: dict[int, int] = defaultdict(int)
    items = []
    for payer, entry in sorted(payers.items()):
        histogram = entry["histogram"]
        for value, count in histogram:
            overall[value] += count
        items.append({"payer_id": payer, "payer_name": entry["name"] or payer,
                      "claims": sum(c for _, c in histogram), "median_days": _median(histogram),
                      "p90_days": _percentile(histogram, 0.9)})
    merged = sorted(overall.items())
    return {"by_payer": items, "overall": {"claims": sum(overall.values()), "median_days": _median(merged),
                                           "p90_days": _percentile(merged, 0.9)}}


# -- expected cash ---------------------------------------------------------------------------------------------


def expected_cash(store, today: date, weeks: int = 4) -> dict:
    """Money expected from payers in each of the coming ``weeks`` weeks (week 1 = ``today`` … ``today``+6).

    Method: every ``accepted`` claim (the payer has it and has not answered) is expected on its date of service
    plus its payer's median days to payment (over all payers' median when the payer has no paid history yet), for
    its charge times the payer's historical paid-to-charge ratio (the whole charge without history). Expected
    dates before ``today`` are ``overdue``; after the last week, ``later``. SQL groups the accepted claims by payer
    and date of service; only those groups are shifted and bucketed here."""
    with store.transaction() as session:
        payers = _days_histograms(session)
        per_claim = _outstanding_per_claim(session, today, statuses=(S.ACCEPTED.value,)).subquery()
        groups = session.execute(
            select(per_claim.c.payer_id, per_claim.c.service_date, func.count(), func.sum(per_claim.c.amount))
            .group_by(per_claim.c.payer_id, per_claim.c.service_date)).all()
    all_days: dict[int, int] = defaultdict(int)
    for entry in payers.values():
        for value, count in entry["histogram"]:
            all_days[value] += count
    fallback = _median(sorted(all_days.items()))
    labels = ["overdue"] + [f"week {i}" for i in range(1, weeks + 1)] + ["later", "no history"]
    buckets = {label: [0, Decimal(0)] for label in labels}
    for payer, service_date, count, charge in groups:
        entry = payers.get(payer or "")
        median = _median(entry["histogram"]) if entry else fallback
        ratio = (Decimal(entry["paid"]) / Decimal(entry["charge"])) if entry and entry["charge"] else Decimal(1)
        amount = Decimal(int(charge or 0)) * ratio
        if median is None:
            label = "no history"
        else:
            due = service_date + timedelta(days=math.ceil(median))
            offset = (due - today).days
            label = "overdue" if offset < 0 else f"week {offset // 7 + 1}" if offset < 7 * weeks else "later"
        buckets[label][0] += count
        buckets[label][1] += amount
    items = []
    for index, label in enumerate(labels):
        start = today + timedelta(days=7 * (index - 1)) if 1 <= index <= weeks else None
        items.append({"bucket": label, "start": start.isoformat() if start else None,
                      "end": (start + timedelta(days=6)).isoformat() if start else None,
                      "claims": buckets[label][0], "amount": _money(buckets[label][1].to_integral_value())})
    return {"as_of": today.isoformat(), "weeks": weeks, "method": "date of service + payer median days to "
            "payment; charge x payer paid/charge ratio", "buckets": items,
            "total": {"claims": sum(c for c, _ in buckets.values()),
                      "amount": _money(sum((a for _, a in buckets.values()), Decimal(0)).to_integral_value())}}


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
