"""The scheduled jobs: which exist for a configuration (:func:`job_specs`) and what each does
(:func:`run_job_body`).

* ``pull:<source>`` — sync one source, then build and scrub claims from what is stored.
* ``eligibility`` — ask (270) about the upcoming appointments the pulls brought in and send the questions.
* ``submit`` — batch ready claims, write and validate the 837s, send them to the first enabled clearinghouse.
* ``responses:<clearinghouse>`` — fetch and post that clearinghouse's acknowledgments and remittances.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from claimbridge.config import JobTiming, Settings
from claimbridge.pipeline import Runtime, build_claims, pull, submit
from claimbridge.schedule.locks import cluster_lock

log = logging.getLogger(__name__)

JobKind = Literal["pull", "eligibility", "submit", "responses"]
#: the order ``claimbridge run --once`` runs jobs in: claims are built before they are sent, and sent before
#: their answers are looked for
KIND_ORDER: tuple[JobKind, ...] = ("pull", "eligibility", "submit", "responses")
#: pull jobs of different sources run side by side; the claim building after each one takes turns
BUILD_LOCK = "build-claims"


@dataclass(frozen=True)
class JobSpec:
    """One scheduled job: its name (also its APScheduler id and its ``job_runs.job``) and when it runs."""

    name: str
    kind: JobKind
    target: str | None
    timing: JobTiming

    def trigger(self, timezone: str):
        """The APScheduler trigger (cron expressions are read in ``timezone``)."""
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.timing.cron is not None:
            return CronTrigger.from_crontab(self.timing.cron, timezone=timezone)
        return IntervalTrigger(seconds=self.timing.every.total_seconds(), timezone="UTC")

    def describe(self, timezone: str) -> str:
        text = self.timing.describe()
        return f"{text} ({timezone})" if self.timing.cron is not None else text


def job_specs(settings: Settings) -> list[JobSpec]:
    """Every job the configuration asks for, in ``--once`` order: one pull per enabled source, eligibility and
    submit when a clearinghouse is enabled, one responses job per enabled clearinghouse. Disabled timings are
    left out."""
    schedule = settings.schedule
    clearinghouses = [c for c in settings.clearinghouses if c.enabled]
    specs = [JobSpec(f"pull:{s.name}", "pull", s.name, schedule.pull.for_source(s.name))
             for s in settings.sources if s.enabled]
    if clearinghouses and settings.eligibility.enabled:
        specs.append(JobSpec("eligibility", "eligibility", None, schedule.eligibility))
    if clearinghouses:
        specs.append(JobSpec("submit", "submit", None, schedule.submit))
    specs += [JobSpec(f"responses:{c.name}", "responses", c.name, schedule.responses) for c in clearinghouses]
    return [spec for spec in specs if spec.timing.enabled]


@dataclass
class JobResult:
    """What one run of a job did: counts for ``job_runs.counts``; any error makes the run ``failed``."""

    counts: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def run_job_body(runtime: Runtime, spec: JobSpec, lock_folder: Path) -> JobResult:
    """Do the work of ``spec`` once. Failures of a source or clearinghouse come back in ``errors``; other
    claimbridge errors are raised."""
    if spec.kind == "pull":
        pulled = pull(runtime, [spec.target])
        with cluster_lock(runtime.store, lock_folder, BUILD_LOCK, wait=True):
            built = build_claims(runtime)
        return JobResult(counts=pulled.counts() | built.counts(), errors=pulled.errors + built.errors)
    if spec.kind == "eligibility":
        from claimbridge.eligibility.service import check_upcoming

        asked = check_upcoming(runtime)
        return JobResult(counts=asked.counts(), errors=asked.errors)
    if spec.kind == "submit":
        submitted = submit(runtime)
        return JobResult(counts=submitted.counts(), errors=submitted.errors)
    return _fetch_responses(runtime, spec.target)


def _fetch_responses(runtime: Runtime, clearinghouse: str) -> JobResult:
    from claimbridge.inbound import fetch_responses

    data = fetch_responses(runtime, clearinghouse_names=[clearinghouse]).to_dict()
    counts = {"files": data["files"], **{f"files_{status}": n for status, n in data["by_status"].items()},
              **{key: n for key, n in data["counts"].items() if n},
              **{f"money_{key}": amount for key, amount in data["money"].items()}}
    return JobResult(counts=counts, errors=[str(e) for e in data["errors"]])


def countable(data: Any) -> Any:
    """A summary reduced to what ``job_runs.counts`` keeps: numbers, flags and short text as they are, lists
    as their length (file names and claim lists belong in their own tables, not in every run's record)."""
    if isinstance(data, dict):
        return {str(k): countable(v) for k, v in data.items()}
    if isinstance(data, list | tuple | set):
        return len(data)
    if data is None or isinstance(data, bool | int | float):
        return data
    return str(data)
