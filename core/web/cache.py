"""Report snapshots: the dashboard's aggregates over every claim and payment are computed at most once per
``web.report_cache_seconds`` per app, and served from the last snapshot meanwhile.

A request that finds its snapshot older than that gets the snapshot at once and starts one background
recomputation (stale-while-revalidate); only the first request for a report waits for it. Snapshots carry the
time they were taken (``as_of``), which the pages and the API show. With 0 seconds every request computes.

Since the reports read the rollup tables (migration 0008) a computation takes milliseconds — the whole dashboard
about 50 ms at 1,000,000 claims (benchmarks/web_bench.py) — so snapshots now save little; they stay for the
setting's sake and for the slowest moments (a busy database), and 0 is a fair choice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Snapshot:
    value: Any
    taken: float  # time.time()
    took: float   # seconds it took


class ReportCache:
    def __init__(self, ttl: float):
        self.ttl = ttl
        self._snapshots: dict[Hashable, Snapshot] = {}
        self._refreshing: set[Hashable] = set()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Snapshot:
        if self.ttl <= 0:
            return self._compute(key, compute)
        with self._lock:
            held = self._snapshots.get(key)
            stale = held is not None and time.time() - held.taken > self.ttl
            start = stale and key not in self._refreshing
            if start:
                self._refreshing.add(key)
        if held is None:
            return self._compute(key, compute)
        if start:
            threading.Thread(target=self._refresh, args=(key, compute), name="claimbridge-report", daemon=True).start()
        return held

    def _compute(self, key: Hashable, compute: Callable[[], Any]) -> Snapshot:
        started = time.time()
        value = compute()
        snapshot = Snapshot(value, started, time.time() - started)
        if self.ttl > 0:
            with self._lock:
                self._snapshots[key] = snapshot
        return snapshot

    def _refresh(self, key: Hashable, compute: Callable[[], Any]) -> None:
        try:
            self._compute(key, compute)
        except Exception:  # noqa: BLE001 - the old snapshot stays; the next request tries again
            log.exception("refreshing report %s failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)


def report(key: Hashable, compute: Callable[[], Any]) -> Snapshot:
    """The snapshot of ``key`` for the current app (see the module docstring)."""
    from flask import current_app

    cache: ReportCache = current_app.extensions["claimbridge_reports"]
    return cache.get(key, compute)


def snapshot_response(key: Hashable, compute: Callable[[], Any]):
    """The API response of report ``key`` from its snapshot, with ``as_of`` (when it was computed)."""
    from datetime import UTC, datetime

    from claimbridge.web.api import _json

    snapshot = report(key, compute)
    value = snapshot.value
    if isinstance(value, dict):
        value = {**value, "as_of": datetime.fromtimestamp(snapshot.taken, UTC).isoformat()}
    return _json(value)
