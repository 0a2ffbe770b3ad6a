"""Migration 0008 on a store with claims and payments in it: claims.charge comes from each current version's FHIR
total, and the rollups it fills equal what the triggers had kept (down to 0007 and up again)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from claimbridge.store import rollups
from claimbridge.store.db import alembic_config
from tests.web.test_reports import build


def test_upgrade_fills_charge_and_rollups_from_what_is_stored(world):
    build(world)
    store = world.store
    with store.engine.connect() as connection:
        kept = rollups.rollup_contents(connection)
        charges = connection.execute(text("SELECT id, charge FROM claims ORDER BY id")).all()
    assert any(charge for _, charge in charges)
    config = alembic_config(str(store.engine.url.render_as_string(hide_password=False)))
    for target in ("0007", "head"):
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if target == "0007" else command.upgrade)(config, target)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT id, charge FROM claims ORDER BY id")).all() == charges
        assert rollups.rollup_contents(connection) == kept
    # the triggers are back: a status change moves the claim in the rollup
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE claims SET status = 'voided' WHERE status = 'submitted'"))
    with store.engine.connect() as connection:
        after = rollups.rollup_contents(connection)
        rollups.rebuild(connection)
        assert rollups.rollup_contents(connection) == after != kept
        connection.rollback()
