"""``claimbridge quarantine list|show|resolve`` against a store the sync runner quarantined rows into."""

from __future__ import annotations

import json

import pytest

from claimbridge.store.models import QuarantinedRecord, utcnow
from tests.claims.test_worklist import World
from tests.test_cli_worklist import run


@pytest.fixture
def world(tmp_path, db_url):
    made = World(tmp_path, db_url)
    with made.store.transaction() as session:
        session.add_all([
            QuarantinedRecord(source="office", stream="encounters", record_key="billing.csv:row 14",
                              field="date_of_service", reason="column 'Date of Service': not a date",
                              payload=json.dumps({"file": "billing.csv", "row": 14, "cells": ["10/31/20x6"]})),
            QuarantinedRecord(source="office", stream="encounters", record_key="notes.txt",
                              reason="notes.txt: not a known SimplePractice export"),
            QuarantinedRecord(source="ehr", stream="encounters", record_key="Encounter/9", field="Patient.birthDate",
                              reason="the patient has no birth date", resolved_at=utcnow()),
        ])
    yield made
    made.close()


def test_list_shows_open_records_newest_first_with_file_row_field_and_reason(world):
    out = run(world, "quarantine", "list").stdout.splitlines()
    assert out == [
        "#2      office/encounters  notes.txt",
        "        notes.txt: not a known SimplePractice export",
        "#1      office/encounters  billing.csv:row 14 [date_of_service]",
        "        column 'Date of Service': not a date",
    ]
    every = json.loads(run(world, "quarantine", "list", "--all", "--json").stdout)
    assert every["total"] == 3 and [r["id"] for r in every["records"]] == [3, 2, 1]
    only = json.loads(run(world, "quarantine", "list", "--source", "ehr", "--json").stdout)
    assert only == {"total": 0, "records": []}


def test_show_prints_the_kept_payload_and_resolve_takes_it_off_the_list(world):
    shown = json.loads(run(world, "quarantine", "show", "1", "--json").stdout)
    assert shown["payload"] == {"file": "billing.csv", "row": 14, "cells": ["10/31/20x6"]}
    assert "10/31/20x6" in run(world, "quarantine", "show", "1").stdout
    assert run(world, "quarantine", "resolve", "1", "2").stdout.strip() == "2 record(s) resolved"
    assert run(world, "quarantine", "list").stdout.strip() == "nothing quarantined"


def test_unknown_ids_are_refused_and_nothing_changes(world):
    missing = run(world, "quarantine", "resolve", "1", "99", ok=False)
    assert missing.returncode == 1 and "no quarantined record #99; nothing changed" in missing.stderr
    assert "billing.csv:row 14" in run(world, "quarantine", "list").stdout
    assert "no quarantined record #42" in run(world, "quarantine", "show", "42", ok=False).stderr
