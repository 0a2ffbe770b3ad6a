"""Report snapshots: computed at most once per TTL, served stale while one background refresh runs."""

from __future__ import annotations

import threading
import time

from claimbridge.web.cache import ReportCache


def test_a_fresh_snapshot_is_served_without_computing_again():
    calls = []
    cache = ReportCache(ttl=60)
    first = cache.get("k", lambda: calls.append(1) or {"n": len(calls)})
    again = cache.get("k", lambda: calls.append(1) or {"n": len(calls)})
    assert first is again and first.value == {"n": 1} and calls == [1]


def test_a_stale_snapshot_is_served_at_once_and_refreshed_once_in_the_background():
    cache = ReportCache(ttl=0.05)
    release = threading.Event()
    calls = []

    def slow():
        calls.append(1)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert cache.get("k", slow).value == 1
    time.sleep(0.1)
    stale = [cache.get("k", slow).value for _ in range(5)]  # no request waits; one refresh starts
    assert stale == [1] * 5 and len(calls) == 2
    release.set()
    for _ in range(100):
        if cache.get("k", slow).value == 2:
            break
        time.sleep(0.01)
    assert cache.get("k", slow).value == 2


def test_ttl_zero_computes_every_time_and_a_failed_refresh_keeps_the_old_snapshot():
    counter = iter(range(10))
    assert [ReportCache(0).get("k", lambda: next(counter)).value for _ in range(3)] == [0, 1, 2]
    cache = ReportCache(ttl=0.01)
    assert cache.get("k", lambda: "old").value == "old"
    time.sleep(0.05)

    def broken():
        raise RuntimeError("database went away")

    assert cache.get("k", broken).value == "old"
    time.sleep(0.05)
    assert cache.get("k", lambda: "new").value in ("old", "new")


def test_the_dashboard_and_reports_say_when_their_snapshot_was_taken(app, as_role, token_for):
    app.extensions["claimbridge_reports"].ttl = 60
    client = as_role("viewer")
    first = client.get("/api/v1/reports/revenue").json
    again = client.get("/api/v1/reports/revenue").json
    assert first["as_of"] == again["as_of"]
    assert "Totals as of " in client.get("/").get_data(as_text=True)
