"""``claimbridge run`` as it is deployed: real processes against the FHIR sandbox, the SFTP sandbox
clearinghouse and the database (SQLite, or PostgreSQL with CLAIMBRIDGE_TEST_POSTGRES_URL; the tests of several
processes sharing the work need PostgreSQL)."""

from __future__ import annotations

import json
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import column, inspect, select, table, update

from claimbridge.pipeline import build_claims, pull, submit
from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox
from claimbridge.store import open_store
from claimbridge.store.models import Batch, ClaimVersion, JobRun
from tests.test_end_to_end import HELD, Environment

NEEDS_POSTGRES = ("needs PostgreSQL: set CLAIMBRIDGE_TEST_POSTGRES_URL to an admin URL such as "
                  "postgresql://claimbridge:claimbridge@127.0.0.1/postgres (SQLite serves one machine only)")
#: upper bound for waiting on work that normally takes seconds; never an assertion about speed
PATIENCE = 240


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    yield environment
    environment.close()


def configure(env: Environment, schedule: dict, *, extra_sources: list[dict] = ()) -> None:
    """The schedule of ``schedule``; the eligibility job is off unless it says otherwise (these tests are about
    pulling, submitting and fetching)."""
    config = yaml.safe_load(env.config_path.read_text())
    config["schedule"] = {"eligibility": {"enabled": False}, **schedule}
    config["sources"] += list(extra_sources)
    env.config_path.write_text(yaml.safe_dump(config))


def command(env: Environment, *args: str) -> list[str]:
    return [sys.executable, "-m", "claimbridge.cli", "--config", str(env.config_path), *args]


def cli(env: Environment, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(env, *args), capture_output=True, text=True, timeout=PATIENCE)


def start(env: Environment, *args: str) -> subprocess.Popen:
    return subprocess.Popen(command(env, "run", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> tuple[str, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=PATIENCE)
    return out, err


def job_runs(env: Environment) -> list[JobRun]:
    store = open_store(yaml.safe_load(env.config_path.read_text())["database"]["url"], migrate=False)
    try:
        if not inspect(store.engine).has_table("job_runs"):
            return []  # the process has not migrated the database yet
        with store.transaction() as session:
            return session.execute(select(JobRun).order_by(JobRun.id)).scalars().all()
    finally:
        store.dispose()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def assert_no_job_overlaps_itself(runs: list[JobRun]) -> None:
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        by_job.setdefault(run.job, []).append(run)
    for job, own in by_job.items():
        own.sort(key=lambda r: (r.started_at, r.id))
        for earlier, later in zip(own, own[1:], strict=False):
            assert earlier.finished_at is not None, f"{job} run {earlier.id} never finished"
            assert earlier.finished_at <= later.started_at, (
                f"{job}: run {earlier.id} (pid {earlier.pid}, {earlier.started_at}–{earlier.finished_at}) "
                f"overlaps run {later.id} (pid {later.pid}, started {later.started_at})")


def test_run_once_runs_pull_then_submit_then_responses_and_prints_counts(env):
    first = cli(env, "run", "--once")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    jobs = [line.split()[3] for line in lines if line[:4].isdigit()]
    assert jobs == ["pull:demo-fhir", "eligibility", "submit", "responses:sandbox"]
    assert f"encounters {len([r for r in env.resources if r['resourceType'] == 'Encounter'])}," in lines[0]
    submitted = next(line for line in lines if " submit " in line)
    assert "succeeded" in submitted and f"files_sent 1, claims_sent {env.clean_count}" in submitted

    again = cli(env, "run", "--once", "--json")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["ok"] is True
    assert [(j["job"], j["status"]) for j in summary["jobs"]] == [
        ("pull:demo-fhir", "succeeded"), ("eligibility", "succeeded"), ("submit", "succeeded"),
        ("responses:sandbox", "succeeded")]
    assert summary["jobs"][0]["counts"]["new"] == 0 and summary["jobs"][2]["counts"]["files_sent"] == 0
    assert len(env.received()) == 1

    listed = json.loads(cli(env, "jobs", "list", "--json").stdout)
    assert [(j["job"], j["trigger"], j["next_run"]) for j in listed] == [
        ("pull:demo-fhir", "every 15m", None), ("eligibility", "every 1h", None),
        ("submit", "cron 0 */2 * * * (UTC)", None), ("responses:sandbox", "every 30m", None)]
    assert all(j["last_run"]["status"] == "succeeded" for j in listed)
    runs = json.loads(cli(env, "jobs", "runs", "--job", "submit", "--limit", "1", "--json").stdout)
    assert [(r["job"], r["counts"]["files_sent"]) for r in runs] == [("submit", 0)]
    assert len(json.loads(cli(env, "jobs", "runs", "--json").stdout)) == 8


def test_a_failing_source_backs_off_and_the_other_jobs_go_on(env):
    configure(env, {"pull": {"every": "1s"}, "submit": {"every": "1s"}, "responses": {"every": "1s"},
                    "retry": {"base": "2s", "max": "4s"}},
              extra_sources=[{"name": "dead-ehr", "type": "fhir", "settings": {
                  "base_url": f"http://127.0.0.1:{unused_port()}/fhir", "max_retries": 0, "timeout": 2}}])
    process = start(env, "--for", "600")
    try:
        def settled() -> bool:
            runs = job_runs(env)
            dead = [r for r in runs if r.job == "pull:dead-ehr" and r.status == "failed"]
            return len(dead) >= 3 and len(env.received_pcns()) == env.clean_count
        wait_for(settled, "three failed pulls of the dead source and every clean claim sent")
    finally:
        out, err = stop(process)
    assert process.returncode == 0, err
    runs = job_runs(env)
    dead = [r for r in runs if r.job == "pull:dead-ehr"]
    failures = [r for r in dead if r.status == "failed"]
    assert all("source dead-ehr" in r.error for r in failures)
    # each retry waited at least min(max, base·2^(n-1)) after the failure before it
    for n, (earlier, later) in enumerate(zip(failures, failures[1:], strict=False), start=1):
        assert later.started_at - earlier.finished_at >= min(timedelta(seconds=4), timedelta(seconds=2 * 2 ** (n - 1)))
    skips = [r for r in dead if r.status == "skipped"]
    assert skips and all(r.error.startswith("backing off after ") for r in skips)
    assert "backing off after" in out and "pull:dead-ehr" in out
    # the healthy source, submit and responses ran and succeeded throughout
    for job in ("pull:demo-fhir", "submit", "responses:sandbox"):
        assert {r.status for r in runs if r.job == job} == {"succeeded"}, [
            (r.id, r.status, r.error) for r in runs if r.job == job and r.status != "succeeded"]
    assert sorted(env.received_pcns()) == sorted(set(env.received_pcns()))
    assert_no_job_overlaps_itself(runs)


def _stored_next_run(env: Environment, job: str) -> datetime:
    jobs = table("apscheduler_jobs", column("id"), column("next_run_time"))
    with env.runtime() as runtime, runtime.store.engine.connect() as connection:
        stamp = connection.execute(select(jobs.c.next_run_time).where(jobs.c.id == job)).scalar_one()
    return datetime.fromtimestamp(stamp, UTC)


def _move_stored_next_run(env: Environment, job: str, when: datetime) -> None:
    """What a process that went down a while ago leaves behind: a next run time in the past."""
    jobs = table("apscheduler_jobs", column("id"), column("next_run_time"), column("job_state"))
    with env.runtime() as runtime, runtime.store.engine.begin() as connection:
        state = pickle.loads(connection.execute(select(jobs.c.job_state).where(jobs.c.id == job)).scalar_one())
        state["next_run_time"] = when
        connection.execute(update(jobs).where(jobs.c.id == job).values(
            job_state=pickle.dumps(state, pickle.HIGHEST_PROTOCOL), next_run_time=when.timestamp()))


def test_a_restart_keeps_the_schedule_and_a_missed_turn_runs_once(env):
    configure(env, {"pull": {"every": "1h"}, "submit": {"cron": "0 0 1 1 *"}, "responses": {"enabled": False}})
    first = start(env, "--for", "600")
    try:
        wait_for(lambda: any(r.status == "succeeded" for r in job_runs(env)), "the first pull")
    finally:
        stop(first)
    assert first.returncode == 0
    pull_next = _stored_next_run(env, "pull:demo-fhir")
    submit_next = _stored_next_run(env, "submit")
    assert submit_next == datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)

    second = subprocess.run(command(env, "run", "--for", "2"), capture_output=True, text=True, timeout=PATIENCE)
    assert second.returncode == 0, second.stderr
    assert [r.job for r in job_runs(env)] == ["pull:demo-fhir"]  # not run again on the restart
    assert _stored_next_run(env, "pull:demo-fhir") == pull_next
    assert _stored_next_run(env, "submit") == submit_next
    listed = json.loads(cli(env, "jobs", "list", "--json").stdout)
    assert listed[0]["next_run"] == pull_next.isoformat()

    # down for three turns: on the next start the pull runs once (coalesced), not three times
    _move_stored_next_run(env, "pull:demo-fhir", datetime.now(UTC) - timedelta(hours=3))
    third = start(env, "--for", "600")
    try:
        wait_for(lambda: len(job_runs(env)) == 2 and job_runs(env)[-1].finished_at is not None, "the missed pull")
        time.sleep(2)  # room for a second (wrong) run to show up
    finally:
        stop(third)
    assert [r.job for r in job_runs(env)] == ["pull:demo-fhir", "pull:demo-fhir"]
    assert _stored_next_run(env, "pull:demo-fhir") > datetime.now(UTC) + timedelta(minutes=30)

    # a changed schedule replaces the stored one
    configure(env, {"pull": {"every": "6h"}, "submit": {"cron": "0 0 1 1 *"}, "responses": {"enabled": False}})
    subprocess.run(command(env, "run", "--for", "1"), capture_output=True, text=True, timeout=PATIENCE)
    assert _stored_next_run(env, "pull:demo-fhir") > datetime.now(UTC) + timedelta(hours=5)
    assert [j["trigger"] for j in json.loads(cli(env, "jobs", "list", "--json").stdout)] == [
        "every 6h", "cron 0 0 1 1 * (UTC)"]


def test_sigterm_lets_the_running_job_finish(env):
    # a source that accepts connections and never answers: its pull runs until the read times out
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    configure(env, {"pull": {"every": "1h"}, "submit": {"cron": "0 0 1 1 *"}, "responses": {"enabled": False}},
              extra_sources=[{"name": "slow-ehr", "type": "fhir", "settings": {
                  "base_url": f"http://127.0.0.1:{silent.getsockname()[1]}/fhir", "max_retries": 0,
                  "timeout": 5}}])
    process = start(env)
    try:
        wait_for(lambda: any(r.job == "pull:slow-ehr" and r.status == "running" for r in job_runs(env)),
                 "the slow pull to start")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=PATIENCE)
    finally:
        if process.poll() is None:
            process.kill()
        silent.close()
    assert process.returncode == 0, err
    assert "stopping after the running jobs finish" in err and "stopped" in err
    slow = [r for r in job_runs(env) if r.job == "pull:slow-ehr"]
    assert len(slow) == 1 and slow[0].status == "failed" and slow[0].finished_at is not None
    assert "slow-ehr" in slow[0].error
    assert not [r for r in job_runs(env) if r.status == "running"]


def _stage_encounters(env: Environment, first: int) -> tuple[list[dict], list[dict]]:
    """Serve only the first ``first`` encounters; return those and the rest (to be added while claimbridge
    runs)."""
    encounters = [r for r in env.resources if r["resourceType"] == "Encounter"]
    others = [r for r in env.resources if r["resourceType"] != "Encounter"]
    env.fhir.stop()
    env.fhir = FhirSandbox(others + encounters[:first])
    env.fhir.start()
    config = yaml.safe_load(env.config_path.read_text())
    config["sources"][0]["settings"]["base_url"] = env.fhir.base_url
    env.config_path.write_text(yaml.safe_dump(config))
    # without meta.lastUpdated a loaded encounter is stamped now, so the next pull sees it
    return encounters[:first], [{k: v for k, v in r.items() if k != "meta"} for r in encounters[first:]]


def test_two_processes_share_the_work_without_doing_anything_twice(env, db_url):
    if not db_url.startswith("postgresql"):
        pytest.skip(NEEDS_POSTGRES)
    served, later = _stage_encounters(env, first=8)
    configure(env, {"pull": {"every": "1s"}, "submit": {"every": "1s"}, "responses": {"every": "1s"},
                    "retry": {"base": "1s", "max": "2s"}})
    processes = [start(env, "--json") for _ in range(2)]
    try:
        while True:
            clean = sum(1 for r in served if r["id"] not in HELD)
            wait_for(lambda clean=clean: len(env.received_pcns()) == clean, f"{clean} clean claims to arrive")
            if not later:
                break
            wave, later = later[:5], later[5:]
            env.fhir.load(wave)  # new sessions while both processes run: another file
            served += wave
        assert len(env.received_pcns()) == env.clean_count
        wait_for(lambda: {r.pid for r in job_runs(env) if r.status == "succeeded"} == {p.pid for p in processes},
                 "both processes to have done part of the work")
        wait_for(lambda: any(r.job == "responses:sandbox" and json.loads(r.counts or "{}").get("files")
                             for r in job_runs(env)), "responses to be fetched")
        time.sleep(3)  # a few more turns in which nothing may be done twice
    finally:
        outputs = [stop(p) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err

    pcns = env.received_pcns()
    assert len(pcns) == len(set(pcns)) == env.clean_count
    isa13s = [path.read_text()[90:99] for path in env.received()]
    assert len(env.received()) > 1 and len(isa13s) == len(set(isa13s))
    with env.runtime() as runtime, runtime.store.transaction() as session:
        sent = session.execute(select(ClaimVersion.pcn).where(ClaimVersion.batch_id.is_not(None))).scalars().all()
        assert sorted(sent) == sorted(pcns)
        assert set(session.execute(select(Batch.status)).scalars()) == {"submitted"}

    runs = job_runs(env)
    assert_no_job_overlaps_itself(runs)
    assert not [(r.job, r.pid, r.error) for r in runs if r.status != "succeeded"]
    printed = [json.loads(line) for out, _err in outputs for line in out.splitlines()]
    assert {line["status"] for line in printed} <= {"succeeded", "busy"}
    assert sum(1 for line in printed if line["status"] == "succeeded") == len(runs)


def test_two_submits_at_once_send_each_claim_once(env):
    """If a job lock were lost and two processes submitted together, the outbound lock (an advisory lock on
    PostgreSQL, an flock on SQLite) and FOR UPDATE SKIP LOCKED still keep every claim in exactly one file."""
    with env.runtime() as runtime:
        pull(runtime)
        build_claims(runtime)
    results, barrier = [], threading.Barrier(2)

    def send() -> None:
        with env.runtime() as runtime:
            barrier.wait()
            results.append(submit(runtime))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    errors = [e for r in results for e in r.errors]
    assert all("already running in another worker" in e for e in errors), errors
    sent = [b for r in results for o in r.outbound.values() for b in o.batches if b.status == "submitted"]
    assert sum(b.claims for b in sent) == env.clean_count
    pcns = env.received_pcns()
    assert len(pcns) == len(set(pcns)) == env.clean_count
    isa13s = [path.read_text()[90:99] for path in env.received()]
    assert len(isa13s) == len(set(isa13s))


def test_batch_allocation_in_parallel_puts_each_claim_in_one_batch(env, db_url):
    """The allocation step alone, run by four workers at once (no outbound lock): SKIP LOCKED on
    PostgreSQL, one writer at a time on SQLite."""
    from claimbridge.outbound import Outbound
    from claimbridge.pipeline import build_claims, pull

    config = yaml.safe_load(env.config_path.read_text())
    config["clearinghouses"][0]["trading_partner"]["max_claims_per_file"] = 3
    env.config_path.write_text(yaml.safe_dump(config))
    with env.runtime() as runtime:
        pull(runtime)
        build_claims(runtime)
    created: list[int] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(4)

    def allocate() -> None:
        try:
            with env.runtime() as runtime:
                outbound = Outbound(runtime.store, runtime.settings, runtime.plugins)
                barrier.wait()
                created.extend(outbound.allocate_batches(runtime.settings.clearinghouses[0]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    with env.runtime() as runtime, runtime.store.transaction() as session:
        batched = session.execute(select(ClaimVersion.pcn, ClaimVersion.batch_id)
                                  .where(ClaimVersion.batch_id.is_not(None))).all()
        isa13s = session.execute(select(Batch.isa13)).scalars().all()
    assert len(batched) == env.clean_count
    assert len({pcn for pcn, _ in batched}) == len(batched)
    assert len(created) == len(set(created)) == len(isa13s) == len(set(isa13s)) == -(-env.clean_count // 3)


def test_the_scheduler_table_leaves_the_migrations_current(env):
    assert cli(env, "run", "--for", "1").returncode == 0
    with env.runtime() as runtime:
        assert inspect(runtime.store.engine).has_table("apscheduler_jobs")
        assert runtime.store.is_current()
        runtime.store.migrate()
        assert runtime.store.is_current()


def test_run_serves_the_admin_ui_while_the_jobs_run_and_a_second_process_goes_on_without_it(env):
    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = yaml.safe_load(env.config_path.read_text())
    config["web"] = {"port": port}
    config["schedule"] = {"pull": {"every": "1h"}, "submit": {"every": "1h"}, "responses": {"every": "1h"}}
    env.config_path.write_text(yaml.safe_dump(config))
    first = start(env)
    try:
        for _ in range(PATIENCE * 10):
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                if first.poll() is not None:
                    raise AssertionError(first.stderr.read()) from None
                time.sleep(0.1)
        assert health.json() == {"ok": True}
        assert requests.get(f"http://127.0.0.1:{port}/api/v1/claims", timeout=5).status_code == 401
        second = subprocess.run(command(env, "run", "--for", "1"), capture_output=True, text=True, timeout=PATIENCE)
        assert second.returncode == 0, second.stderr
        assert "not serving the UI" in second.stderr and "claimbridge run: stopped" in second.stderr
    finally:
        out, err = stop(first)
    assert f"admin UI and API on http://127.0.0.1:{port}/" in err


def test_a_connector_added_in_the_web_ui_is_scheduled_by_the_running_process_and_dropped_when_removed(env, tmp_path):
    import requests

    from claimbridge.web.auth import add_user, create_token

    port = unused_port()
    config = yaml.safe_load(env.config_path.read_text())
    config["web"] = {"port": port}
    config["schedule"] = {"pull": {"every": "1h"}, "submit": {"every": "1h"}, "responses": {"every": "1h"}}
    env.config_path.write_text(yaml.safe_dump(config))
    folder = tmp_path / "bulk-export"
    folder.mkdir()
    (folder / "Encounter.000.ndjson").write_text("")
    process = start(env)
    try:
        wait_for(lambda: any(run.job == "pull:demo-fhir" for run in job_runs(env)), "the first pull")
        store = open_store(config["database"]["url"], migrate=False)
        try:
            add_user(store, "it-admin", "correct horse battery", "admin")
            headers = {"Authorization": f"Bearer {create_token(store, 'it-admin', 'tests')}"}
        finally:
            store.dispose()
        base = f"http://127.0.0.1:{port}/api/v1"
        added = requests.post(f"{base}/connectors", headers=headers, timeout=30, json={
            "kind": "source", "name": "bulk", "type": "fhir_bulk", "settings": {"folder": str(folder)}})
        assert added.status_code == 201, added.text
        # the scheduler looks every 15 s; a new interval job runs at once
        wait_for(lambda: any(run.job == "pull:bulk" and run.status == "succeeded" for run in job_runs(env)),
                 "the new source's first pull")
        assert requests.delete(f"{base}/connectors/source/bulk", headers=headers, timeout=30).status_code == 200

        def scheduled() -> set[str]:
            store = open_store(config["database"]["url"], migrate=False)
            try:
                jobs = table("apscheduler_jobs", column("id"))
                with store.engine.connect() as connection:
                    return {job_id for (job_id,) in connection.execute(select(jobs.c.id))}
            finally:
                store.dispose()

        wait_for(lambda: "pull:bulk" not in scheduled(), "the removed source's job to go")
        assert "pull:demo-fhir" in scheduled()
    finally:
        out, err = stop(process)
    assert "claimbridge run: connectors changed: jobs added pull:bulk, removed none" in err, err[-2000:]
    assert "claimbridge run: connectors changed: jobs added none, removed pull:bulk" in err
