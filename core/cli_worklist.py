"""``claimbridge remits …`` and ``claimbridge denials …``: what payers paid, and the denials to work."""

from __future__ import annotations

import click


@click.group()
def remits() -> None:
    """Posted remittances (835) and the unmatched-remittance queue."""


@click.group()
def denials() -> None:
    """The denial work queue: each denial with its category and next action."""
