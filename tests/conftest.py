"""Shared fixtures. The database under test is SQLite unless CLAIMBRIDGE_TEST_POSTGRES_URL names a PostgreSQL
server (an admin URL); then every test that uses ``db_url`` gets a fresh database of its own there."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
POSTGRES_ENV = "CLAIMBRIDGE_TEST_POSTGRES_URL"


@pytest.fixture
def corpus() -> Path:
    """The folder of real published X12 and FHIR samples; tests that need it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"sample corpus not found at {CORPUS}")
    return CORPUS


def _postgres_database():
    import psycopg

    admin = os.environ[POSTGRES_ENV]
    name = f"cbtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    return name, admin, f"{base}/{name}"


@pytest.fixture
def db_url(tmp_path: Path):
    """A database URL for one test: SQLite in tmp_path, or a new PostgreSQL database (dropped afterwards)."""
    if not os.environ.get(POSTGRES_ENV):
        yield f"sqlite:///{tmp_path / 'claimbridge.db'}"
        return

    name, admin, url = _postgres_database()
    yield url.replace("postgresql://", "postgresql+psycopg://", 1)
    _drop_postgres_database(admin, name)


def _drop_postgres_database(admin: str, name: str) -> None:
    """Drop a test database. Not ``WITH (FORCE)``: that refuses when an autovacuum worker is in the database
    (it has no role the test user may signal). Our own leftover sessions are ended; a plain DROP DATABASE
    cancels autovacuum itself and waits for it; a session still closing gets a few more tries."""
    import time

    import psycopg

    for attempt in range(40):
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND usename = current_user AND pid <> pg_backend_pid()",
                (name,),
            )
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except psycopg.errors.ObjectInUse:
                if attempt == 39:
                    raise
        time.sleep(0.25)


@pytest.fixture
def store(db_url):
    from claimbridge.store import open_store

    store = open_store(db_url)
    yield store
    store.dispose()
