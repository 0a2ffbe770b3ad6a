"""The main path for real: the FHIR sandbox → claimbridge → the SFTP sandbox clearinghouse, exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from claimbridge import hookimpl
from claimbridge.demo import client_key, demo_config, demo_data, write_payer_profiles
from claimbridge.pipeline import Runtime, run_pipeline
from claimbridge.plugin_host import create_plugin_host
from claimbridge.plugins.ehr_fhir.demo_data import HELD_ENCOUNTERS, SCRUB_HELD_ENCOUNTERS
from claimbridge.store.models import Batch, ClaimVersion

HELD = {**HELD_ENCOUNTERS, **SCRUB_HELD_ENCOUNTERS}


class Environment:
    def __init__(self, root: Path, db_url: str):
        from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
        from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox

        self.root = root
        self.resources = demo_data(root)
        key = client_key(root / "keys")
        self.fhir = FhirSandbox(self.resources)
        self.fhir.start()
        self.sftp = SandboxClearinghouse(root / "clearinghouse", username="claimbridge",
                                         authorized_key_paths=[key.with_suffix(".pub")])
        self.sftp.start()
        known_hosts = self.sftp.write_known_hosts(root / "keys" / "known_hosts")
        config = yaml.safe_load(demo_config(self.fhir.base_url, self.sftp.port, key, known_hosts))
        config["database"]["url"] = db_url
        self.config_path = root / "claimbridge.yaml"
        write_payer_profiles(root / "payers")
        self.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.inbound = root / "clearinghouse" / "inbound"

    def runtime(self, plugins=None) -> Runtime:
        return Runtime.open(self.config_path, plugins)

    def run(self, plugins=None):
        runtime = self.runtime(plugins)
        try:
            return run_pipeline(runtime)
        finally:
            runtime.close()

    @property
    def clean_count(self) -> int:
        """Encounters that become clean claims."""
        return sum(1 for r in self.resources if r["resourceType"] == "Encounter" and r["id"] not in HELD)

    def received(self) -> list[Path]:
        return sorted(self.inbound.glob("*.837")) if self.inbound.exists() else []

    def received_pcns(self) -> list[str]:
        pcns = []
        for path in self.received():
            for segment in path.read_text().replace("\n", "").split("~"):
                if segment.startswith("CLM*"):
                    pcns.append(segment.split("*")[1])
        return pcns

    def close(self) -> None:
        self.sftp.stop()
        self.fhir.stop()


@pytest.fixture
def env(tmp_path, db_url):
    environment = Environment(tmp_path, db_url)
    yield environment
    environment.close()


def test_one_pass_sends_every_clean_claim_and_a_second_pass_sends_nothing(env):
    first = env.run().to_dict()
    encounters = [r for r in env.resources if r["resourceType"] == "Encounter"]
    assert first["encounters_pulled"] == len(encounters) >= 25
    assert {h["encounter"] for h in first["claims_held"]} == {f"Encounter/{e}" for e in HELD}
    assert first["claims_built"] == len(encounters)
    assert first["files_sent"] == 1 and first["claims_sent"] == len(encounters) - len(HELD)
    assert len(env.received()) == 1
    assert sorted(env.received_pcns()) == sorted(set(env.received_pcns()))

    from claimbridge.x12.validate import validate_x12

    report = validate_x12(env.received()[0].read_bytes(), name=env.received()[0].name)
    assert report.ok, report.problems

    second = env.run().to_dict()
    assert second["encounters_pulled"] == 0
    assert second["files_sent"] == 0 and second["batches"] == []
    assert len(env.received()) == 1


class CrashAfterUpload:
    """A clearinghouse type that really uploads, then dies before claimbridge can record it — like a
    power cut between the rename on the server and the commit here."""

    @hookimpl
    def register_clearinghouses(self, register):
        from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse

        class Crashing(SftpClearinghouse):
            type_name = "sftp_crash_after_upload"

            def submit(self, file):
                super().submit(file)
                raise KeyboardInterrupt("simulated crash after the upload")

        register(Crashing)


def test_crash_between_upload_and_bookkeeping_does_not_upload_twice(env):
    config = yaml.safe_load(env.config_path.read_text())
    config["clearinghouses"][0]["type"] = "sftp_crash_after_upload"
    env.config_path.write_text(yaml.safe_dump(config))
    with pytest.raises(KeyboardInterrupt):
        env.run(create_plugin_host([CrashAfterUpload()]))
    assert len(env.received()) == 1
    config["clearinghouses"][0]["type"] = "sftp"
    env.config_path.write_text(yaml.safe_dump(config))
    runtime = env.runtime()
    with runtime.store.transaction() as session:
        assert session.execute(select(Batch.status)).scalars().all() == ["transmitting"]
    runtime.close()

    result = env.run().to_dict()
    assert [b["already_present"] for b in result["batches"]] == [True]
    assert result["files_sent"] == 0
    assert len(env.received()) == 1
    runtime = env.runtime()
    with runtime.store.transaction() as session:
        assert session.execute(select(Batch.status)).scalars().all() == ["submitted"]
        statuses = set(session.execute(select(ClaimVersion.status)).scalars())
    runtime.close()
    assert statuses == {"submitted", "held"}


def test_an_encounter_changed_after_submission_gets_a_held_replacement(env):
    env.run()
    encounter = next(r for r in env.resources if r["resourceType"] == "Encounter"
                     and r["id"] not in HELD)
    changed = json.loads(json.dumps(encounter))
    changed["period"]["end"] = changed["period"]["start"]  # e.g. the clinician corrected the session
    changed.setdefault("length", {"value": 55, "unit": "min", "system": "http://unitsofmeasure.org",
                                  "code": "min"})
    changed["length"]["value"] = 55
    env.fhir.load([changed])
    result = env.run().to_dict()
    assert result["encounters_pulled"] == 1
    assert result["replacement_versions"] == 1
    assert result["files_sent"] == 0
    held = [h for h in result["claims_held"] if "changed in the EHR" in h["reason"]]
    assert len(held) == 1


@pytest.mark.slow
def test_killing_sync_at_any_moment_loses_nothing_and_sends_nothing_twice(env):
    """SIGKILL `claimbridge sync` at a spread of moments, then let one run finish: every clean claim is in
    exactly one file on the clearinghouse, and no control number is used twice."""
    command = [sys.executable, "-m", "claimbridge.cli", "--config", str(env.config_path), "sync", "--json"]
    environ = dict(os.environ)
    for delay in (0.4, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0, 3.5, 4.5):
        process = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()
    final = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    encounters = [r for r in env.resources if r["resourceType"] == "Encounter"]
    pcns = env.received_pcns()
    assert len(pcns) == len(set(pcns)) == len(encounters) - len(HELD)
    isa13s = [p.read_text()[90:99] for p in env.received()]
    assert len(isa13s) == len(set(isa13s))
    runtime = env.runtime()
    with runtime.store.transaction() as session:
        sent = session.execute(select(ClaimVersion.pcn).where(ClaimVersion.status == "submitted")).scalars()
        assert sorted(sent) == sorted(pcns)
    runtime.close()


class BreaksOneClaim:
    """A practice plugin with a bug: it puts a charge on one line too long for the 837P's amount elements
    (SV102 and CLM02 hold 18 digits). The scrubber only asks for charges above zero that add up, so the 837
    validation must catch it. It also listens to status changes."""

    def __init__(self, encounter_key: str):
        self.encounter_key = encounter_key
        self.events = []

    @hookimpl
    def adjust_claim(self, claim, context):
        if context["encounter_key"] == self.encounter_key:
            claim["item"][0]["net"]["value"] = Decimal("1" + "0" * 20)
            claim["total"]["value"] = sum(Decimal(str(item["net"]["value"])) for item in claim["item"])

    @hookimpl
    def claim_status_changed(self, event):
        self.events.append((event.pcn, event.old, event.new))


def test_an_invalid_837_never_leaves_and_the_claim_it_names_is_held(env):
    plugin = BreaksOneClaim("Encounter/enc-003")
    result = env.run(create_plugin_host([plugin])).to_dict()
    failed = [b for b in result["batches"] if b["status"] == "failed"]
    sent = [b for b in result["batches"] if b["status"] == "submitted"]
    assert len(failed) == 1 and len(sent) == 1
    assert "CLM" in failed[0]["error"] or "SV1" in failed[0]["error"]
    held_by_validation = [h for h in result["claims_held"] if "failed validation" in h["reason"]]
    assert len(held_by_validation) == 1
    bad_pcn = held_by_validation[0]["pcn"]
    assert "CLM" in held_by_validation[0]["reason"] or "SV1" in held_by_validation[0]["reason"]
    # the failed batch's control numbers are burned, never reused; the clean claims left in a new file
    assert failed[0]["isa13"] != sent[0]["isa13"]
    assert len(env.received()) == 1
    pcns = env.received_pcns()
    assert bad_pcn not in pcns
    assert len(pcns) == sent[0]["claims"] == env.clean_count - 1
    statuses = [(old, new) for pcn, old, new in plugin.events if pcn == bad_pcn]
    assert [str(new) for _old, new in statuses] == ["ready", "batched", "held"]


class DropsPayerName:
    """The payer's name (NM103 of loop 2010BB) is required by the 837P but not by the scrubber."""

    @hookimpl
    def adjust_claim(self, claim, context):
        if context["encounter_key"] == "Encounter/enc-005":
            payer = next(r for r in claim["contained"] if r["id"] == "payer")
            payer.pop("name")


def test_a_claim_the_encoder_refuses_is_held_and_the_rest_are_sent(env):
    result = env.run(create_plugin_host([DropsPayerName()])).to_dict()
    held = [h for h in result["claims_held"] if "cannot be written" in h["reason"]]
    assert len(held) == 1 and "name" in held[0]["reason"]
    assert [b["status"] for b in result["batches"]] == ["failed", "submitted"]
    assert held[0]["pcn"] not in env.received_pcns()
    assert len(env.received_pcns()) == env.clean_count - 1
