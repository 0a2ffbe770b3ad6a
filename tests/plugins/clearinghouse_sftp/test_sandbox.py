"""The sandbox clearinghouse: the client plugin against it, confinement, persistence, fault injection."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import paramiko
import pytest

from claimbridge import AuthError, FatalError, OutboundFile, TransmitError
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.sandbox import SandboxClearinghouse

from .conftest import SANDBOX_PASSWORD, write_ed25519_key


def upload(size: int = 50_000, name: str = "batch-0001.837") -> OutboundFile:
    return OutboundFile(name, os.urandom(size))


@pytest.mark.parametrize("auth", ["key", "password"])
def test_client_plugin_round_trip(sandbox, sandbox_settings, auth):
    settings = sandbox_settings() if auth == "key" else sandbox_settings(private_key_path=None,
                                                                         password=SANDBOX_PASSWORD)
    file = upload()
    with SftpClearinghouse("sandbox", settings) as clearinghouse:
        clearinghouse.check()
        assert clearinghouse.submit(file).remote_path == "inbound/batch-0001.837"
        assert clearinghouse.submit(file).already_present is True
        (sandbox.root / "outbound" / "ack.999").write_bytes(b"ISA*999")
        assert [f.name for f in clearinghouse.list_inbound()] == ["ack.999"]
        assert clearinghouse.fetch("ack.999") == b"ISA*999"
        clearinghouse.archive("ack.999")
    assert (sandbox.root / "inbound" / file.name).read_bytes() == file.content
    assert (sandbox.root / "archive" / "ack.999").exists()
    assert sorted(p.name for p in sandbox.root.iterdir()) == [".sandbox", "archive", "inbound", "outbound"]


def test_wrong_password_and_unknown_key_are_auth_errors(sandbox_settings, tmp_path):
    with pytest.raises(AuthError):
        SftpClearinghouse("s", sandbox_settings(private_key_path=None, password="wrong")).check()
    stranger = write_ed25519_key(tmp_path / "stranger")
    with pytest.raises(AuthError, match="refused user 'claimbridge'"):
        SftpClearinghouse("s", sandbox_settings(private_key_path=stranger)).check()


def test_encrypted_key_needs_its_passphrase(sandbox, sandbox_settings, tmp_path):
    locked = write_ed25519_key(tmp_path / "locked", passphrase=b"open sesame")
    with pytest.raises(AuthError, match="private_key_passphrase"):
        SftpClearinghouse("s", sandbox_settings(private_key_path=locked)).check()
    with pytest.raises(AuthError, match="cannot read private key"):
        SftpClearinghouse("s", sandbox_settings(private_key_path=locked, private_key_passphrase="no")).check()


@pytest.fixture
def raw_sftp(sandbox, client_key):
    """A plain paramiko SFTP client logged in to the sandbox (to try what the plugin never would)."""
    transport = paramiko.Transport((sandbox.host, sandbox.port))
    transport.connect(hostkey=sandbox.host_key, username=sandbox.username, password=SANDBOX_PASSWORD)
    sftp = paramiko.SFTPClient.from_transport(transport)
    yield sftp
    sftp.close()
    transport.close()


@pytest.mark.parametrize("path", ["..", "../", "/..", "../etc/passwd", "inbound/../../x", "/../../tmp",
                                  ".sandbox/host_key", "/.sandbox", "inbound/../.sandbox/host_key"])
def test_paths_outside_the_root_are_refused(raw_sftp, path):
    with pytest.raises(PermissionError):
        raw_sftp.stat(path)
    with pytest.raises(PermissionError):
        raw_sftp.open(path, "rb")


def test_writes_and_renames_cannot_escape(sandbox, raw_sftp, tmp_path):
    outside = tmp_path / "outside.txt"
    with pytest.raises(PermissionError):
        raw_sftp.open("../outside.txt", "wb")
    (sandbox.root / "inbound" / "x").write_bytes(b"x")
    with pytest.raises(PermissionError):
        raw_sftp.rename("inbound/x", "../outside.txt")
    with pytest.raises(PermissionError):
        raw_sftp.mkdir("../made-outside")
    assert not outside.exists() and not (tmp_path / "made-outside").exists()
    assert ".sandbox" not in raw_sftp.listdir("/")
    assert raw_sftp.normalize("../../..") == "/"


def test_symlinks_leading_out_are_refused(sandbox, raw_sftp, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for clients")
    (sandbox.root / "outbound" / "link").symlink_to(secret)
    (sandbox.root / "outbound" / "dirlink").symlink_to(tmp_path)
    with pytest.raises(PermissionError):
        raw_sftp.open("outbound/link", "rb")
    with pytest.raises(PermissionError):
        raw_sftp.listdir("outbound/dirlink")


def test_plugin_folder_outside_root_is_fatal(sandbox_settings, tmp_path):
    with pytest.raises(FatalError, match="permission denied"):
        SftpClearinghouse("s", sandbox_settings(upload_dir="../escape")).submit(upload())
    assert not (tmp_path / "escape").exists()


def test_host_key_persists_across_restarts(tmp_path, client_key):
    root = tmp_path / "persistent"
    with SandboxClearinghouse(root, password="pw") as first:
        line = first.known_hosts_line()
    key_file = root / ".sandbox" / "host_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with SandboxClearinghouse(root, password="pw") as second:
        assert second.known_hosts_line().split()[1:] == line.split()[1:]
        assert second.host_key_fingerprint == first.host_key_fingerprint
    other = SandboxClearinghouse(tmp_path / "elsewhere", password="pw")
    assert other.host_key_fingerprint != first.host_key_fingerprint


def test_write_known_hosts_replaces_only_its_own_entry(sandbox, tmp_path):
    known_hosts = tmp_path / "kh"
    name = f"[127.0.0.1]:{sandbox.port}"
    known_hosts.write_text(f"example.org ssh-ed25519 AAAAother\n{name} ssh-ed25519 AAAAstale\n")
    sandbox.write_known_hosts(known_hosts)
    lines = known_hosts.read_text().splitlines()
    assert lines == ["example.org ssh-ed25519 AAAAother", sandbox.known_hosts_line()]
    assert lines[1].startswith(f"{name} ssh-ed25519 ")


def test_full_disk_quota_is_reported_and_the_temporary_file_removed(sandbox, sandbox_settings):
    sandbox.files.max_bytes = 100_000
    file = upload(size=300_000)
    with SftpClearinghouse("s", sandbox_settings()) as clearinghouse:
        with pytest.raises(TransmitError, match="disk is probably full") as failure:
            clearinghouse.submit(file)
        assert "temporary file was removed" in str(failure.value)
        assert list((sandbox.root / "inbound").iterdir()) == []
        sandbox.files.max_bytes = None  # the clearinghouse freed space
        assert clearinghouse.submit(file).already_present is False
    assert (sandbox.root / "inbound" / file.name).read_bytes() == file.content


def test_connection_dropped_mid_upload_then_retry_delivers_once(sandbox, sandbox_settings):
    sandbox.files.drop_after_bytes = 200_000
    file = upload(size=1_000_000)
    inbound = sandbox.root / "inbound"
    clearinghouse = SftpClearinghouse("s", sandbox_settings())
    with pytest.raises(TransmitError, match="connection broke"):
        clearinghouse.submit(file)
    assert [p.name for p in inbound.iterdir()] == [f"{file.name}.part"]  # the interrupted upload's remains
    result = clearinghouse.submit(file)
    clearinghouse.close()
    assert result.already_present is False
    assert [p.name for p in inbound.iterdir()] == [file.name]
    assert (inbound / file.name).read_bytes() == file.content


def test_server_without_posix_rename_gets_a_plain_rename(sandbox, sandbox_settings):
    sandbox.files.posix_rename = False
    with SftpClearinghouse("s", sandbox_settings()) as clearinghouse:
        clearinghouse.submit(upload(name="a.837"))
        clearinghouse.submit(upload(name="b.837"))
    assert sorted(p.name for p in (sandbox.root / "inbound").iterdir()) == ["a.837", "b.837"]


def test_sandbox_needs_a_credential(tmp_path):
    with pytest.raises(ValueError, match="password or at least one authorized public key"):
        SandboxClearinghouse(tmp_path)


def test_serve_runs_until_ctrl_c(tmp_path):
    root = tmp_path / "served"
    code = ("from claimbridge.plugins.clearinghouse_sftp.sandbox import serve; "
            f"serve({str(root)!r}, port=0, password='pw')")
    process = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline()
        assert first.startswith("sandbox clearinghouse listening on 127.0.0.1:")
        port = int(first.split("127.0.0.1:")[1].split()[0])
        for _ in range(3):
            assert process.stdout.readline()
        known_hosts = (root / ".sandbox" / "known_hosts").read_text()
        assert known_hosts.startswith(f"[127.0.0.1]:{port} ssh-ed25519 ")
        process.send_signal(2)  # SIGINT, as Ctrl-C
        out, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_stop_closes_open_connections(sandbox, sandbox_settings):
    clearinghouse = SftpClearinghouse("s", sandbox_settings())
    clearinghouse.check()
    sandbox.stop()
    time.sleep(0.05)
    with pytest.raises(TransmitError):
        clearinghouse.list_inbound()


def test_file_the_clearinghouse_already_took_is_not_sent_again(sandbox, sandbox_settings):
    file = upload(name="taken.837")
    processed = sandbox.root / "inbound" / "processed"
    processed.mkdir()
    (processed / file.name).write_bytes(file.content)
    with SftpClearinghouse("s", sandbox_settings(picked_up_dirs=["inbound/processed"])) as clearinghouse:
        result = clearinghouse.submit(file)
    assert result.already_present is True
    assert result.remote_path == "inbound/processed/taken.837"
    assert not (sandbox.root / "inbound" / file.name).exists()


def test_fetching_a_vanished_response_is_retryable(sandbox_settings):
    with SftpClearinghouse("s", sandbox_settings()) as clearinghouse, \
            pytest.raises(TransmitError, match="no longer there"):
        clearinghouse.fetch("gone.999")
