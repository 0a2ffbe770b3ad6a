"""``claimbridge run``: APScheduler 3 with its jobs stored in the project's database.

The jobs live in the ``apscheduler_jobs`` table (APScheduler's :class:`SQLAlchemyJobStore`), so their next run
times survive a restart: a run missed while no process was up happens once (``coalesce``) when one starts, if
it is at most ``schedule.misfire_grace`` late. Several processes may share the table; each run takes the job's
lock first (:class:`~claimbridge.schedule.runner.JobRunner`), so a turn that two processes both see due is
done by one of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import column, inspect, select, table

from claimbridge.pipeline import Runtime
from claimbridge.schedule.jobs import KIND_ORDER, job_specs
from claimbridge.schedule.locks import cluster_lock
from claimbridge.schedule.runner import JobRunner, RunOutcome
from claimbridge.store.models import utcnow

log = logging.getLogger(__name__)

JOBS_TABLE = "apscheduler_jobs"
#: what APScheduler stores for every job: a reference it can import in any process, plus the job's name
JOB_FUNCTION = "claimbridge.schedule.service:run_scheduled_job"
SETUP_LOCK = "scheduler-setup"
#: how often a running scheduler looks for connectors added, changed or removed in the web UI
CONNECTORS_REFRESH_SECONDS = 15

# APScheduler stores the callable by reference, so it cannot carry the runtime; the one scheduler a process
# runs registers itself here while it is started.
_active: JobScheduler | None = None


def run_scheduled_job(name: str) -> None:
    """Called by APScheduler for the job ``name``."""
    scheduler = _active
    if scheduler is None:
        raise RuntimeError(f"job {name} fired with no claimbridge scheduler running in this process")
    scheduler.run_job(name)


class JobScheduler:
    """The jobs of one configuration on a background APScheduler; ``on_run`` hears about every run."""

    def __init__(self, runtime: Runtime, *, on_run: Callable[[RunOutcome], None] | None = None,
                 on_jobs_changed: Callable[[list[str], list[str]], None] | None = None):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self.runtime = runtime
        self.runner = JobRunner(runtime)
        self.specs = {spec.name: spec for spec in job_specs(runtime.settings)}
        self.on_run = on_run or (lambda outcome: None)
        self.on_jobs_changed = on_jobs_changed or (lambda added, removed: None)
        self._idle = threading.Condition()
        self._running = 0
        self._stopping = False
        self.misfire_grace = int(runtime.settings.schedule.misfire_grace.total_seconds())
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=runtime.store.engine, tablename=JOBS_TABLE),
                       "local": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(max_workers=max(4, len(self.specs) + 2))},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.misfire_grace},
            timezone=UTC)

    def start(self) -> None:
        """Bring the stored jobs in line with the configuration and start running them."""
        global _active
        if _active is not None:
            raise RuntimeError("a claimbridge scheduler is already running in this process")
        _active = self
        # two processes starting together must not both create the table or both add the jobs
        with cluster_lock(self.runtime.store, self.runner.lock_folder, SETUP_LOCK, wait=True):
            self.scheduler.start(paused=True)
            self._store_jobs()
        # this process's own housekeeping: not stored, not shared with other processes
        self.scheduler.add_job(self.refresh_connectors, "interval", seconds=CONNECTORS_REFRESH_SECONDS,
                               id="connectors-refresh", jobstore="local", coalesce=True, max_instances=1)
        self.scheduler.resume()

    def refresh_connectors(self) -> bool:
        """Schedule the connectors added in the web UI since the last look and drop the removed ones; True when
        the jobs changed. Counted as a running job, so :meth:`stop` lets it finish before APScheduler's shutdown
        takes the job-store lock this needs (and a stopping scheduler starts none)."""
        with self._idle:
            if self._stopping:
                return False
            self._running += 1
        try:
            return self._refresh_connectors()
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _refresh_connectors(self) -> bool:
        try:
            self.runtime.refresh_connectors(max_age=0)
        except Exception:  # a database hiccup must not stop the scheduler; the next look tries again
            log.exception("could not read the connectors added in the web UI")
            return False
        specs = {spec.name: spec for spec in job_specs(self.runtime.settings)}
        if specs == self.specs:
            return False
        added = sorted(set(specs) - set(self.specs))
        removed = sorted(set(self.specs) - set(specs))
        self.specs = specs
        with cluster_lock(self.runtime.store, self.runner.lock_folder, SETUP_LOCK, wait=True):
            self._store_jobs()
        log.info("connectors changed: jobs added %s, removed %s", ", ".join(added) or "none",
                 ", ".join(removed) or "none")
        self.on_jobs_changed(added, removed)
        return True

    def stop(self) -> None:
        """Start no more jobs, let the running ones finish, then shut APScheduler down."""
        from apscheduler.schedulers.base import STATE_STOPPED

        global _active
        try:
            with self._idle:
                self._stopping = True
            if self.scheduler.running:
                self.scheduler.pause()
            # APScheduler's shutdown(wait=True) waits for running jobs while holding its job-store lock, which
            # a finishing job needs to reschedule a retry: so wait for them here first
            with self._idle:
                self._idle.wait_for(lambda: self._running == 0)
            if self.scheduler.state != STATE_STOPPED:
                self.scheduler.shutdown(wait=True)
        finally:
            if _active is self:
                _active = None

    def serve(self, stop: threading.Event, seconds: float | None = None) -> None:
        """Run until ``stop`` is set (a signal) or ``seconds`` have passed, then stop gracefully."""
        try:
            self.start()
            stop.wait(seconds)
        finally:
            self.stop()

    def run_job(self, name: str) -> None:
        spec = self.specs.get(name)
        if spec is None:  # a job another process's configuration added; this process's does not know it
            log.warning("job %s is not in this process's configuration; left to the process that has it", name)
            return
        with self._idle:
            if self._stopping:  # fired as the process was stopping: a stopping process starts nothing
                return
            self._running += 1
        try:
            outcome = self.runner.run(spec)
            if outcome.retry_at is not None and not self._stopping:
                self._retry_at(name, outcome.retry_at)
            self.on_run(outcome)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _retry_at(self, name: str, when: datetime) -> None:
        """Bring a failed job's next run forward to the end of its backoff when that comes first."""
        job = self.scheduler.get_job(name)
        if job is not None and job.next_run_time is not None and when < job.next_run_time:
            job.modify(next_run_time=max(when, utcnow()))

    def _store_jobs(self) -> None:
        timezone = self.runtime.settings.schedule.timezone
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id not in self.specs:
                log.info("removing job %s: no longer in the configuration", job.id)
                job.remove()
        for spec in self.specs.values():
            trigger = spec.trigger(timezone)
            existing = self.scheduler.get_job(spec.name)
            options = {"func": JOB_FUNCTION, "args": (spec.name,), "name": spec.name}
            if existing is None:
                # an interval job runs at once the first time; a cron job waits for its time
                first = {"next_run_time": utcnow()} if spec.timing.every is not None else {}
                self.scheduler.add_job(id=spec.name, trigger=trigger, **options, **first)
                continue
            if _trigger_key(existing.trigger) != _trigger_key(trigger):
                log.info("job %s: schedule changed to %s", spec.name, spec.describe(timezone))
                self.scheduler.reschedule_job(spec.name, trigger=trigger)
            # keeps the stored next run time; picks up changed defaults (misfire grace)
            self.scheduler.modify_job(spec.name, **options, coalesce=True, max_instances=1,
                                      misfire_grace_time=self.misfire_grace)


def _trigger_key(trigger) -> tuple[str, str, str]:
    return type(trigger).__name__, str(trigger), str(getattr(trigger, "timezone", ""))


def run_once(runtime: Runtime, *, on_run: Callable[[RunOutcome], None] | None = None) -> list[RunOutcome]:
    """Every job once, now, in the order pull → submit → responses. Locks are taken as always (a job another
    process is running is reported ``busy``); backoff is not applied, since a person asked for the run."""
    runner = JobRunner(runtime)
    specs = sorted(job_specs(runtime.settings), key=lambda spec: KIND_ORDER.index(spec.kind))
    outcomes = []
    for spec in specs:
        outcome = runner.run(spec, honour_backoff=False)
        outcomes.append(outcome)
        if on_run:
            on_run(outcome)
    return outcomes


def next_run_times(runtime: Runtime) -> dict[str, datetime | None]:
    """Each stored job's next run time, read from the job table without unpickling anything (empty when no
    ``claimbridge run`` has started yet)."""
    engine = runtime.store.engine
    if not inspect(engine).has_table(JOBS_TABLE):
        return {}
    jobs = table(JOBS_TABLE, column("id"), column("next_run_time"))
    with engine.connect() as connection:
        rows = connection.execute(select(jobs.c.id, jobs.c.next_run_time)).all()
    return {job_id: datetime.fromtimestamp(ts, UTC) if ts is not None else None for job_id, ts in rows}


def describe_jobs(runtime: Runtime) -> list[dict]:
    """Each configured job: its trigger, next run, latest run and any backoff (``claimbridge jobs list``)."""
    from claimbridge.schedule import runs

    timezone = runtime.settings.schedule.timezone
    next_runs = next_run_times(runtime)
    last = runs.last_runs(runtime.store)
    rows = []
    for spec in job_specs(runtime.settings):
        with runtime.store.transaction() as session:
            backoff = runs.backoff_for(session, spec.name, runtime.settings.schedule.retry)
        next_run = next_runs.get(spec.name)
        rows.append({
            "job": spec.name,
            "trigger": spec.describe(timezone),
            "next_run": next_run.isoformat() if next_run else None,
            "last_run": last[spec.name].to_dict() if spec.name in last else None,
            "backoff_until": backoff.until.isoformat() if backoff and backoff.until > utcnow() else None,
        })
    return rows
