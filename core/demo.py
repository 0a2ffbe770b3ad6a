"""``claimbridge demo``: the whole pipeline on synthetic sessions, nothing else to start.

It starts the built-in FHIR sandbox (holding the synthetic therapy sessions) and the sandbox clearinghouse
(SFTP on loopback), writes ``WORKDIR/claimbridge.yaml`` so every other command can be run against the same
data, and runs one pass. The data set is written to the work folder on the first run and reused, so a second
run in the same folder pulls nothing new and sends nothing twice.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from claimbridge.inbound import fetch_responses
from claimbridge.pipeline import PipelineSummary, Runtime, run_pipeline
from claimbridge.posting.report import revenue_summary

SFTP_USER = "claimbridge"


def _demo_payer():
    from claimbridge.plugins.clearinghouse_sftp.responder_835 import AdjudicationModel

    # a payer that denies about one claim in seven, reprocesses one in ten, and pays a little interest
    return AdjudicationModel(denial_rate=Decimal("0.15"), reversal_rate=Decimal("0.10"), interest=Decimal("0.85"))


def run_demo(workdir: Path, *, progress=None) -> tuple[PipelineSummary, dict]:
    from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
    from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "claimbridge.yaml"
    previous = _previous_ports(config_path)
    resources = demo_data(workdir)
    key_path = client_key(workdir / "keys")
    demo_payer = _demo_payer()
    fhir = FhirSandbox(resources, port=_free_or_zero(previous.get("fhir")))
    sftp = SandboxClearinghouse(workdir / "clearinghouse", port=_free_or_zero(previous.get("sftp")),
                                username=SFTP_USER, authorized_key_paths=[key_path.with_suffix(".pub")],
                                adjudication=demo_payer)
    fhir.start()
    try:
        sftp.start()
        try:
            known_hosts = workdir / "keys" / "known_hosts"
            sftp.write_known_hosts(known_hosts)
            config_path.write_text(demo_config(fhir.base_url, sftp.port, key_path, known_hosts),
                                   encoding="utf-8")
            write_payer_profiles(workdir / "payers")
            with Runtime.open(config_path) as runtime:
                summary = run_pipeline(runtime, progress=progress)
                # the sandbox answered each 837 as it arrived (TA1/999/277CA, and its payers' 835s)
                (progress or (lambda message: None))("fetching acknowledgments and remittances")
                fetched = fetch_responses(runtime, progress=progress)
                revenue = revenue_summary(runtime.store)
            inbound = workdir / "clearinghouse" / "inbound"
            received = sorted(str(p) for p in inbound.glob("*.837")) if inbound.exists() else []
        finally:
            sftp.stop()
    finally:
        fhir.stop()
    responses = fetched.to_dict()
    responses.pop("details")
    summary.errors.extend(fetched.errors)
    extra = {
        "responses": responses,
        "revenue": revenue,
        "workdir": str(workdir),
        "config": str(config_path),
        "received_files": received,
        "next_steps": [
            "",
            f"The demo's configuration is {config_path}; try:",
            f"  claimbridge --config {config_path} claims list",
            f"  claimbridge --config {config_path} claims show <PCN>",
            f"  claimbridge --config {config_path} remits list",
            f"  claimbridge --config {config_path} denials list",
            f"  claimbridge --config {config_path} responses list",
            f"  claimbridge x12 validate {workdir / 'outbound'}/*.837",
        ],
    }
    return summary, extra


def demo_data(workdir: Path) -> list[dict]:
    """The synthetic data set, made once per work folder so a rerun sees the very same records."""
    from claimbridge.plugins.ehr_fhir.demo_data import demo_resources

    path = workdir / "demo-data" / "fhir-resources.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    made = datetime.now(UTC) - timedelta(minutes=5)
    resources = demo_resources(made.date())
    for resource in resources:
        meta = resource.setdefault("meta", {})
        meta.setdefault("lastUpdated", made.isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(resources, indent=1), encoding="utf-8")
    return resources


def write_payer_profiles(folder: Path) -> None:
    """The demo payers' profiles, in the ``payers`` folder beside the demo's configuration."""
    from claimbridge.plugins.ehr_fhir.demo_data import demo_payer_profiles

    folder.mkdir(parents=True, exist_ok=True)
    for name, profile in demo_payer_profiles().items():
        (folder / f"{name}.yaml").write_text(
            f"# Written by `claimbridge demo`; every key is described in {name}.yaml's siblings under "
            f"config/payers.\n" + yaml.safe_dump({"name": name, **profile}, sort_keys=False), encoding="utf-8")


def client_key(folder: Path, name: str = "id_ed25519") -> Path:
    """An Ed25519 key pair in OpenSSH format (``name`` and ``name.pub``), made once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / name
    if not key_path.exists():
        key = Ed25519PrivateKey.generate()
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                               serialization.NoEncryption()))
        key_path.chmod(0o600)
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                               serialization.PublicFormat.OpenSSH)
        key_path.with_suffix(".pub").write_bytes(public + b" claimbridge-demo\n")
    return key_path


def _previous_ports(config_path: Path) -> dict[str, int]:
    """Reuse the ports of the last run when they are free, so the saved configuration stays familiar."""
    if not config_path.exists():
        return {}
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
        url = data["sources"][0]["settings"]["base_url"]
        return {"fhir": int(url.rsplit(":", 1)[1].split("/")[0]),
                "sftp": int(data["clearinghouses"][0]["settings"]["port"])}
    except (KeyError, IndexError, ValueError, TypeError, yaml.YAMLError):
        return {}


def _free_or_zero(port: int | None) -> int:
    if not port:
        return 0
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def demo_config(fhir_url: str, sftp_port: int, key_path: Path, known_hosts: Path) -> str:
    from claimbridge.plugins.ehr_fhir.demo_data import (
        demo_code_map,
        demo_fee_schedule,
        demo_practice_settings,
    )

    config = {
        "database": {"url": "sqlite:///claimbridge.db"},
        "workdir": ".",
        "practice": demo_practice_settings(),
        "submitter": {"id": "RIVERBEND01", "name": "Riverbend Counseling Group PLLC",
                      "contact": {"name": "Billing Office", "phone": "2175550100"}},
        "claims": {
            "pcn_prefix": "RB",
            "fee_schedule": {code: str(fee) for code, fee in demo_fee_schedule().items()},
        },
        "sources": [{
            "name": "demo-fhir",
            "type": "fhir",
            "settings": {"base_url": fhir_url, "page_size": 10,
                         "procedure_code_map": demo_code_map()},
        }],
        "clearinghouses": [{
            "name": "sandbox",
            "type": "sftp",
            "trading_partner": {"sender_id": "RIVERBEND01", "receiver_id": "SANDBOXCH",
                                "receiver_name": "CLAIMBRIDGE SANDBOX CLEARINGHOUSE", "usage": "T"},
            "settings": {"host": "127.0.0.1", "port": sftp_port, "username": SFTP_USER,
                         "private_key_path": str(key_path), "known_hosts": str(known_hosts),
                         "preset": "generic"},
        }],
    }
    header = ("# Written by `claimbridge demo`: the demo's local FHIR sandbox and sandbox clearinghouse.\n"
              "# Every key is described in config/claimbridge.example.yaml.\n")
    return header + yaml.safe_dump(config, sort_keys=False)
