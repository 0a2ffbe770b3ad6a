"""Migration 0006 fills the new claim filter columns from the lines kept for each claim's current version."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import text

from claimbridge.store.db import alembic_config, open_store


def test_claims_scrubbed_before_0006_get_payer_provider_date_and_patient(db_url):
    store = open_store(db_url, migrate=False)
    config = alembic_config(str(store.engine.url.render_as_string(hide_password=False)))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
    with store.engine.begin() as connection:
        connection.execute(text("INSERT INTO encounters (id, source, key, payload, payload_sha256, first_seen_at, "
                                "updated_at) VALUES (1, 's', 'Encounter/1', '{}', 'x', CURRENT_TIMESTAMP, "
                                "CURRENT_TIMESTAMP), (2, 's', 'Encounter/2', '{}', 'y', CURRENT_TIMESTAMP, "
                                "CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO claims (id, encounter_id, current_version, status, pcn, created_at, "
                                "updated_at) VALUES (1, 1, 2, 'held', 'CB0000000102', CURRENT_TIMESTAMP, "
                                "CURRENT_TIMESTAMP), (2, 2, 1, 'held', 'CB0000000201', CURRENT_TIMESTAMP, "
                                "CURRENT_TIMESTAMP)"))
        connection.execute(text("INSERT INTO claim_versions (id, claim_id, version, pcn, status, frequency, "
                                "built_from_sha256, created_at) VALUES "
                                "(1, 1, 1, 'CB0000000101', 'corrected', '1', 'x', CURRENT_TIMESTAMP), "
                                "(2, 1, 2, 'CB0000000102', 'held', '7', 'x', CURRENT_TIMESTAMP), "
                                "(3, 2, 1, 'CB0000000201', 'held', '1', 'y', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO claim_lines (version_id, claim_id, pcn, patient_key, payer_id, rendering_npi, code, "
            "service_date) VALUES (1, 1, 'CB0000000101', 'old-key', 'OLD', '1111111111', '90837', '2026-10-01'), "
            "(2, 1, 'CB0000000102', 'key-1', 'LKSHP', '1540388620', '90837', '2026-11-05'), "
            "(2, 1, 'CB0000000102', 'key-1', 'LKSHP', '1540388620', '90785', '2026-11-04')"))
    store.migrate()
    with store.transaction() as session:
        rows = session.execute(text("SELECT id, payer_id, rendering_npi, service_date, patient_key FROM claims "
                                    "ORDER BY id")).all()
    store.dispose()
    first, second = rows
    assert (first.payer_id, first.rendering_npi, first.patient_key) == ("LKSHP", "1540388620", "key-1")
    assert str(first.service_date)[:10] == date(2026, 11, 4).isoformat()  # the earliest line of version 2
    assert (second.payer_id, second.rendering_npi, second.service_date, second.patient_key) == (None,) * 4
