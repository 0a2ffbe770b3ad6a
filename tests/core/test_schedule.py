"""The scheduler's parts in one process: configuration, job list, locks, backoff and the job runner, against
the real database (SQLite, or PostgreSQL with CLAIMBRIDGE_TEST_POSTGRES_URL) and the sandboxes."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from claimbridge.config import RetrySettings, ScheduleSettings, load_config
from claimbridge.errors import ConfigError
from claimbridge.schedule import JobRunner, job_specs
from claimbridge.schedule.locks import cluster_lock
from claimbridge.schedule.runs import backoff_delay
from claimbridge.store.models import JobRun, utcnow
from tests.core.test_config import VALID, write
from tests.test_end_to_end import Environment


def test_defaults_pull_every_15_minutes_submit_every_two_hours_responses_every_30_minutes():
    schedule = ScheduleSettings()
    assert schedule.pull.every == timedelta(minutes=15) and schedule.pull.cron is None
    assert schedule.submit.cron == "0 */2 * * *" and schedule.submit.every is None
    assert schedule.responses.every == timedelta(minutes=30)
    assert (schedule.retry.base, schedule.retry.max) == (timedelta(seconds=60), timedelta(hours=1))
    assert schedule.timezone == "UTC"


def test_durations_read_as_people_write_them():
    schedule = ScheduleSettings.model_validate({"pull": {"every": "1h30m"}, "submit": {"every": 45},
                                                "responses": {"every": "PT2M"}, "misfire_grace": "1d"})
    assert schedule.pull.every == timedelta(minutes=90)
    assert schedule.submit.every == timedelta(seconds=45) and schedule.submit.cron is None
    assert schedule.responses.every == timedelta(minutes=2)
    assert schedule.misfire_grace == timedelta(days=1)


def test_schedule_mistakes_are_reported_at_once_with_their_key_paths(tmp_path):
    text = VALID + textwrap.dedent("""
        sources: [{name: ehr, type: fhir, settings: {base_url: "http://127.0.0.1:1/fhir"}}]
        schedule:
          timezone: Mars/Olympus
          pull: {every: soon, sources: {ehr: {every: 5m, cron: "* * * * *"}, other-ehr: {every: 1h}}}
          submit: {cron: "0 */2 * *"}
          responses: {cron: "61 * * * *"}
          retry: {base: 1h, max: 1m}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    problems = "\n".join(info.value.problems)
    assert "schedule.timezone: Value error, 'Mars/Olympus' is not an IANA time zone" in problems
    assert "schedule.pull.every: Value error, 'soon' is not a length of time" in problems
    assert "schedule.pull.sources.ehr: Value error, give either every or cron, not both" in problems
    assert ("schedule.submit.cron: Value error, '0 */2 * *' is not a cron expression (Wrong number of fields; "
            "got 4, expected 5); write five fields") in problems
    assert "schedule.responses.cron: Value error, '61 * * * *' is not a cron expression" in problems
    assert "schedule.retry: Value error, max must be at least base" in problems
    assert len(info.value.problems) == 6, problems


def test_a_per_source_timing_must_name_a_source(tmp_path):
    text = VALID + textwrap.dedent("""
        sources: [{name: ehr, type: fhir, settings: {base_url: "http://127.0.0.1:1/fhir"}}]
        schedule: {pull: {sources: {ehr-typo: {every: 1h}}}}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.problems == ["schedule.pull.sources.ehr-typo: no source named 'ehr-typo' (sources: ehr)"]


def test_config_check_names_a_bad_cron_expression(tmp_path):
    path = write(tmp_path, VALID + "schedule: {submit: {cron: '0 25 * * *'}}\n")
    done = subprocess.run([sys.executable, "-m", "claimbridge.cli", "config", "check", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "schedule.submit.cron: Value error, '0 25 * * *' is not a cron expression" in done.stderr
    assert "the last value (25) is higher than the maximum value (23)" in done.stderr


def test_jobs_follow_the_configuration_in_once_order(tmp_path):
    text = VALID + textwrap.dedent("""
        sources:
          - {name: a, type: fhir, settings: {base_url: "http://127.0.0.1:1/fhir"}}
          - {name: b, type: fhir, settings: {base_url: "http://127.0.0.1:1/fhir"}}
          - {name: paused, type: fhir, enabled: false, settings: {base_url: "http://127.0.0.1:1/fhir"}}
          - {name: quiet, type: fhir, settings: {base_url: "http://127.0.0.1:1/fhir"}}
        clearinghouses:
          - name: ch
            type: sftp
            trading_partner: {sender_id: S, receiver_id: R, receiver_name: RECEIVER}
            settings: {host: h, username: u, password: p, known_hosts: kh}
        schedule:
          timezone: America/Chicago
          pull: {every: 10m, sources: {b: {cron: "*/5 8-17 * * 1-5"}, quiet: {enabled: false}}}
          responses: {enabled: false}
        """)
    settings = load_config(write(tmp_path, text), env={})
    specs = job_specs(settings)
    assert [(s.name, s.describe(settings.schedule.timezone)) for s in specs] == [
        ("pull:a", "every 10m"),
        ("pull:b", "cron */5 8-17 * * 1-5 (America/Chicago)"),
        ("eligibility", "every 1h"),
        ("submit", "cron 0 */2 * * * (America/Chicago)"),
    ]
    assert str(specs[1].trigger(settings.schedule.timezone).timezone) == "America/Chicago"


def test_backoff_doubles_from_base_up_to_max():
    retry = RetrySettings(base=timedelta(seconds=60), max=timedelta(hours=1))
    assert [backoff_delay(n, retry).total_seconds() for n in range(0, 9)] == [
        0, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_delay(500, retry) == timedelta(hours=1)


def test_a_lock_has_one_holder_at_a_time(store, tmp_path):
    with (cluster_lock(store, tmp_path, "job:submit") as first,
          cluster_lock(store, tmp_path, "job:submit") as second,
          cluster_lock(store, tmp_path, "job:pull:x") as other):
        assert (first, second, other) == (True, False, True)
    with cluster_lock(store, tmp_path, "job:submit") as again:
        assert again


HOLD_LOCK = """
import sys, time
from pathlib import Path
from claimbridge.store import open_store
from claimbridge.schedule.locks import cluster_lock
store = open_store(sys.argv[1], migrate=False)
with cluster_lock(store, Path(sys.argv[2]), "job:submit") as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def test_a_lock_whose_process_dies_is_free_again(store, db_url, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url, str(tmp_path)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with cluster_lock(store, tmp_path, "job:submit") as held:
            assert not held
    finally:
        holder.kill()
        holder.wait()
    # the server notices the closed session on its own time; wait=True returns once it has
    with cluster_lock(store, tmp_path, "job:submit", wait=True) as held:
        assert held


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    yield environment
    environment.close()


def _configure(env: Environment, schedule: dict, *, dead_source: bool = False) -> None:
    config = yaml.safe_load(env.config_path.read_text())
    config["schedule"] = schedule
    if dead_source:
        config["sources"].append({"name": "dead-ehr", "type": "fhir", "settings": {
            "base_url": f"http://127.0.0.1:{_dead_port()}/fhir", "max_retries": 0, "timeout": 2}})
    env.config_path.write_text(yaml.safe_dump(config))


def _runs(runtime, job: str) -> list[JobRun]:
    with runtime.store.transaction() as session:
        return session.execute(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)).scalars().all()


def _age_runs(runtime, job: str, by: timedelta) -> None:
    """Move a job's recorded runs into the past, as if that much time had gone by."""
    with runtime.store.transaction() as session:
        for run in session.execute(select(JobRun).where(JobRun.job == job)).scalars():
            run.started_at -= by
            run.finished_at = run.finished_at - by if run.finished_at else None


def test_a_failing_job_backs_off_exponentially_and_says_why(env):
    _configure(env, {"retry": {"base": "1h", "max": "3h"}}, dead_source=True)
    with env.runtime() as runtime:
        runner = JobRunner(runtime)
        dead = next(s for s in job_specs(runtime.settings) if s.name == "pull:dead-ehr")
        first = runner.run(dead)
        assert first.status == "failed" and "dead-ehr" in first.error
        assert first.retry_at == _runs(runtime, "pull:dead-ehr")[0].finished_at + timedelta(hours=1)

        skipped = runner.run(dead)
        assert skipped.status == "skipped"
        assert skipped.error.startswith("backing off after 1 failure in a row; next try after ")
        assert "last error: source dead-ehr:" in skipped.error

        _age_runs(runtime, "pull:dead-ehr", timedelta(hours=1, minutes=1))
        second = runner.run(dead)
        assert second.status == "failed"
        last = _runs(runtime, "pull:dead-ehr")[-1]
        assert second.retry_at == last.finished_at + timedelta(hours=2)  # base·2

        _age_runs(runtime, "pull:dead-ehr", timedelta(hours=2, minutes=1))
        third = runner.run(dead)
        assert third.retry_at == _runs(runtime, "pull:dead-ehr")[-1].finished_at + timedelta(hours=3)  # max
        assert [r.status for r in _runs(runtime, "pull:dead-ehr")] == ["failed", "skipped", "failed", "failed"]
        assert all(r.counts for r in _runs(runtime, "pull:dead-ehr") if r.status == "failed")

        # a person asking for a run (claimbridge run --once) is not made to wait
        assert runner.run(dead, honour_backoff=False).status == "failed"

        # the healthy source's job is not held back by the other's failures
        good = next(s for s in job_specs(runtime.settings) if s.name == "pull:demo-fhir")
        assert runner.run(good).status == "succeeded"


def test_a_success_ends_the_backoff(env):
    _configure(env, {"retry": {"base": "1h", "max": "3h"}})
    with env.runtime() as runtime:
        spec = next(s for s in job_specs(runtime.settings) if s.kind == "pull")
        with runtime.store.transaction() as session:
            session.add(JobRun(job=spec.name, started_at=utcnow() - timedelta(hours=5),
                               finished_at=utcnow() - timedelta(hours=5), status="failed", error="boom", host="h",
                               pid=1))
        outcome = JobRunner(runtime).run(spec)
        assert outcome.status == "succeeded" and outcome.retry_at is None
        assert outcome.counts["new"] == outcome.counts["read"] > 0
        assert outcome.counts["claims_built"] == outcome.counts["encounters"]


def test_a_run_left_running_by_a_dead_process_is_closed_by_the_next_one(env):
    with env.runtime() as runtime:
        spec = next(s for s in job_specs(runtime.settings) if s.kind == "submit")
        with runtime.store.transaction() as session:
            session.add(JobRun(job="submit", started_at=utcnow() - timedelta(minutes=3), status="running",
                               host="elsewhere", pid=4242))
        # a run that died counts as a failure (a job that kills its process must not do so in a tight loop)
        outcome = JobRunner(runtime).run(spec)
        assert outcome.status == "skipped" and "after 1 failure" in outcome.error
        assert JobRunner(runtime).run(spec, honour_backoff=False).status == "succeeded"
        orphan, skipped, latest = _runs(runtime, "submit")
        assert orphan.status == "failed" and orphan.finished_at is not None
        assert "host elsewhere, pid 4242" in orphan.error and "ended before it finished" in orphan.error
        assert (skipped.status, latest.status) == ("skipped", "succeeded")


def test_a_job_whose_lock_is_held_elsewhere_records_nothing(env):
    with env.runtime() as runtime:
        runner = JobRunner(runtime)
        spec = next(s for s in job_specs(runtime.settings) if s.kind == "submit")
        with cluster_lock(runtime.store, runner.lock_folder, "job:submit") as held:
            assert held
            assert runner.run(spec).status == "busy"
        assert _runs(runtime, "submit") == []


def test_counts_are_stored_as_json(env):
    with env.runtime() as runtime:
        runner = JobRunner(runtime)
        for spec in job_specs(runtime.settings):
            if spec.kind in ("pull", "submit"):
                runner.run(spec)
        with runtime.store.transaction() as session:
            stored = session.execute(select(JobRun.job, JobRun.counts).order_by(JobRun.id)).all()
    assert [job for job, _ in stored] == ["pull:demo-fhir", "submit"]
    submit_counts = json.loads(stored[1][1])
    assert submit_counts["files_sent"] == 1 and submit_counts["claims_sent"] == env.clean_count
