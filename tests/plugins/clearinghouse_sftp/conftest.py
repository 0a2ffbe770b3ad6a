"""Fixtures for the SFTP clearinghouse tests: a real sshd (tests.fixtures.sshd) and the sandbox server."""

from __future__ import annotations

from pathlib import Path

import pytest

from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings
from tests.fixtures.sshd import *  # noqa: F403 - the sshd_server fixture

#: short timeouts keep failure cases quick; loopback answers in milliseconds
FAST = {"connect_timeout": 5, "io_timeout": 5, "keepalive_seconds": 1}
SANDBOX_PASSWORD = "sandbox-password"


@pytest.fixture
def sshd_settings(sshd_server):
    """Factory of settings for the sshd server; folders ``inbound``, ``outbound``, ``archive`` in its root."""
    root = sshd_server.root
    for folder in ("inbound", "outbound"):
        (root / folder).mkdir(exist_ok=True)

    def make(**overrides) -> SftpSettings:
        values = {
            "host": sshd_server.host, "port": sshd_server.port, "username": sshd_server.username,
            "private_key_path": sshd_server.private_key_path, "known_hosts": sshd_server.known_hosts_path,
            "upload_dir": str(root / "inbound"), "responses_dir": str(root / "outbound"),
            "archive_dir": str(root / "archive"), **FAST,
        }
        values.update(overrides)
        return SftpSettings(**values)

    return make


@pytest.fixture
def client_key(tmp_path: Path) -> Path:
    """An Ed25519 key pair (``client_key`` and ``client_key.pub``) made without ssh-keygen."""
    return write_ed25519_key(tmp_path / "client_key")


@pytest.fixture
def sandbox(tmp_path: Path, client_key: Path):
    """A running sandbox clearinghouse accepting both ``client_key`` and :data:`SANDBOX_PASSWORD`."""
    with SandboxClearinghouse(tmp_path / "sandbox", password=SANDBOX_PASSWORD,
                              authorized_key_paths=[client_key.with_suffix(".pub")]) as server:
        server.write_known_hosts(tmp_path / "known_hosts")
        yield server


@pytest.fixture
def sandbox_settings(sandbox, tmp_path: Path, client_key: Path):
    """Factory of settings for :func:`sandbox` (generic preset, key authentication unless overridden)."""

    def make(**overrides) -> SftpSettings:
        values = {"host": sandbox.host, "port": sandbox.port, "username": sandbox.username,
                  "private_key_path": client_key, "known_hosts": tmp_path / "known_hosts", **FAST}
        values.update(overrides)
        return SftpSettings(**values)

    return make


def write_ed25519_key(path: Path, passphrase: bytes | None = None) -> Path:
    """Write an OpenSSH Ed25519 private key to ``path`` and its public line to ``path.pub``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(passphrase) if passphrase
                  else serialization.NoEncryption())
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                       encryption))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    path.with_suffix(".pub").write_bytes(public + b" test-key\n")
    return path
