"""``claimbridge run`` (the scheduler) and ``claimbridge jobs …`` (what it did)."""

from __future__ import annotations

import click


@click.group()
def jobs() -> None:
    """Scheduled jobs and their runs."""
