"""Locks that several ``claimbridge run`` processes agree on, released by the operating system or the database
server when the process holding one dies (no stale lock to clear by hand).

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection kept for the whole block.
  Advisory locks belong to the database, so processes on different machines see each other.
* SQLite (one machine): an ``flock`` on a file in ``WORKDIR/locks``. ``flock`` locks belong to the open file,
  so two threads of one process exclude each other too (POSIX ``lockf`` locks would not).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import text

from claimbridge.store.db import Store

log = logging.getLogger(__name__)

#: keeps these keys apart from :meth:`Store.exclusive`'s, which hash the bare name
_NAMESPACE = "claimbridge.lock:"


def advisory_key(name: str) -> int:
    """The signed 64-bit PostgreSQL advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256((_NAMESPACE + name).encode()).digest()[:8], "big", signed=True)


def lock_file(folder: Path, name: str) -> Path:
    """The file whose ``flock`` stands for the lock ``name`` (names are quoted, so no two share a file)."""
    return folder / f"{quote(name, safe='')}.lock"


@contextlib.contextmanager
def cluster_lock(store: Store, folder: Path, name: str, *, wait: bool = False) -> Iterator[bool]:
    """Hold the lock ``name`` for the block; yields False (and holds nothing) when another process or thread
    has it and ``wait`` is false. With ``wait``, blocks until the lock is free.

    ``folder`` is where SQLite's lock files live; all processes sharing a SQLite database must use the same
    one (the configuration's ``workdir``).
    """
    if store.is_postgresql:
        with _advisory_lock(store, name, wait=wait) as held:
            yield held
    else:
        with _file_lock(folder, name, wait=wait) as held:
            yield held


@contextlib.contextmanager
def _advisory_lock(store: Store, name: str, *, wait: bool) -> Iterator[bool]:
    key = advisory_key(name)
    connection = store.engine.connect()
    try:
        function = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        got = connection.execute(text(f"SELECT {function}(:k)"), {"k": key}).scalar()
        connection.commit()
        got = True if wait else bool(got)
        try:
            yield got
        finally:
            if got:
                _advisory_unlock(connection, key, name)
    finally:
        connection.close()


def _advisory_unlock(connection, key: int, name: str) -> None:
    try:
        still_held = connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key}).scalar()
        connection.commit()
    except Exception:  # noqa: BLE001 - the server dropped the session: the lock went with it
        log.warning("lock %s: the database connection was lost; the lock was released with it", name)
        connection.invalidate()
        return
    if not still_held:
        log.warning("lock %s was no longer held when released (the database session was reset)", name)


@contextlib.contextmanager
def _file_lock(folder: Path, name: str, *, wait: bool) -> Iterator[bool]:
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file(folder, name), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
