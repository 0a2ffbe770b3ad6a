"""A job whose transaction PostgreSQL rolls back for a deadlock with another writer is run again at once (jobs
are safe to repeat); any other database error still fails the run. The deadlock is a real one, between two
connections updating two rows in opposite orders."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import claimbridge.schedule.runner as runner_module
from claimbridge.schedule import JobRunner, job_specs
from claimbridge.schedule.jobs import JobResult
from tests.conftest import POSTGRES_ENV
from tests.test_end_to_end import Environment

pytestmark = pytest.mark.skipif(not os.environ.get(POSTGRES_ENV),
                                reason="a deadlock needs PostgreSQL (SQLite writers queue instead)")


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    yield environment
    environment.close()


def deadlock(engine) -> DBAPIError:
    """Two transactions each holding a row the other wants: PostgreSQL aborts one; its error is returned."""
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS conflict_probe (id int PRIMARY KEY, v int)"))
        connection.execute(text("DELETE FROM conflict_probe"))
        connection.execute(text("INSERT INTO conflict_probe VALUES (1, 0), (2, 0)"))
    first, second = engine.connect(), engine.connect()
    errors: list[DBAPIError] = []
    holding = threading.Barrier(2)

    def cross(connection, mine: int, theirs: int) -> None:
        try:
            with connection.begin():
                connection.execute(text("UPDATE conflict_probe SET v = v + 1 WHERE id = :id"), {"id": mine})
                holding.wait(timeout=30)
                connection.execute(text("UPDATE conflict_probe SET v = v + 1 WHERE id = :id"), {"id": theirs})
        except DBAPIError as exc:
            errors.append(exc)

    other = threading.Thread(target=cross, args=(second, 2, 1))
    other.start()
    cross(first, 1, 2)
    other.join(timeout=60)
    first.close()
    second.close()
    assert len(errors) == 1, errors
    return errors[0]


def test_a_job_that_loses_a_deadlock_is_run_again(env, monkeypatch):
    calls = []

    def body(runtime, spec, lock_folder):
        calls.append(spec.name)
        if len(calls) == 1:
            raise deadlock(runtime.store.engine)
        return JobResult(counts={"done": 1})

    monkeypatch.setattr(runner_module, "run_job_body", body)
    with env.runtime() as runtime:
        spec = next(s for s in job_specs(runtime.settings) if s.kind == "submit")
        outcome = JobRunner(runtime).run(spec)
    assert len(calls) == 2 and outcome.status == "succeeded"
    assert outcome.counts == {"done": 1, "retried_after_conflict": 1}


def test_other_database_errors_fail_the_run_without_retrying(env, monkeypatch):
    calls = []

    def body(runtime, spec, lock_folder):
        calls.append(spec.name)
        with runtime.store.engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(runner_module, "run_job_body", body)
    with env.runtime() as runtime:
        spec = next(s for s in job_specs(runtime.settings) if s.kind == "submit")
        outcome = JobRunner(runtime).run(spec)
    assert len(calls) == 1 and outcome.status == "failed" and "no_such_table" in outcome.error


def test_an_inbound_file_rolled_back_for_a_deadlock_is_posted_again_once(env, monkeypatch):
    import claimbridge.inbound as inbound
    from claimbridge.pipeline import run_pipeline

    real_post = inbound._post
    attempts = []

    def post(runtime, *args, **kwargs):
        attempts.append(args[1])
        if len(attempts) == 1:
            raise deadlock(runtime.store.engine)
        return real_post(runtime, *args, **kwargs)

    with env.runtime() as runtime:
        run_pipeline(runtime)  # the sandbox answers the 837 (999, 277CA, 835s)
        monkeypatch.setattr(inbound, "_post", post)
        fetched = inbound.fetch_responses(runtime)
        assert not fetched.errors and fetched.to_dict()["by_status"] == {"posted": len(fetched.files)}
        assert attempts[0] == attempts[1] and len(attempts) == len(fetched.files) + 1
