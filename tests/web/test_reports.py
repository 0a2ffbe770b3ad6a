"""Dashboard analytics: AR aging, denial rates, days to payment, expected cash, health — over claims sent,
accepted, denied and paid at known dates; the API (viewer) and the dashboard page that draws them."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from claimbridge.schedule.runs import finish_run, start_run
from claimbridge.store.models import ClaimLine, SyncRun, utcnow
from claimbridge.web import reports

SENT = ("batched", "submitted", "accepted")


def service_date(world, pcn):
    with world.store.transaction() as session:
        return session.execute(select(ClaimLine.service_date).where(ClaimLine.pcn == pcn)).scalars().first()


def paid(world, encounter_id, *, days_after_service, charge="185.00", amount="150.00", payer_name="LAKESHORE"):
    """Send ``encounter_id`` and post an 835 that pays it ``days_after_service`` days after its service date."""
    world.pull(encounter_id)
    pcn = world.pcn_of(encounter_id)
    world.advance(pcn, *SENT, "paid")
    days_ago = (utcnow().date() - service_date(world, pcn)).days - days_after_service
    remittance = world.remit(days_ago=days_ago, payer_name=payer_name, amount=amount)
    world.remit_claim(remittance, pcn, outcome="paid", charge=charge, paid=amount, status_code="1")
    return pcn


def build(world):
    """enc-001 (service today-29, 200.00) submitted; enc-002 (today-22, 185.00) accepted; enc-003 (today-15,
    185.00) paid 10 days after service; enc-004 (today-8) paid 20 days after; enc-005 (today-1) paid 30 days
    after (Lakeshore); enc-006 (Medicaid, today-28) denied 150.00 (CO-16 N290)."""
    world.advance(world.pcn_of("enc-001"), "batched", "submitted")
    world.advance(world.pcn_of("enc-002"), *SENT)
    paid(world, "enc-003", days_after_service=10)
    paid(world, "enc-004", days_after_service=20)
    paid(world, "enc-005", days_after_service=30)
    pcn, _ = world.denied_claim("enc-006", payer_name="PRAIRIE MEDICAID")
    return pcn


def test_ar_aging_buckets_outstanding_by_date_of_service(world):
    build(world)
    today = utcnow().date()
    aging = reports.ar_aging(world.store, today)
    assert aging["buckets"] == [{"bucket": "0-30", "claims": 3, "amount": "535.00"},
                                {"bucket": "31-60", "claims": 0, "amount": "0.00"},
                                {"bucket": "61-90", "claims": 0, "amount": "0.00"},
                                {"bucket": "90+", "claims": 0, "amount": "0.00"}]
    assert aging["total"] == {"claims": 3, "amount": "535.00"}
    assert aging["by_status"] == [{"status": "accepted", "claims": 1, "amount": "185.00"},
                                  {"status": "denied", "claims": 1, "amount": "150.00"},
                                  {"status": "submitted", "claims": 1, "amount": "200.00"}]
    # 25 days on: enc-001 (29+25 = 54) and enc-006 (28+25 = 53) are 31-60, enc-002 (22+25 = 47) too
    later = reports.ar_aging(world.store, today + timedelta(days=25))
    assert [(b["bucket"], b["claims"], b["amount"]) for b in later["buckets"]] == [
        ("0-30", 0, "0.00"), ("31-60", 3, "535.00"), ("61-90", 0, "0.00"), ("90+", 0, "0.00")]
    # 62 days on: 91, 90, 84 days → 90+, 61-90, 61-90 (an age of exactly 90 is 61-90)
    latest = reports.ar_aging(world.store, today + timedelta(days=62))
    assert [(b["bucket"], b["claims"], b["amount"]) for b in latest["buckets"]] == [
        ("0-30", 0, "0.00"), ("31-60", 0, "0.00"), ("61-90", 2, "335.00"), ("90+", 1, "200.00")]


def test_a_written_off_denial_is_no_longer_outstanding(world):
    pcn = build(world)
    world.advance(pcn, "written_off")
    aging = reports.ar_aging(world.store, utcnow().date())
    assert aging["total"] == {"claims": 2, "amount": "385.00"}


def test_denial_rates_by_payer_and_category(world):
    build(world)
    rates = reports.denial_rates(world.store)
    assert rates["adjudicated"] == 4 and rates["denied"] == 1 and rates["rate"] == "0.2500"
    assert [(p["payer_name"], p["adjudicated"], p["denied"], p["rate"]) for p in rates["by_payer"]] == [
        ("LAKESHORE", 3, 0, "0.0000"), ("PRAIRIE MEDICAID", 1, 1, "1.0000")]
    assert rates["by_category"] == [{"category": rates["by_category"][0]["category"], "claims": 1,
                                     "amount": "150.00", "rate": "0.2500"}]


def test_days_to_payment_median_and_p90_by_payer(world):
    build(world)
    days = reports.days_to_payment(world.store)
    assert days["by_payer"] == [{"payer_id": "LKSHP", "payer_name": "LAKESHORE", "claims": 3, "median_days": 20,
                                 "p90_days": 30}]
    assert days["overall"] == {"claims": 3, "median_days": 20, "p90_days": 30}
    paid(world, "enc-007", days_after_service=12)  # Medicaid (pat-02): its own payer row
    days = reports.days_to_payment(world.store)
    assert [(p["payer_name"], p["median_days"], p["p90_days"]) for p in days["by_payer"]][0] == ("LAKESHORE", 20, 30)
    assert days["overall"] == {"claims": 4, "median_days": 16, "p90_days": 30}


def test_expected_cash_by_week(world):
    build(world)
    today = utcnow().date()
    cash = reports.expected_cash(world.store, today)
    # enc-002 (accepted, Lakeshore, service today-22) is expected at service + 20 days (the median) = today-2:
    # overdue, for 185.00 x (450.00 paid / 555.00 charged) = 150.00
    assert [(b["bucket"], b["claims"], b["amount"]) for b in cash["buckets"]] == [
        ("overdue", 1, "150.00"), ("week 1", 0, "0.00"), ("week 2", 0, "0.00"), ("week 3", 0, "0.00"),
        ("week 4", 0, "0.00"), ("later", 0, "0.00"), ("no history", 0, "0.00")]
    # seen from 3 weeks earlier, it is due in 19 days: week 3
    earlier = reports.expected_cash(world.store, today - timedelta(days=21))
    assert [(b["bucket"], b["claims"]) for b in earlier["buckets"] if b["claims"]] == [("week 3", 1)]
    assert earlier["buckets"][3]["start"] == (today - timedelta(days=7)).isoformat()


def test_expected_cash_without_history(world):
    world.advance(world.pcn_of("enc-002"), *SENT)
    cash = reports.expected_cash(world.store, utcnow().date())
    assert [(b["bucket"], b["claims"], b["amount"]) for b in cash["buckets"] if b["claims"]] == [
        ("no history", 1, "185.00")]


def test_health_rows(world):
    with world.store.transaction() as session:
        session.add(SyncRun(source="demo-fhir", status="failed", error="connection refused\ntraceback",
                            finished_at=utcnow()))
    run = start_run(world.store, "submit")
    finish_run(world.store, run, "succeeded", {"claims": 3})
    health = reports.connector_health(world.runtime)
    source = next(s for s in health["sources"] if s["name"] == "demo-fhir")
    assert source["ok"] is False and source["last_run"]["status"] == "failed"
    assert source["last_run"]["error"] == "connection refused"
    assert [c["name"] for c in health["clearinghouses"]] and all(c["ok"] for c in health["clearinghouses"])
    jobs = {j["job"]: j for j in health["jobs"]}
    assert jobs["submit"]["ok"] is True and jobs["submit"]["last_run"]["status"] == "succeeded"
    assert jobs["pull:demo-fhir"]["last_run"] is None
    assert health["ok"] is False


PATHS = ("/api/v1/reports/ar-aging", "/api/v1/reports/denial-rates", "/api/v1/reports/days-to-payment",
         "/api/v1/reports/expected-cash", "/api/v1/reports/health")


def test_api_reports_need_a_viewer(world, app, token_for):
    build(world)
    client = app.test_client()
    for path in PATHS:
        assert client.get(path).status_code == 401
        answer = client.get(path, headers=token_for("viewer"))
        assert answer.status_code == 200, path
    body = json.loads(client.get(PATHS[0], headers=token_for("viewer")).data)
    assert body["total"] == {"claims": 3, "amount": "535.00"}
    cash = client.get(PATHS[3] + "?weeks=2&today=" + utcnow().date().isoformat(), headers=token_for("viewer"))
    assert [b["bucket"] for b in json.loads(cash.data)["buckets"]] == ["overdue", "week 1", "week 2", "later",
                                                                       "no history"]
    assert client.get(PATHS[3] + "?weeks=99", headers=token_for("viewer")).status_code == 400
    assert client.get(PATHS[0] + "?today=soon", headers=token_for("viewer")).status_code == 400
    spec = json.loads(client.get("/api/v1/openapi.json", headers=token_for("viewer")).data)
    assert all(path.removeprefix("/api/v1") in spec["paths"] for path in PATHS)


def test_dashboard_draws_each_chart_with_its_numbers(world, as_role):
    build(world)
    page = as_role("viewer").get("/").data.decode()
    for chart in ("chart-status", "chart-aging", "chart-cash", "chart-denial-payer", "chart-denial-category"):
        assert f'<svg id="{chart}"' in page and f'<title id="{chart}-title">' in page
    assert 'id="outstanding">535.00<' in page
    assert "<td>0-30 days</td><td class=\"num\">3</td><td class=\"num\">535.00</td>" in page
    assert "<td>PRAIRIE MEDICAID</td><td class=\"num\">1</td><td class=\"num\">1</td>" in page
    assert "100.0%" in page
    assert "<td>LAKESHORE</td><td class=\"num\">3</td><td class=\"num\">20</td>" in page
    assert 'id="health"' in page and "badge" in page
    assert "style=" not in page
