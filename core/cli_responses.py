"""``claimbridge responses …``: fetch acknowledgments and remittances, post a file by hand, list what came."""

from __future__ import annotations

import click


@click.group()
def responses() -> None:
    """Acknowledgments (TA1, 999, 277CA) and remittances (835) from clearinghouses."""
