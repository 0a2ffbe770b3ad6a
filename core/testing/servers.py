"""Real servers for plugin tests: the sandbox SFTP clearinghouse and a throwaway FHIR R4 server.

* :class:`SandboxClearinghouseHandle` (fixture ``claimbridge_sandbox_clearinghouse``): claimbridge's sandbox
  clearinghouse — a real SFTP server (paramiko) on a free loopback port over a temporary folder, answering each
  837 with TA1/999/277CA files like a clearinghouse. ``settings()`` gives ``sftp`` connector settings that reach
  it, ``untrusted_settings()`` the same with a host key it does not have, ``far_side`` the
  :class:`~claimbridge.testing.clearinghouses.FolderFarSide` of its folders.
* :class:`FhirServerHandle` (fixture ``claimbridge_fhir_server``): Medplum's FHIR router under Node.js when
  ``node`` is on the PATH and the Medplum packages are installed (``$CLAIMBRIDGE_MEDPLUM_DIR``, or
  ``tests/fhir_server`` of a claimbridge source checkout after ``npm ci``), otherwise claimbridge's in-process
  FHIR sandbox. Both start empty; ``load(resources)`` PUTs resources and ``base_url`` is what a ``fhir`` source's
  settings take. ``kind`` says which one runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: where Medplum's server script and node_modules are looked for when $CLAIMBRIDGE_MEDPLUM_DIR is not set
SOURCE_CHECKOUT_MEDPLUM = Path(__file__).resolve().parents[2] / "tests" / "fhir_server"
MEDPLUM_ENV = "CLAIMBRIDGE_MEDPLUM_DIR"
START_TIMEOUT = 30.0


# ------------------------------------------------------------------------------------- sandbox clearinghouse


class SandboxClearinghouseHandle:
    """A running sandbox clearinghouse and what a test needs to reach it (see the module docstring)."""

    username = "claimbridge"
    password = "sandbox-password"

    def __init__(self, folder: Path, *, answer: bool = True):
        from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
        from claimbridge.plugins.clearinghouse_sftp.settings import PRESETS
        from claimbridge.testing.clearinghouses import FolderFarSide

        self.folder = Path(folder)
        self.server = SandboxClearinghouse(self.folder / "root", username=self.username, password=self.password,
                                           answer=answer)
        self.server.start()
        self.known_hosts = self.server.write_known_hosts(self.folder / "known_hosts")
        self.stranger_known_hosts = self.folder / "known_hosts.stranger"
        self.stranger_known_hosts.write_text(f"[{self.server.host}]:{self.server.port} {unknown_host_key()}\n")
        layout = PRESETS["generic"]
        self.layout = layout
        self.far_side = FolderFarSide(self.server.root / layout.upload, self.server.root / layout.responses)

    @property
    def root(self) -> Path:
        return self.server.root

    def settings(self, **overrides: Any):
        """``SftpSettings`` for this sandbox (generic folder layout, password login, short timeouts)."""
        from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings

        values: dict[str, Any] = {"host": self.server.host, "port": self.server.port, "username": self.username,
                                  "password": self.password, "known_hosts": self.known_hosts,
                                  "connect_timeout": 10, "io_timeout": 30, "keepalive_seconds": 1}
        values.update(overrides)
        return SftpSettings(**values)

    def untrusted_settings(self, **overrides: Any):
        """Settings whose known_hosts pins another key for this host: a connector must refuse it."""
        return self.settings(known_hosts=self.stranger_known_hosts, **overrides)

    def config_entry(self, name: str = "sandbox") -> dict[str, Any]:
        """A ``clearinghouses[]`` entry of claimbridge.yaml for this sandbox."""
        return {"name": name, "type": "sftp",
                "settings": {"host": self.server.host, "port": self.server.port, "username": self.username,
                             "password": self.password, "known_hosts": str(self.known_hosts)}}

    def stop(self) -> None:
        self.server.stop()


def unknown_host_key() -> str:
    """``ssh-ed25519 AAAA…`` of a key nobody holds."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


# ---------------------------------------------------------------------------------------------- FHIR server


@dataclass
class MedplumProcess:
    """A running Medplum ``server.mjs``."""

    base_url: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def medplum_dir() -> Path | None:
    """The folder with Medplum's ``server.mjs`` and its node_modules, when there is one."""
    configured = os.environ.get(MEDPLUM_ENV)
    candidates = [Path(configured)] if configured else [SOURCE_CHECKOUT_MEDPLUM]
    for folder in candidates:
        if (folder / "server.mjs").is_file() and (folder / "node_modules" / "@medplum" / "fhir-router").is_dir():
            return folder
    return None


def start_medplum(log_dir: Path, folder: Path | None = None) -> MedplumProcess:
    """Start Medplum's FHIR router (``server.mjs`` over an in-memory repository) on a free loopback port.

    Raises ``LookupError`` when ``node`` or the Medplum packages are missing, ``RuntimeError`` when it does not
    start (with the end of its log)."""
    node = shutil.which("node")
    if node is None:
        raise LookupError("Node.js is not installed: the Medplum FHIR server needs node 20.19+")
    folder = folder or medplum_dir()
    if folder is None or not (folder / "node_modules" / "@medplum" / "fhir-router").is_dir():
        raise LookupError(f"Medplum packages not found: set {MEDPLUM_ENV} to a folder holding server.mjs and "
                          f"its node_modules, or run `npm ci` in {SOURCE_CHECKOUT_MEDPLUM}")
    log_path = Path(log_dir) / "medplum.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([node, "server.mjs", "--port", "0"], cwd=folder, stdout=subprocess.PIPE,
                                   stderr=log_file, text=True)
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    line = first_line[0].strip() if first_line else ""
    if not line.startswith("listening "):
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        raise RuntimeError(f"the Medplum FHIR server did not start (stdout {line!r}); its log:\n"
                           f"{log_path.read_text(errors='replace')[-3000:]}")
    address = line.split(" ", 1)[1]
    return MedplumProcess(base_url=f"http://{address}/fhir/R4", process=process, log_path=log_path)


class FhirServerHandle:
    """A throwaway FHIR R4 server (see the module docstring)."""

    def __init__(self, folder: Path, *, prefer: str = "medplum"):
        self.kind = "sandbox"
        self._medplum: MedplumProcess | None = None
        self._sandbox = None
        self.why_not_medplum: str | None = None
        if prefer == "medplum":
            try:
                self._medplum = start_medplum(folder)
                self.kind = "medplum"
            except LookupError as exc:
                self.why_not_medplum = str(exc)
        if self._medplum is None:
            from claimbridge.plugins.ehr_fhir.sandbox import FhirSandbox

            self._sandbox = FhirSandbox().start()

    @property
    def base_url(self) -> str:
        return self._medplum.base_url if self._medplum is not None else self._sandbox.base_url

    def load(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create or update each resource (PUT by id); return what the server stored, with its ``meta``."""
        import requests

        stored = []
        with requests.Session() as http:
            for resource in resources:
                url = f"{self.base_url}/{resource['resourceType']}/{resource['id']}"
                response = http.put(url, json=resource, headers={"Content-Type": "application/fhir+json"},
                                    timeout=30)
                if response.status_code >= 400:
                    raise AssertionError(f"PUT {resource['resourceType']}/{resource['id']}: HTTP "
                                         f"{response.status_code} {response.text[:500]}")
                stored.append(response.json())
        return stored

    def stop(self) -> None:
        if self._medplum is not None:
            self._medplum.stop()
        if self._sandbox is not None:
            self._sandbox.stop()
