"""The scheduler behind ``claimbridge run`` (see docs/scheduling.md).

:mod:`~claimbridge.schedule.jobs` says which jobs a configuration has and what each does;
:mod:`~claimbridge.schedule.runner` runs one job under its lock and records it in ``job_runs``
(:mod:`~claimbridge.schedule.runs`, which also works out backoff); :mod:`~claimbridge.schedule.service` puts
the jobs on APScheduler; :mod:`~claimbridge.schedule.locks` holds the locks processes agree on.
"""

from claimbridge.schedule.jobs import JobSpec, job_specs
from claimbridge.schedule.runner import JobRunner, RunOutcome
from claimbridge.schedule.service import JobScheduler, describe_jobs, run_once

__all__ = ["JobRunner", "JobScheduler", "JobSpec", "RunOutcome", "describe_jobs", "job_specs", "run_once"]
