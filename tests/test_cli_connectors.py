"""``claimbridge connectors list|show|add|change|test|remove``: the same store the web UI writes, from a shell."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from claimbridge.store.models import AuditEntry, ConnectorRow
from tests.claims.test_worklist import World
from tests.test_cli_worklist import run


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    yield made
    made.close()


def write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_add_tests_first_then_stores_with_the_secret_encrypted(world, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    settings = write(tmp_path / "sftp.yaml", {"host": "127.0.0.1", "port": 9, "username": "clinic",
                                             "password": "pa55-word", "known_hosts": str(known_hosts)})
    partner = write(tmp_path / "partner.yaml", {"sender_id": "C1", "receiver_id": "OA", "receiver_name": "OA"})
    refused = run(world, "connectors", "add", "clearinghouse", "office-ally", "--type", "sftp", "--settings",
                  settings, "--trading-partner", partner, ok=False)
    assert refused.returncode == 1 and "not saved: the connection failed" in refused.stderr
    added = run(world, "connectors", "add", "clearinghouse", "office-ally", "--type", "sftp", "--settings",
                settings, "--trading-partner", partner, "--no-test")
    assert "clearinghouse office-ally added (revision 1)" in added.stdout
    with world.store.transaction() as session:
        row = session.execute(select(ConnectorRow)).scalar_one()
        assert "pa55-word" not in row.settings and row.created_by == "cli:jdoe"
        assert session.execute(select(AuditEntry.actor, AuditEntry.action)).all() == [("cli:jdoe", "connector_add")]
    shown = run(world, "connectors", "show", "clearinghouse", "office-ally").stdout
    assert "password: '**********'" in shown and "pa55-word" not in shown
    listed = json.loads(run(world, "connectors", "list", "--json").stdout)
    assert [(i["kind"], i["name"], i["origin"]) for i in listed] == [
        ("source", "demo-fhir", "file"), ("clearinghouse", "sandbox", "file"),
        ("clearinghouse", "office-ally", "database")]
    failed = run(world, "connectors", "test", "clearinghouse", "office-ally", ok=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: clearinghouse office-ally: the connection failed: cannot connect to SFTP "
                                    "server 127.0.0.1:9")


def test_change_keeps_a_redacted_secret_and_remove_takes_it_away(world, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Encounter.000.ndjson").write_text("")
    run(world, "connectors", "add", "source", "bulk", "--type", "fhir_bulk", "--settings",
        write(tmp_path / "s.yaml", {"folder": str(folder)}))
    assert "source bulk: the connection works" in run(world, "connectors", "test", "source", "bulk").stdout
    changed = run(world, "connectors", "change", "source", "bulk", "--settings",
                  write(tmp_path / "s2.yaml", {"folder": str(folder), "lookback_minutes": 30}), "--disabled")
    assert "source bulk changed (revision 2)" in changed.stdout
    line = next(row for row in run(world, "connectors", "list").stdout.splitlines() if " bulk " in row)
    assert "disabled" in line and "database r2" in line
    bad = run(world, "connectors", "change", "source", "bulk", "--settings",
              write(tmp_path / "s3.yaml", {"folder": str(folder), "lookback": 5}), ok=False)
    assert "settings.lookback: unknown key (check the spelling)" in bad.stderr
    assert "source bulk removed" in run(world, "connectors", "remove", "source", "bulk").stdout
    gone = run(world, "connectors", "remove", "source", "demo-fhir", ok=False)
    assert "connectors in the configuration file are removed there" in gone.stderr
