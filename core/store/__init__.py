"""Persistent state: SQLAlchemy 2 models, the engine factory and Alembic migrations."""

from claimbridge.store.db import Store, open_store

__all__ = ["Store", "open_store"]
