"""Autogenerate leaves APScheduler's job table alone: it lives in our database but is not ours to migrate."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

from claimbridge.schedule.service import JOBS_TABLE
from claimbridge.store.db import open_store
from claimbridge.store.migrations.env_filter import include_object
from claimbridge.store.models import Base


def test_autogenerate_proposes_nothing_with_the_scheduler_table_present(db_url):
    store = open_store(db_url)
    try:
        jobstore = SQLAlchemyJobStore(engine=store.engine, tablename=JOBS_TABLE)
        jobstore.start(None, "default")
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": include_object})
            assert compare_metadata(context, Base.metadata) == []
            unfiltered = MigrationContext.configure(connection)
            assert any(diff[0] == "remove_table" and diff[1].name == JOBS_TABLE
                       for diff in compare_metadata(unfiltered, Base.metadata))
    finally:
        store.dispose()
