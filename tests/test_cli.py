"""The command line as a user runs it (subprocesses, so entry points and exit codes are real)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from claimbridge.plugins.ehr_fhir.demo_data import HELD_ENCOUNTERS, SCRUB_HELD_ENCOUNTERS

HELD = len(HELD_ENCOUNTERS) + len(SCRUB_HELD_ENCOUNTERS)
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "claimbridge.example.yaml"


def cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 180):
    environ = dict(os.environ) | (env or {})
    return subprocess.run([sys.executable, "-m", "claimbridge.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=environ, timeout=timeout)


def test_demo_twice_in_one_folder_sends_nothing_the_second_time(tmp_path):
    workdir = tmp_path / "demo"
    first = cli("demo", "--workdir", str(workdir), "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["encounters_pulled"] >= 25
    assert summary["files_sent"] == 1
    assert len(summary["claims_held"]) == HELD and all(h["reason"] for h in summary["claims_held"])
    assert [Path(p).exists() for p in summary["received_files"]] == [True]
    assert summary["control_numbers"] == [{"isa13": 1, "gs06": 1, "st02": 1}]
    # the whole loop: the sandbox's acknowledgments and its payers' 835s came back and were posted
    responses, revenue = summary["responses"], summary["revenue"]
    assert responses["files"] >= 4 and set(responses["by_status"]) == {"posted"}
    assert responses["counts"]["claims_accepted"] == summary["claims_sent"]
    assert revenue["claims_adjudicated"] == summary["claims_sent"]
    billed, paid, adjusted, patient = (Decimal(revenue[k]) for k in
                                       ("billed", "paid", "adjusted", "patient_responsibility"))
    assert billed == paid + adjusted + patient and paid > 0
    assert Decimal(revenue["received"]) == paid - Decimal(revenue["provider_adjustments"])
    assert revenue["open_denials"] and all(row["count"] > 0 for row in revenue["open_denials"])
    assert_every_eligibility_risk(summary)

    second = cli("demo", "--workdir", str(workdir), "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert (again["encounters_pulled"], again["files_sent"], again["batches"]) == (0, 0, [])
    assert again["received_files"] == summary["received_files"]
    assert again["responses"]["files"] == 0 and again["revenue"] == revenue
    assert again["eligibility"]["inquiries_asked"] == 0  # answered today: not asked again

    # the demo leaves its configuration behind: every other command works on its data
    config = str(workdir / "claimbridge.yaml")
    listed = cli("--config", config, "claims", "list", "--json")
    rows = json.loads(listed.stdout)
    assert len(rows) == summary["encounters_pulled"]
    assert {r["status"] for r in rows} - {"paid", "partially_paid", "denied", "reversed"} == {"held"}
    pcn = next(r["pcn"] for r in rows if r["status"] == "paid")
    shown = cli("--config", config, "claims", "show", pcn.lower())
    assert shown.returncode == 0, shown.stderr
    assert "ready → batched" in shown.stdout and "accepted → paid" in shown.stdout
    assert f"CLM*{pcn}*" in shown.stdout
    assert '"resourceType": "Claim"' in shown.stdout

    validated = cli("x12", "validate", *summary["received_files"])
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "valid" in validated.stdout

    human = cli("demo", "--workdir", str(workdir))
    assert "encounters pulled: 0" in human.stdout and "files sent:        0" in human.stdout
    assert "denials to work (by category):" in human.stdout and "received:" in human.stdout


def assert_every_eligibility_risk(summary: dict) -> None:
    """The demo's upcoming sessions show each reason a session is at risk, from the sandbox's 271s."""
    risks = {risk for row in summary["eligibility"]["at_risk"] for risk in row["risks"]}
    assert {"inactive", "carve_out", "no_visits_left", "authorization_required",
            "patient_responsibility"} <= risks, summary["eligibility"]


def test_demo_from_a_simplepractice_export_runs_the_same_loop(tmp_path):
    workdir = tmp_path / "demo-sp"
    first = cli("demo", "--workdir", str(workdir), "--source", "simplepractice", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    folder = workdir / "simplepractice-import"
    assert sorted(p.suffix for p in folder.iterdir() if not p.name.startswith(".")) == [".csv"] * 6
    [source] = summary["sources"]
    assert source["name"] == "demo-simplepractice" and source["quarantined"] == 0
    # 33 sessions with a fee; the two late cancels are not billed to their payer (no claim)
    assert summary["encounters_pulled"] == 33 and summary["not_billable"] == 2
    assert summary["claims_built"] == 31 and summary["files_sent"] == 1
    assert len(summary["claims_held"]) == summary["claims_built"] - summary["claims_sent"]
    assert summary["responses"]["counts"]["claims_accepted"] == summary["claims_sent"]
    assert Decimal(summary["revenue"]["paid"]) > 0
    assert_every_eligibility_risk(summary)

    second = cli("demo", "--workdir", str(workdir), "--source", "simplepractice", "--json")
    again = json.loads(second.stdout)
    assert (again["encounters_pulled"], again["files_sent"], again["claims_built"]) == (0, 0, 0)
    config = str(workdir / "claimbridge.yaml")
    listed = cli("--config", config, "quarantine", "list")
    assert listed.returncode == 0 and listed.stdout.strip() == "nothing quarantined"


def test_config_check_reports_every_problem_and_exits_1(tmp_path):
    good = cli("config", "check", str(EXAMPLE), env={"OFFICE_ALLY_SFTP_PASSWORD": "x"})
    assert good.returncode == 0, good.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace('npi: "1234567893"', 'npi: "123"')
                   .replace("preset: office_ally", "preset: office-ally")
                   .replace("page_size: 50", "page_size: 50\n      pagesize: 10"))
    result = cli("config", "check", str(bad), env={"OFFICE_ALLY_SFTP_PASSWORD": "s3cret-value"})
    assert result.returncode == 1
    assert "3 problems" in result.stderr
    for path in ("practice.npi", "clearinghouses[0].settings.preset", "sources[0].settings.pagesize"):
        assert path in result.stderr
    assert "s3cret-value" not in result.stdout + result.stderr


def test_errors_are_one_line_with_a_pointer_to_debug(tmp_path):
    result = cli("--config", str(tmp_path / "missing.yaml"), "sync")
    assert result.returncode == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = cli("--config", str(EXAMPLE), "claims", "show", "NOPE",
                  env={"OFFICE_ALLY_SFTP_PASSWORD": "x", "CLAIMBRIDGE_CONFIG": ""})
    assert unknown.returncode == 1


def test_init_creates_the_database(tmp_path):
    config = tmp_path / "claimbridge.yaml"
    config.write_text(EXAMPLE.read_text().replace("sqlite:///claimbridge.db", "sqlite:///state/cb.db"))
    result = cli("--config", str(config), "init", env={"OFFICE_ALLY_SFTP_PASSWORD": "x"})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state" / "cb.db").exists()


def test_plugins_list_shows_builtins_and_what_they_register():
    result = cli("plugins", "list", "--json")
    plugins = {p["name"]: p for p in json.loads(result.stdout)}
    assert plugins["ehr_fhir"]["sources"] == ["fhir", "fhir_bulk"]
    assert plugins["clearinghouse_sftp"]["clearinghouses"] == ["sftp"]
    text = cli("plugins", "list", env={"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir"}).stdout
    assert "clearinghouse_sftp" in text and "ehr_fhir" not in text


def test_sandbox_serve_accepts_sftp_until_interrupted(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "claimbridge.cli", "sandbox", "serve", "--root",
                                str(tmp_path / "sandbox"), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    banner = s.recv(64)
                    break
            time.sleep(0.1)
        else:
            pytest.fail("sandbox did not start")
        assert banner.startswith(b"SSH-2.0-")
        assert (tmp_path / "sandbox" / "inbound").is_dir()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
