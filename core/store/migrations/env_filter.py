"""What autogenerate may touch: tables in the database that other libraries own (APScheduler's job store, see
:mod:`claimbridge.schedule`) are left out, so a new revision never proposes dropping them."""

from __future__ import annotations

FOREIGN_TABLES = frozenset({"apscheduler_jobs"})


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    return not (type_ == "table" and reflected and compare_to is None and name in FOREIGN_TABLES)
