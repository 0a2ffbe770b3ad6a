"""``claimbridge demo``: the whole pipeline on synthetic sessions, nothing else to start.

It starts the built-in FHIR sandbox (holding the synthetic therapy sessions) and the sandbox clearinghouse
(SFTP on loopback), writes ``WORKDIR/claimbridge.yaml`` so every other command can be run against the same
data, and runs one pass. The data set is written to the work folder on the first run and reused, so a second
run in the same folder pulls nothing new and sends nothing twice.
"""

from __future__ import annotations

import contextlib
import json
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from claimbridge.eligibility.service import check_upcoming, list_checks
from claimbridge.inbound import fetch_responses
from claimbridge.pipeline import PipelineSummary, Runtime, run_pipeline
from claimbridge.posting.report import revenue_summary
from claimbridge.store.models import utcnow

SFTP_USER = "claimbridge"


def _demo_payer():
    from claimbridge.plugins.clearinghouse_sftp.responder_835 import AdjudicationModel

    # a payer that denies about one claim in seven, reprocesses one in ten, and pays a little interest
    return AdjudicationModel(denial_rate=Decimal("0.15"), reversal_rate=Decimal("0.10"), interest=Decimal("0.85"))


#: where ``claimbridge demo`` reads the sessions from
DEMO_SOURCES = ("fhir", "simplepractice")


def run_demo(workdir: Path, *, progress=None, source: str = "fhir") -> tuple[PipelineSummary, dict]:
    """One pass over the demo practice, read from the FHIR sandbox (``source="fhir"``) or from a SimplePractice
    export in ``WORKDIR/simplepractice-import`` (``"simplepractice"``)."""
    from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
    from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox

    if source not in DEMO_SOURCES:
        raise ValueError(f"the demo reads from {' or '.join(DEMO_SOURCES)}, not {source!r}")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "claimbridge.yaml"
    previous = _previous_ports(config_path)
    key_path = client_key(workdir / "keys")
    demo_payer = _demo_payer()
    if source == "simplepractice":
        fhir = None
        source_entry = simplepractice_export(workdir)
    else:
        fhir = FhirSandbox(demo_data(workdir), port=_free_or_zero(previous.get("fhir")))
    sftp = SandboxClearinghouse(workdir / "clearinghouse", port=_free_or_zero(previous.get("sftp")),
                                username=SFTP_USER, authorized_key_paths=[key_path.with_suffix(".pub")],
                                adjudication=demo_payer)
    if fhir is not None:
        fhir.start()
        source_entry = fhir_source_entry(fhir.base_url)
    try:
        sftp.start()
        try:
            known_hosts = workdir / "keys" / "known_hosts"
            sftp.write_known_hosts(known_hosts)
            config_path.write_text(demo_config(source_entry, sftp.port, key_path, known_hosts),
                                   encoding="utf-8")
            write_payer_profiles(workdir / "payers")
            with Runtime.open(config_path) as runtime:
                summary = run_pipeline(runtime, progress=progress)
                (progress or (lambda message: None))("asking about the upcoming sessions (270)")
                asked = check_upcoming(runtime)
                summary.errors.extend(asked.errors)
                # the sandbox answered each 837 as it arrived (TA1/999/277CA, and its payers' 835s), and each
                # 270 (999, 271)
                (progress or (lambda message: None))("fetching acknowledgments, remittances and eligibility answers")
                fetched = fetch_responses(runtime, progress=progress)
                revenue = revenue_summary(runtime.store)
                at_risk = list_checks(runtime.store, at_risk=True, upcoming_from=utcnow().date())
            inbound = workdir / "clearinghouse" / "inbound"
            received = sorted(str(p) for p in inbound.glob("*.837")) if inbound.exists() else []
        finally:
            sftp.stop()
    finally:
        if fhir is not None:
            fhir.stop()
    responses = fetched.to_dict()
    responses.pop("details")
    summary.errors.extend(fetched.errors)
    extra = {
        "responses": responses,
        "revenue": revenue,
        "eligibility": {**asked.counts(), "at_risk": at_risk},
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
            f"  claimbridge --config {config_path} eligibility list --at-risk",
            f"  claimbridge x12 validate {workdir / 'outbound'}/*.837",
        ],
    }
    login = demo_login(config_path)
    extra["web"] = login
    extra["next_steps"] += [
        "",
        "The admin UI and API over the demo's data:",
        f"  claimbridge --config {config_path} web --port {login['port']}",
        f"  then open {login['url']} and sign in as {login['username']} with the one-time password "
        f"{login['password']}",
    ]
    return summary, extra


def demo_login(config_path: Path) -> dict:
    """A one-time login for the demo's data: user ``demo`` (admin) gets a new random password on every run."""
    import secrets

    from claimbridge.web.auth import AuthError, add_user, set_password

    password = secrets.token_urlsafe(12)
    with Runtime.open(config_path) as runtime:
        try:
            add_user(runtime.store, "demo", password, "admin")
        except AuthError:
            set_password(runtime.store, "demo", password)
        web = runtime.settings.web
    return {"username": "demo", "password": password, "port": web.port,
            "url": f"http://{web.host}:{web.port}/"}


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


def simplepractice_export(workdir: Path) -> dict:
    """The demo practice as a SimplePractice export in ``WORKDIR/simplepractice-import`` (written on the first
    run and reused), and the source entry reading it."""
    from claimbridge.plugins.ehr_simplepractice.demo_export import demo_source_entry, write_demo_export

    folder = workdir / "simplepractice-import"
    if not folder.is_dir() or not any(folder.iterdir()):
        write_demo_export(folder, (datetime.now(UTC) - timedelta(minutes=5)).date())
    entry = demo_source_entry(folder)
    entry["name"] = "demo-simplepractice"
    return entry


def fhir_source_entry(base_url: str) -> dict:
    from claimbridge.plugins.ehr_fhir.demo_data import demo_code_map

    return {"name": "demo-fhir", "type": "fhir",
            "settings": {"base_url": base_url, "page_size": 10, "procedure_code_map": demo_code_map()}}


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
    ports: dict[str, int] = {}
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return ports
    with contextlib.suppress(KeyError, IndexError, ValueError, TypeError):
        ports["sftp"] = int(data["clearinghouses"][0]["settings"]["port"])
    with contextlib.suppress(KeyError, IndexError, ValueError, TypeError, AttributeError):
        url = data["sources"][0]["settings"]["base_url"]
        ports["fhir"] = int(url.rsplit(":", 1)[1].split("/")[0])
    return ports


def _free_or_zero(port: int | None) -> int:
    if not port:
        return 0
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def demo_config(source: str | dict, sftp_port: int, key_path: Path, known_hosts: Path) -> str:
    """The demo's claimbridge.yaml: ``source`` is the FHIR sandbox's base URL or a ``sources[]`` entry."""
    from claimbridge.plugins.ehr_fhir.demo_data import demo_fee_schedule, demo_practice_settings

    source_entry = fhir_source_entry(source) if isinstance(source, str) else source

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
        "sources": [source_entry],
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
    header = ("# Written by `claimbridge demo`: the demo's sessions (local FHIR sandbox or SimplePractice export) "
              "and sandbox clearinghouse.\n"
              "# Every key is described in config/claimbridge.example.yaml.\n")
    return header + yaml.safe_dump(config, sort_keys=False)
