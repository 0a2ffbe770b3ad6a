"""One run of one job, the same whether the scheduler or ``claimbridge run --once`` asks for it: take the job's
lock, honour its backoff, record the run in ``job_runs``, do the work, record how it ended."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from claimbridge.errors import ClaimbridgeError
from claimbridge.pipeline import Runtime
from claimbridge.schedule import runs
from claimbridge.schedule.jobs import JobSpec, run_job_body
from claimbridge.schedule.locks import cluster_lock
from claimbridge.store.db import is_conflict
from claimbridge.store.models import utcnow

log = logging.getLogger(__name__)

#: how many times a job whose transaction lost a deadlock or serialization conflict is run again at once
CONFLICT_RETRIES = 3


@dataclass
class RunOutcome:
    """How a run ended: ``succeeded``, ``failed``, ``skipped`` (backing off; recorded with the reason) or
    ``busy`` (another process or thread holds the job's lock; nothing recorded)."""

    job: str
    status: str
    counts: dict | None = None
    error: str | None = None
    run_id: int | None = None
    retry_at: datetime | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["retry_at"] = self.retry_at.isoformat() if self.retry_at else None
        return data


class JobRunner:
    """Runs jobs for one process. Thread-safe: each run uses its own sessions and lock."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.lock_folder: Path = runtime.settings.workdir / "locks"

    def run(self, spec: JobSpec, *, honour_backoff: bool = True) -> RunOutcome:
        store, retry = self.runtime.store, self.runtime.settings.schedule.retry
        with cluster_lock(store, self.lock_folder, f"job:{spec.name}") as held:
            if not held:
                log.info("job %s is running elsewhere; this turn is left to it", spec.name)
                return RunOutcome(spec.name, "busy")
            with store.transaction() as session:
                if runs.close_orphans(session, spec.name):
                    log.warning("job %s: closed a run left unfinished by a process that ended", spec.name)
                backoff = runs.backoff_for(session, spec.name, retry) if honour_backoff else None
                if backoff is not None and utcnow() < backoff.until:
                    runs.record_skipped(session, spec.name, backoff.reason())
                    return RunOutcome(spec.name, "skipped", error=backoff.reason(), retry_at=backoff.until)
            return self._run_recorded(spec)

    def _run_recorded(self, spec: JobSpec) -> RunOutcome:
        store = self.runtime.store
        run_id = runs.start_run(store, spec.name)
        try:
            result, retried = self._body(spec)
        except ClaimbridgeError as exc:
            return self._failed(spec, run_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug in one job must not stop the others; kept in job_runs
            log.exception("job %s failed unexpectedly", spec.name)
            return self._failed(spec, run_id, f"{type(exc).__name__}: {exc}")
        except BaseException:
            runs.finish_run(store, run_id, "failed", error="interrupted (the process was asked to stop at once)")
            raise
        if retried:
            result.counts = {**result.counts, "retried_after_conflict": retried}
        if result.errors:
            return self._failed(spec, run_id, "; ".join(result.errors), result.counts)
        runs.finish_run(store, run_id, "succeeded", counts=result.counts)
        return RunOutcome(spec.name, "succeeded", counts=result.counts, run_id=run_id)

    def _body(self, spec: JobSpec):
        """The job's work; a transaction PostgreSQL rolled back for a deadlock or a serialization conflict with
        another writer (two jobs changing claims that share summary rows, say) is simply run again — every job
        is safe to repeat — up to :data:`CONFLICT_RETRIES` times, after a short pause."""
        retried = 0
        while True:
            try:
                return run_job_body(self.runtime, spec, self.lock_folder), retried
            except DBAPIError as exc:
                if not is_conflict(exc) or retried >= CONFLICT_RETRIES:
                    raise
                retried += 1
                log.warning("job %s: the database rolled back a conflicting transaction (%s); running it again",
                            spec.name, getattr(exc.orig, "sqlstate", "?"))
                time.sleep(0.05 * retried + random.random() * 0.1)

    def _failed(self, spec: JobSpec, run_id: int, error: str, counts: dict | None = None) -> RunOutcome:
        store = self.runtime.store
        runs.finish_run(store, run_id, "failed", counts=counts, error=error)
        log.error("job %s failed: %s", spec.name, error)
        with store.transaction() as session:
            backoff = runs.backoff_for(session, spec.name, self.runtime.settings.schedule.retry)
        return RunOutcome(spec.name, "failed", counts=counts, error=error, run_id=run_id,
                          retry_at=backoff.until if backoff else None)
