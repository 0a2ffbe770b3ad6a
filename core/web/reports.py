"""Dashboard analytics over the store: AR aging, denial rates, days to payment, expected cash, connector health.

Every function returns a plain dict (money as a string of exact cents, dates as ISO strings), so the API can send
it as it is and the dashboard can draw it. The claim and payment figures are read from the rollup tables
(:mod:`claimbridge.store.rollups`, kept exact by triggers in the same transaction as every write): a few hundred
or thousand grouped rows (status × payer × date of service, payer × days …), never one row per claim.

Conventions (the same as :func:`claimbridge.posting.report.revenue_summary`):

* a claim's *payer* is the payer id its current version's 837 goes to (``claims.payer_id``), named after the
  payer name of its 835s where there are any; its *date of service* is the earliest service date of its current
  version's lines (``claims.service_date``; claims without one are in no dated report);
* a claim's *charge* is the FHIR Claim's ``total`` of its current version (what the 837 billed, ``claims.charge``);
* the *current adjudication* of a claim is a matched 835 claim payment that was not reversed and is no reversal.

**Outstanding** (AR) is what the practice still expects from payers on claims that left and are not finished:

* ``submitted``, ``accepted``, ``rejected`` and ``reversed`` claims — nothing paid yet: the whole charge;
* ``denied`` and ``partially_paid`` claims — paid and patient responsibility and contractual adjustments are
  settled, so what is still open is the denied money being worked: the claim's denials on its current
  adjudication that are open, appealed or rebilled to another payer (dismissed, written-off and billed-to-patient
  denials are no longer expected from a payer).

Claims that are ``paid``, ``written_off``, ``billed_to_patient``, ``voided`` or ``corrected`` (replaced by
another version), and claims not sent yet (``draft`` … ``batched``), are not outstanding.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, case, func, literal, select, type_coerce

from claimbridge.claims.money import CENT
from claimbridge.claims.states import ClaimStatus as S
from claimbridge.store.models import (
    RollupAdjudications,
    RollupClaimsByDay,
    RollupClaimsByStatus,
    RollupDenialCategories,
    RollupPaymentDays,
    SyncRun,
)
from claimbridge.store.rollups import ADJUDICATED, AWAITING, STILL_EXPECTED, WORKED  # noqa: F401 - re-exported

__all__ = ["AGING_BUCKETS", "OUTSTANDING_STATUSES", "ar_aging", "claims_by_status", "connector_health",
           "days_to_payment", "denial_rates", "expected_cash"]

OUTSTANDING_STATUSES = AWAITING + WORKED
#: (label, oldest age in days) — ages are whole days from the date of service to ``today``
AGING_BUCKETS = (("0-30", 30), ("31-60", 60), ("61-90", 90), ("90+", None))

_ZERO = Decimal(0)


def _money(cents) -> str:
    return str((Decimal(int(cents or 0)).scaleb(-2)).quantize(CENT))


def _cents(column):
    """Σ of a money column in whole cents (an int), not as Decimal dollars."""
    return func.sum(column, type_=BigInteger)


# -- claims by status ------------------------------------------------------------------------------------------


def claims_by_status(store) -> dict[str, int]:
    """How many claims are in each status (statuses with none are left out)."""
    with store.transaction() as session:
        rows = session.execute(select(RollupClaimsByStatus.status, func.sum(RollupClaimsByStatus.claims))
                               .group_by(RollupClaimsByStatus.status)).all()
    return {status: int(count) for status, count in sorted(rows) if count}


# -- AR aging --------------------------------------------------------------------------------------------------


def ar_aging(store, today: date) -> dict:
    """Outstanding claims (see the module docstring) by age of their date of service: 0–30, 31–60, 61–90 and
    90+ days, each with its claim count and amount, plus the totals and the split by status."""
    day = RollupClaimsByDay
    whens = [(day.service_date >= today - timedelta(days=oldest), literal(label))
             for label, oldest in AGING_BUCKETS if oldest is not None]
    bucket = case(*whens, else_=literal(AGING_BUCKETS[-1][0]))
    with store.transaction() as session:
        # rollup_claims_by_day (pk status, payer_id, service_date): the outstanding statuses' rows only
        rows = session.execute(
            select(bucket, day.status, func.sum(day.outstanding_claims), _cents(day.outstanding))
            .where(day.status.in_(OUTSTANDING_STATUSES), day.outstanding_claims > 0)
            .group_by(bucket, day.status)).all()
    buckets = {label: [0, 0] for label, _ in AGING_BUCKETS}
    statuses: dict[str, list[int]] = {}
    for label, status, count, amount in rows:
        buckets[label][0] += int(count)
        buckets[label][1] += int(amount or 0)
        entry = statuses.setdefault(status, [0, 0])
        entry[0] += int(count)
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


# -- denial rates ----------------------------------------------------------------------------------------------


def _rate(denied: int, adjudicated: int) -> str:
    return str((Decimal(denied) / Decimal(adjudicated)).quantize(Decimal("0.0001"))) if adjudicated else "0.0000"


def denial_rates(store) -> dict:
    """Claims adjudicated vs denied (claim outcome ``denied`` on a current adjudication), by payer; and, by
    denial category, the adjudicated claims with at least one denial of that category on a current adjudication.
    Rates are fractions (``"0.2500"``); a claim adjudicated twice (denied, then paid on appeal) counts once as
    adjudicated and once as denied."""
    adj, cat = RollupAdjudications, RollupDenialCategories
    with store.transaction() as session:
        by_payer = [(payer, name, int(n), int(d)) for payer, name, n, d in session.execute(
            select(adj.payer_id, func.max(adj.payer_name), func.sum(adj.claims), func.sum(adj.denied))
            .where(adj.claims > 0).group_by(adj.payer_id).order_by(adj.payer_id))]
        by_category = session.execute(select(cat.category, cat.claims, cat.amount).where(cat.claims > 0)
                                      .order_by(cat.category)).all()
    adjudicated = sum(row[2] for row in by_payer)
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
    (outcome paid or partially_paid, payment date known), and Σ paid / Σ charge (each (payer, days) group's sum
    in whole currency units, as the dashboard has always taken it). Read from rollup_payment_days."""
    pay = RollupPaymentDays
    rows = session.execute(
        select(pay.payer_id, func.max(pay.payer_name), pay.days, func.sum(pay.payments), func.sum(pay.paid),
               func.sum(pay.charge))
        .where(pay.payments > 0).group_by(pay.payer_id, pay.days).order_by(pay.payer_id, pay.days)).all()
    payers: dict[str, dict] = {}
    for payer, name, day_count, count, paid, charge in rows:
        entry = payers.setdefault(payer or "", {"name": name, "histogram": [], "paid": 0, "charge": 0})
        entry["histogram"].append((int(day_count), int(count)))
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
    dates before ``today`` are ``overdue``; after the last week, ``later``. The accepted claims come grouped by
    payer and date of service (rollup_claims_by_day); only those groups are shifted and bucketed here."""
    day = RollupClaimsByDay
    with store.transaction() as session:
        payers = _days_histograms(session)
        groups = session.execute(
            select(day.payer_id, day.service_date, day.claims, type_coerce(day.charge, BigInteger))
            .where(day.status == S.ACCEPTED.value, day.claims > 0)).all()
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
        buckets[label][0] += int(count)
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


# -- connector and job health ----------------------------------------------------------------------------------


def connector_health(runtime) -> dict:
    """Each configured source (its last sync run), clearinghouse (its last 837 batch and last inbound file) and
    scheduled job (its last ``job_runs`` row, the next run time APScheduler stored, any retry backoff). ``ok`` is
    false when the last run/batch/file failed."""
    from claimbridge.schedule.service import describe_jobs
    from claimbridge.store.models import Batch, InboundFile

    settings = runtime.settings
    sources, clearinghouses = [], []
    with runtime.store.transaction() as session:
        for entry in settings.sources:
            # sync_runs (ix_sync_runs_source), newest first
            last = session.execute(select(SyncRun).where(SyncRun.source == entry.name)
                                   .order_by(SyncRun.id.desc()).limit(1)).scalar_one_or_none()
            sources.append({
                "name": entry.name, "type": entry.type, "enabled": entry.enabled,
                "ok": last is None or last.status != "failed",
                "last_run": None if last is None else {
                    "status": last.status, "started_at": last.started_at.isoformat(),
                    "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                    "error": _first_line(last.error)}})
        for entry in settings.clearinghouses:
            # batches and inbound_files by primary key, newest first (few rows per clearinghouse are scanned)
            batch = session.execute(select(Batch).where(Batch.clearinghouse == entry.name)
                                    .order_by(Batch.id.desc()).limit(1)).scalar_one_or_none()
            inbound = session.execute(select(InboundFile).where(InboundFile.clearinghouse == entry.name)
                                      .order_by(InboundFile.id.desc()).limit(1)).scalar_one_or_none()
            batch_failed = batch is not None and (batch.status == "failed" or batch.ack_status == "rejected")
            file_failed = inbound is not None and inbound.status == "quarantined"
            clearinghouses.append({
                "name": entry.name, "type": entry.type, "enabled": entry.enabled,
                "ok": not (batch_failed or file_failed),
                "last_batch": None if batch is None else {
                    "file_name": batch.file_name, "status": batch.status, "ack_status": batch.ack_status,
                    "claims": batch.claim_count, "created_at": batch.created_at.isoformat(),
                    "submitted_at": batch.submitted_at.isoformat() if batch.submitted_at else None,
                    "error": _first_line(batch.error)},
                "last_inbound": None if inbound is None else {
                    "name": inbound.name, "kinds": inbound.kinds, "status": inbound.status,
                    "received_at": inbound.received_at.isoformat(), "error": _first_line(inbound.error)}})
    jobs = []
    for row in describe_jobs(runtime):
        last = row["last_run"]
        jobs.append({"job": row["job"], "trigger": row["trigger"], "next_run": row["next_run"],
                     "backoff_until": row["backoff_until"], "ok": last is None or last["status"] != "failed",
                     "last_run": None if last is None else {
                         "status": last["status"], "started_at": last["started_at"],
                         "finished_at": last["finished_at"], "error": _first_line(last["error"])}})
    return {"sources": sources, "clearinghouses": clearinghouses, "jobs": jobs,
            "ok": all(item["ok"] for item in sources + clearinghouses + jobs)}


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0][:300] if text and text.strip() else None
