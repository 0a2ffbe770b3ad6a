"""The SimplePractice source through the whole pipeline: export files in a folder → claims → the sandbox
clearinghouse (SQLite store, real files, real SFTP)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from claimbridge.demo import client_key, demo_config, write_payer_profiles
from claimbridge.pipeline import Runtime, run_pipeline
from claimbridge.plugins.ehr_simplepractice.demo_export import (
    BILLING_COLUMNS,
    demo_reports,
    demo_source_entry,
    write_demo_export,
)
from claimbridge.store.models import Claim, ClaimVersion, QuarantinedRecord, StoredEncounter, utcnow

pytest_plugins = ["claimbridge.testing"]

SOURCE = "simplepractice"
#: the demo export's sessions that become encounters (attended with a fee, and the two fee-bearing late cancels)
LATE_CANCELS = 2
TOTAL_FEE = 8  # position of Total Fee in the billing report
RATE = 6
INSURANCE_CHARGE = 15


def _csv(header, rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([v.strftime("%m/%d/%Y") if isinstance(v, dt.date) else v for v in row])
    return out.getvalue().encode("utf-8")


class World:
    """A claimbridge configuration reading a SimplePractice import folder and sending to the sandbox."""

    def __init__(self, root: Path, db_url: str, sandbox, *, missed: list[str] | None = None):
        self.root = root
        self.today = utcnow().date()
        self.folder = root / "import"
        self.folder.mkdir()
        key = client_key(root / "keys")
        entry = demo_source_entry(self.folder)
        entry["name"] = SOURCE
        config = yaml.safe_load(demo_config(entry, sandbox.server.port, key, sandbox.known_hosts))
        config["database"]["url"] = db_url
        settings = config["clearinghouses"][0]["settings"]
        settings.pop("private_key_path")
        settings.update(username=sandbox.username, password=sandbox.password)
        write_payer_profiles(root / "payers")
        if missed is not None:
            path = root / "payers" / "lakeshore.yaml"
            profile = yaml.safe_load(path.read_text())
            profile["bill_missed_appointments"] = missed
            path.write_text(yaml.safe_dump(profile), encoding="utf-8")
        self.config_path = root / "claimbridge.yaml"
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.inbound = sandbox.root / "inbound"
        self.drops = 0

    def run(self) -> dict:
        with Runtime.open(self.config_path) as runtime:
            return run_pipeline(runtime).to_dict()

    def drop(self, reports: dict[str, tuple[list, list]], kinds=None) -> None:
        """Write reports (kind → header, rows) into the import folder as new CSV files."""
        time.sleep(0.01)
        self.drops += 1
        for kind, (header, rows) in reports.items():
            if kinds is not None and kind not in kinds:
                continue
            (self.folder / f"{kind}-drop{self.drops}.csv").write_bytes(_csv(header, rows))

    def rows(self, model, *where):
        with Runtime.open(self.config_path) as runtime, runtime.store.transaction() as session:
            found = session.execute(select(model).where(*where)).scalars().all()
            session.expunge_all()
            return found


def _free_day(today: dt.date, *clients: str) -> str:
    """A recent date (MM/DD/YYYY) on which the demo export has no appointment of these clients."""
    reports = demo_reports(today)
    taken = {(r[0], r[1].strip()) for r in reports["billing"][1]}
    taken |= {(r[0], r[4]) for r in reports["appointments"][1]}
    for back in range(1, 30):
        day = (today - dt.timedelta(days=back)).strftime("%m/%d/%Y")
        if not any((day, client.strip()) in taken for client in clients):
            return day
    raise AssertionError("no free day")


@pytest.fixture
def world(tmp_path, db_url, claimbridge_sandbox_clearinghouse):
    return World(tmp_path, db_url, claimbridge_sandbox_clearinghouse)


def test_demo_export_becomes_claims_and_late_cancels_are_not_billed(world):
    write_demo_export(world.folder, world.today)
    result = world.run()
    assert result["ok"], result["errors"]
    assert result["encounters_pulled"] == 33  # 31 attended sessions with a fee and the 2 late cancels with one
    assert result["records_quarantined"] == 0
    assert result["not_billable"] == LATE_CANCELS
    assert result["claims_built"] == 33 - LATE_CANCELS
    assert result["files_sent"] == 1 and result["claims_sent"] == result["claims_built"] - len(result["claims_held"])
    assert len(list(world.inbound.glob("*.837"))) == 1
    encounters = world.rows(StoredEncounter, StoredEncounter.source == SOURCE)
    missed = [e for e in encounters if e.not_billable_reason]
    assert len(missed) == LATE_CANCELS
    assert all("late_cancel" in e.not_billable_reason or "late cancel" in e.not_billable_reason for e in missed)
    claimed = {c.encounter_id for c in world.rows(Claim)}
    assert not claimed & {e.id for e in missed}
    # a second pass over the same folder: nothing new
    again = world.run()
    assert again["encounters_pulled"] == 0 and again["claims_built"] == 0 and again["files_sent"] == 0


def test_a_payer_profile_billing_late_cancels_gets_claims_for_them(tmp_path, db_url,
                                                                   claimbridge_sandbox_clearinghouse):
    world = World(tmp_path, db_url, claimbridge_sandbox_clearinghouse, missed=["late_cancel"])
    write_demo_export(world.folder, world.today)
    result = world.run()
    assert result["ok"], result["errors"]
    assert result["not_billable"] == 0
    assert result["claims_built"] == 33
    encounters = world.rows(StoredEncounter, StoredEncounter.source == SOURCE)
    assert not [e for e in encounters if e.not_billable_reason]
    assert len(world.rows(Claim)) == 33


def test_redropping_the_same_export_creates_nothing_and_an_overlapping_one_only_the_new_sessions(world):
    export = write_demo_export(world.folder, world.today)
    first = world.run()
    assert first["claims_built"] == 33 - LATE_CANCELS
    claims_before = len(world.rows(Claim))
    # the very same export downloaded again, under new names
    time.sleep(0.01)
    for path in sorted(set(export.files.values())):
        shutil.copyfile(path, world.folder / f"again-{path.name}")
    again = world.run()
    assert again["ok"], again["errors"]
    assert again["encounters_pulled"] == 0
    assert again["claims_built"] == 0 and again["replacement_versions"] == 0 and again["files_sent"] == 0
    assert again["records_quarantined"] == 0
    assert len(world.rows(Claim)) == claims_before
    # an overlapping billing export: the last few sessions again, and two new ones
    header, rows = demo_reports(world.today)["billing"]
    assert len(header) == BILLING_COLUMNS
    overlap = rows[-4:]
    lena = next(r for r in rows if r[1] == "Lena Marchetti-Oyelaran" and r[3].strip() == "90834")
    rafael = next(r for r in rows if r[1] == "Rafael Okonkwo-Brandt" and r[3].strip() == "90832")
    new_day = _free_day(world.today, lena[1], rafael[1])
    new_rows = [[new_day, *lena[1:]], [new_day, *rafael[1:]]]
    world.drop({"billing": (header, overlap + new_rows)})
    overlapping = world.run()
    assert overlapping["ok"], overlapping["errors"]
    assert overlapping["encounters_pulled"] == 2
    assert overlapping["claims_built"] == 2 and overlapping["replacement_versions"] == 0
    assert len(world.rows(Claim)) == claims_before + 2


def test_a_changed_fee_after_submission_makes_a_held_replacement(world):
    write_demo_export(world.folder, world.today)
    first = world.run()
    assert first["files_sent"] == 1
    header, rows = demo_reports(world.today)["billing"]
    # Lena's intake session (Lakeshore, clean): the practice corrected its fee
    row = list(next(r for r in rows if r[1] == "Lena Marchetti-Oyelaran" and r[3].strip() == "90791"))
    assert row[TOTAL_FEE] == "$200.00"
    row[RATE] = row[TOTAL_FEE] = "$210.00"
    row[INSURANCE_CHARGE] = "$185.00"
    world.drop({"billing": (header, [row])})
    result = world.run()
    assert result["ok"], result["errors"]
    assert result["encounters_pulled"] == 1
    assert result["replacement_versions"] == 1
    assert result["files_sent"] == 0
    held = [h for h in result["claims_held"] if "changed in the EHR" in h["reason"]]
    assert len(held) == 1
    versions = sorted(world.rows(ClaimVersion), key=lambda v: (v.claim_id, v.version))
    replaced = [v for v in versions if v.version == 2]
    assert len(replaced) == 1
    replacement = replaced[0]
    original = next(v for v in versions if v.claim_id == replacement.claim_id and v.version == 1)
    assert replacement.frequency == "7" and replacement.status == "held"
    assert original.status == "submitted"
    assert held[0]["pcn"] == replacement.pcn
    [claim] = world.rows(Claim, Claim.id == replacement.claim_id)
    [changed] = world.rows(StoredEncounter, StoredEncounter.id == claim.encounter_id)
    charges = [entry["resource"] for entry in json.loads(changed.payload)["entry"]
               if entry["resource"]["resourceType"] == "ChargeItem"]
    assert [c["priceOverride"]["value"] for c in charges] == [210]


def test_quarantined_rows_keep_file_row_and_cells(world):
    write_demo_export(world.folder, world.today)
    header, rows = demo_reports(world.today)["billing"]
    bad = list(rows[1])
    bad[0] = "13/45/2026"
    world.drop({"billing": (header, [rows[0], bad, rows[2]])})
    result = world.run()
    assert result["ok"], result["errors"]
    assert result["records_quarantined"] == 1
    quarantined = world.rows(QuarantinedRecord)
    assert len(quarantined) == 1
    record = quarantined[0]
    assert record.source == SOURCE and record.stream == "encounters"
    assert "billing-drop1.csv" in record.record_key and "row 3" in record.record_key
    assert record.field == "date_of_service"
    assert "13/45/2026" in record.reason or "Date of Service" in record.reason
    payload = json.loads(record.payload)
    assert payload["file"] == "billing-drop1.csv" and payload["row"] == 3
    assert payload["cells"][0] == "13/45/2026"
    assert payload["cells"][1:4] == [bad[1].strip(), bad[2], bad[3].strip()]
