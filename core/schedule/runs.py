"""The ``job_runs`` table: recording a run, the backoff it implies, and reading runs back.

Every row is written by a process holding the job's lock (:mod:`claimbridge.schedule.locks`), so a row still
``running`` when the lock is free again belongs to a process that died; the next run of the job closes it.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from claimbridge.config import RetrySettings
from claimbridge.store.db import Store
from claimbridge.store.models import JobRun, utcnow

#: more failures in a row than this cannot lengthen the wait past ``retry.max`` for any sane settings
_FAILURES_LOOKED_AT = 32


@dataclass(frozen=True)
class Backoff:
    """A job that failed ``failures`` times in a row waits until ``until`` before its next try."""

    failures: int
    last_failure: datetime
    until: datetime
    last_error: str | None

    def reason(self) -> str:
        plural = "s" if self.failures != 1 else ""
        return (f"backing off after {self.failures} failure{plural} in a row; next try after "
                f"{self.until:%Y-%m-%d %H:%M:%S} UTC (last error: {self.last_error or 'unknown'})")


def backoff_delay(failures: int, retry: RetrySettings) -> timedelta:
    """min(max, base·2^(failures−1)); no wait without failures."""
    if failures <= 0:
        return timedelta(0)
    return min(retry.max, retry.base * 2 ** min(failures - 1, _FAILURES_LOOKED_AT))


def backoff_for(session: Session, job: str, retry: RetrySettings) -> Backoff | None:
    """The job's backoff from its latest finished runs (skipped runs do not count either way), or None when
    its latest finished run succeeded or it never ran."""
    rows = session.execute(
        select(JobRun.status, JobRun.finished_at, JobRun.error)
        .where(JobRun.job == job, JobRun.status.in_(("succeeded", "failed")))
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(_FAILURES_LOOKED_AT)).all()
    failures = 0
    for status, _finished, _error in rows:
        if status != "failed":
            break
        failures += 1
    if not failures:
        return None
    _status, last_failure, last_error = rows[0]
    return Backoff(failures=failures, last_failure=last_failure,
                   until=last_failure + backoff_delay(failures, retry), last_error=_first_line(last_error))


def close_orphans(session: Session, job: str) -> int:
    """Mark runs of ``job`` still ``running`` as failed: the caller holds the job's lock, so their process
    ended (killed, power cut) before it could finish them. Returns how many there were."""
    orphans = session.execute(select(JobRun).where(JobRun.job == job, JobRun.status == "running")).scalars().all()
    for run in orphans:
        run.status = "failed"
        run.finished_at = utcnow()
        run.error = (f"the process running it (host {run.host}, pid {run.pid}) ended before it finished; "
                     "whatever it committed stays, the next run finishes the rest")
    return len(orphans)


def start_run(store: Store, job: str) -> int:
    """Record a ``running`` run of ``job`` by this process; returns its id."""
    with store.transaction() as session:
        run = JobRun(job=job, started_at=utcnow(), status="running", host=_host(), pid=os.getpid())
        session.add(run)
        session.flush()
        return run.id


def finish_run(store: Store, run_id: int, status: str, counts: dict | None = None, error: str | None = None) -> None:
    with store.transaction() as session:
        session.execute(update(JobRun).where(JobRun.id == run_id).values(
            status=status, finished_at=utcnow(), error=error,
            counts=json.dumps(counts, default=str) if counts is not None else None))


def record_skipped(session: Session, job: str, reason: str) -> None:
    now = utcnow()
    session.add(JobRun(job=job, started_at=now, finished_at=now, status="skipped", error=reason, host=_host(),
                       pid=os.getpid()))


@dataclass(frozen=True)
class RunRow:
    """One ``job_runs`` row as the CLI shows it."""

    id: int
    job: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict | None
    error: str | None
    host: str
    pid: int

    def to_dict(self) -> dict:
        return {"id": self.id, "job": self.job, "status": self.status, "started_at": _iso(self.started_at),
                "finished_at": _iso(self.finished_at), "counts": self.counts, "error": self.error,
                "host": self.host, "pid": self.pid}


def list_runs(store: Store, *, job: str | None = None, limit: int = 20) -> list[RunRow]:
    """The latest runs, newest first (all jobs, or one)."""
    query = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job:
        query = query.where(JobRun.job == job)
    with store.transaction() as session:
        return [_row(run) for run in session.execute(query).scalars()]


def last_runs(store: Store) -> dict[str, RunRow]:
    """Each job's latest run (any status)."""
    latest = select(func.max(JobRun.id)).group_by(JobRun.job)
    with store.transaction() as session:
        rows = session.execute(select(JobRun).where(JobRun.id.in_(latest))).scalars()
        return {run.job: _row(run) for run in rows}


def _row(run: JobRun) -> RunRow:
    return RunRow(id=run.id, job=run.job, status=run.status, started_at=run.started_at,
                  finished_at=run.finished_at, counts=json.loads(run.counts) if run.counts else None,
                  error=run.error, host=run.host, pid=run.pid)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _first_line(text: str | None) -> str | None:
    return text.splitlines()[0] if text else text


def _host() -> str:
    return socket.gethostname()[:100]
