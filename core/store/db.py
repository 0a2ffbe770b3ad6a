"""Engine, sessions, migrations and the few operations that need database-specific care."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from claimbridge.errors import FatalError
from claimbridge.store.models import ControlCounter

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
#: ISA13 is nine digits; GS06 and ST02 allow more but partners often choke past nine
MAX_CONTROL_NUMBER = 999_999_999


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Store:
    """The database: ``with store.transaction() as session:`` commits on success, rolls back on error."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def migrate(self) -> None:
        """Apply every Alembic migration not yet applied (idempotent)."""
        config = alembic_config(str(self.engine.url.render_as_string(hide_password=False)))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def is_current(self) -> bool:
        script = ScriptDirectory.from_config(alembic_config(""))
        with self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current == script.get_current_head()

    def allocate_control_number(self, session: Session, partner: str, kind: str) -> int:
        """The next control number of ``kind`` for ``partner``, inside the caller's transaction.

        The increment is one UPDATE … RETURNING, so two workers can never get the same number: the row lock
        (PostgreSQL) or the database write lock (SQLite) serialises them, and a rolled-back transaction gives
        its number back only if nothing else used it — a number that reached a file is committed first.
        """
        for _ in range(2):
            value = session.execute(
                update(ControlCounter)
                .where(ControlCounter.partner == partner, ControlCounter.kind == kind)
                .values(last_value=ControlCounter.last_value + 1)
                .returning(ControlCounter.last_value)
            ).scalar()
            if value is not None:
                if value > MAX_CONTROL_NUMBER:
                    raise FatalError(f"control numbers {kind} for {partner} are exhausted; agree a new "
                                     f"sender id with the clearinghouse")
                return value
            _insert_counter(session, partner, kind)
        raise FatalError(f"could not allocate a {kind} control number for {partner}")

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold a cluster-wide lock named ``name`` (PostgreSQL advisory lock) for the block.

        On SQLite, a single file has one writer at a time anyway; the block runs without a lock.
        Raises :class:`FatalError` if another worker holds it.
        """
        if not self.is_postgresql:
            yield
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with self.engine.connect() as connection:
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            connection.commit()
            if not got:
                raise FatalError(f"{name} is already running in another worker; try again when it ends")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()


#: PostgreSQL's SQLSTATEs for a transaction rolled back only because of another one: deadlock_detected,
#: serialization_failure — running it again is right
CONFLICT_STATES = frozenset(("40P01", "40001"))


def is_conflict(exc: BaseException) -> bool:
    """Whether the database refused a transaction only because of a concurrent one (retry it)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in CONFLICT_STATES


def _insert_counter(session: Session, partner: str, kind: str) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(ControlCounter).values(partner=partner, kind=kind, last_value=0)
                        .on_conflict_do_nothing())
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(ControlCounter).values(partner=partner, kind=kind, last_value=0)
                        .on_conflict_do_nothing())
    else:  # pragma: no cover - other databases are not supported yet
        exists = session.execute(select(ControlCounter).where(
            ControlCounter.partner == partner, ControlCounter.kind == kind)).first()
        if not exists:
            session.execute(insert(ControlCounter).values(partner=partner, kind=kind, last_value=0))


def alembic_config(url: str) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Connect to ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://…``) and apply migrations."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        _serialise_sqlite_writers(engine)
    store = Store(engine)
    if migrate:
        store.migrate()
    return store


def _serialise_sqlite_writers(engine: Engine) -> None:
    """pysqlite starts transactions lazily and as DEFERRED, so two writers can deadlock on the upgrade from a
    read to a write lock. Begin every transaction IMMEDIATE instead (the SQLAlchemy-documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
