"""The rollup tables (migration 0008) stay equal to a from-scratch recompute through the whole loop — posting,
reversals and reprocessing, resubmission, overrides, denial work, deletes — on SQLite and PostgreSQL alike, and
the reports read from them answer what the joins over every claim answered."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from claimbridge.claims.lifecycle import StatusRecorder
from claimbridge.claims.worklist import resolve_denial
from claimbridge.inbound import fetch_responses
from claimbridge.posting.report import revenue_summary
from claimbridge.store import rollups
from claimbridge.store.models import Claim, Denial, RemittanceClaim, utcnow
from claimbridge.web import reports
from tests.test_end_to_end import Environment
from tests.test_responses import MODEL
from tests.web import reference_reports
from tests.web.test_reports import build


def assert_rollups_exact(store) -> dict:
    """The trigger-kept rollups equal what :func:`rollups.rebuild` computes from the tables now."""
    with store.engine.connect() as connection:
        kept = rollups.rollup_contents(connection)
        rollups.rebuild(connection)
        fresh = rollups.rollup_contents(connection)
        connection.rollback()  # the trigger-kept tables stay as they were
    for table in rollups.ROLLUP_TABLES:
        assert kept[table] == fresh[table], table
    assert snapshot(store, reports, revenue_summary) == snapshot(store, reference_reports,
                                                                  reference_reports.revenue_summary)
    return kept


def snapshot(store, module, revenue) -> dict:
    """Every report, seen from today and from 45 days on (open denials in a fixed order: ties)."""
    out = {"rates": module.denial_rates(store), "days": module.days_to_payment(store), "revenue": revenue(store)}
    out["revenue"]["open_denials"] = sorted(out["revenue"]["open_denials"], key=lambda d: d["category"])
    for offset in (0, 45):
        today = utcnow().date() + timedelta(days=offset)
        out[f"aging+{offset}"] = module.ar_aging(store, today)
        out[f"cash+{offset}"] = module.expected_cash(store, today)
    return out


def test_rollups_follow_the_web_world_through_denial_work_and_resubmission(world):
    pcn = build(world)
    kept = assert_rollups_exact(world.store)
    assert kept["rollup_claims_by_status"]
    before = revenue_summary(world.store)
    # the denial is appealed (still expected), then written off; another claim is paid and its payment reversed
    with world.store.transaction() as session:
        denial = session.execute(select(Denial).where(Denial.claim_id == world.claim(pcn).id)).scalars().first()
    recorder = StatusRecorder()
    with world.store.transaction() as session:
        resolve_denial(session, denial.id, resolution="appeal", reason="sent the notes", actor="jdoe", recorder=recorder)
    assert_rollups_exact(world.store)
    with world.store.transaction() as session:
        paid_rc = session.execute(select(RemittanceClaim).where(RemittanceClaim.outcome == "paid")).scalars().first()
        reversal = RemittanceClaim(remittance_id=paid_rc.remittance_id, claim_id=paid_rc.claim_id,
                                   version=paid_rc.version, pcn=paid_rc.pcn, status_code="22", outcome="reversal",
                                   charge=-paid_rc.charge, paid=-paid_rc.paid, match="matched",
                                   patient_responsibility=Decimal(0), reverses_id=paid_rc.id)
        session.add(reversal)
        session.flush()
        paid_rc.reversed_by_id = reversal.id
    assert_rollups_exact(world.store)
    assert revenue_summary(world.store)["claims_adjudicated"] == before["claims_adjudicated"] - 1
    # a claim deleted (intake does, for a claim never sent) and a set-based status change of many claims
    with world.store.transaction() as session:
        from sqlalchemy import update

        session.execute(update(Claim).where(Claim.status == "held").values(status="ready"))
    assert_rollups_exact(world.store)
    with world.store.transaction() as session:
        ready = session.execute(select(Claim).where(Claim.status == "ready")).scalars().first()
        session.execute(update(Claim).where(Claim.id == ready.id).values(charge=Decimal("999.99"),
                                                                        service_date=None))
    assert_rollups_exact(world.store)


def test_rollups_follow_the_whole_responses_loop(tmp_path, db_url):
    """Claims submitted, acknowledged, paid, denied, reversed and reprocessed by the sandbox payer (PLB interest
    included); then a denial written off and an unmatched payment."""
    environment = Environment(tmp_path, db_url)
    environment.sftp.adjudication = MODEL
    try:
        environment.run()
        with environment.runtime() as runtime:
            store = runtime.store
            assert_rollups_exact(store)
            summary = fetch_responses(runtime)
            assert summary.ok, summary.errors
            kept = assert_rollups_exact(store)
            assert kept["rollup_outcomes"] and kept["rollup_payment_days"] and kept["rollup_totals"]
            with store.transaction() as session:
                reversed_count = session.execute(select(RemittanceClaim).where(
                    RemittanceClaim.outcome == "reversal")).scalars().all()
                denial = session.execute(select(Denial).where(Denial.status == "open")).scalars().first()
            assert reversed_count, "the sandbox reverses some payments"
            if denial is not None:
                with store.transaction() as session:
                    resolve_denial(session, denial.id, resolution="write_off", reason="small balance", actor="jdoe",
                                   recorder=StatusRecorder())
                assert_rollups_exact(store)
            revenue = revenue_summary(store)
            assert Decimal(revenue["billed"]) > 0
    finally:
        environment.close()
