"""The SFTP clearinghouse against a real OpenSSH sshd (internal-sftp)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import subprocess
import threading
import time

import paramiko
import pytest

from claimbridge import AuthError, FatalError, HostKeyError, OutboundFile, TransmitError
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from tests.fixtures.sshd import make_ssh_key

pytestmark = pytest.mark.sshd


def claim_file(name: str = "claims-0001.837", size: int = 200_000) -> OutboundFile:
    return OutboundFile(name, os.urandom(size))


def public_fingerprint(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# -- uploads --------------------------------------------------------------------------------------

class FolderWatcher:
    """Polls a folder while an upload runs and records what a clearinghouse would have seen."""

    def __init__(self, folder, name: str):
        self.final = folder / name
        self.temp = folder / f"{name}.part"
        self.seen_temp = False
        self.final_sizes: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll)

    def _poll(self):
        while not self._stop.is_set():
            self._look()
            time.sleep(0.0005)
        self._look()

    def _look(self):
        with contextlib.suppress(FileNotFoundError):
            self.final_sizes.add(self.final.stat().st_size)
        self.seen_temp = self.seen_temp or self.temp.exists()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_upload_goes_to_a_temporary_name_then_is_renamed(sshd_server, sshd_settings):
    file = claim_file(size=8_000_000)
    inbound = sshd_server.root / "inbound"
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse, FolderWatcher(inbound, file.name) as seen:
        result = clearinghouse.submit(file)
    assert result.remote_path == str(inbound / file.name)
    assert result.already_present is False
    assert (inbound / file.name).read_bytes() == file.content
    assert leftovers(inbound) == []
    assert seen.seen_temp
    assert seen.final_sizes == {len(file.content)}  # never seen incomplete under its final name


def test_second_submit_finds_the_file_and_uploads_nothing(sshd_server, sshd_settings):
    file = claim_file()
    inbound = sshd_server.root / "inbound"
    target = inbound / file.name
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse:
        clearinghouse.submit(file)
        before = target.stat()
        time.sleep(0.02)
        with FolderWatcher(inbound, file.name) as seen:
            result = clearinghouse.submit(file)
    after = target.stat()
    assert result.already_present is True
    assert result.remote_path == str(target)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert not seen.seen_temp


def test_same_name_with_other_content_is_never_overwritten(sshd_server, sshd_settings):
    file = claim_file(size=1000)
    target = sshd_server.root / "inbound" / file.name
    target.write_bytes(b"x" * 1000)  # same size, other bytes
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse, \
            pytest.raises(FatalError, match="other content"):
        clearinghouse.submit(file)
    target.write_bytes(b"x" * 10)
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse, \
            pytest.raises(FatalError, match="already exists with 10 bytes"):
        clearinghouse.submit(file)
    assert target.read_bytes() == b"x" * 10


def test_stale_temporary_file_from_a_crashed_upload_is_replaced(sshd_server, sshd_settings):
    file = claim_file(size=5000)
    inbound = sshd_server.root / "inbound"
    (inbound / f"{file.name}.part").write_bytes(b"half a file from last night" * 1000)
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse:
        result = clearinghouse.submit(file)
    assert result.already_present is False
    assert (inbound / file.name).read_bytes() == file.content
    assert leftovers(inbound) == []


def test_connection_dropped_mid_upload_then_retry_delivers_exactly_once(sshd_server, sshd_settings):
    """sshd's session processes are killed (SIGKILL) while the temporary file is growing."""
    file = claim_file(size=24_000_000)
    inbound = sshd_server.root / "inbound"
    temp = inbound / f"{file.name}.part"
    killed = []

    def kill_when_upload_started():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError):
                if temp.stat().st_size > 256 * 1024:
                    killed.append(sshd_server.kill_sessions())
                    return
            time.sleep(0.002)

    clearinghouse = SftpClearinghouse("ch", sshd_settings())
    watcher = threading.Thread(target=kill_when_upload_started)
    watcher.start()
    with pytest.raises(TransmitError, match="connection broke") as failure:
        clearinghouse.submit(file)
    watcher.join()
    assert killed and killed[0] > 0, "the upload finished before the connection could be dropped"
    assert failure.value.__class__ is TransmitError
    assert not (inbound / file.name).exists()
    assert temp.exists() and temp.stat().st_size < len(file.content)  # the interrupted upload's remains

    result = clearinghouse.submit(file)  # reconnects, removes the stale temp, uploads again
    clearinghouse.close()
    assert result.already_present is False
    assert sorted(p.name for p in inbound.iterdir()) == [file.name]
    assert (inbound / file.name).read_bytes() == file.content


def test_lost_idle_connection_is_replaced_before_the_next_operation(sshd_server, sshd_settings):
    (sshd_server.root / "outbound" / "r1.999").write_bytes(b"ISA*00")
    with SftpClearinghouse("ch", sshd_settings()) as clearinghouse:
        assert [f.name for f in clearinghouse.list_inbound()] == ["r1.999"]
        assert sshd_server.kill_sessions() > 0
        time.sleep(0.1)
        assert [f.name for f in clearinghouse.list_inbound()] == ["r1.999"]


def test_hung_server_gives_a_timely_transmit_error(sshd_server, sshd_settings):
    """Every sshd process is stopped (SIGSTOP): the probe and the reconnect must time out, not hang."""
    clearinghouse = SftpClearinghouse("ch", sshd_settings(connect_timeout=1, io_timeout=1))
    clearinghouse.list_inbound()
    frozen = [sshd_server.pid, *sshd_server.session_pids()]
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(TransmitError):
            clearinghouse.list_inbound()
        assert time.monotonic() - started < 6
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert clearinghouse.list_inbound() == []  # the server is back: a fresh connection works
    clearinghouse.close()


@pytest.fixture
def small_tmpfs(sshd_server):
    """A 256 KiB tmpfs mounted as the upload folder (needs root and a kernel that allows it)."""
    folder = sshd_server.root / "tiny-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); the sandbox quota test covers it")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_full_remote_disk_is_reported_and_leaves_nothing_behind(small_tmpfs, sshd_settings):
    file = claim_file(size=1_000_000)
    with SftpClearinghouse("ch", sshd_settings(upload_dir=str(small_tmpfs))) as clearinghouse:
        with pytest.raises(TransmitError) as failure:
            clearinghouse.submit(file)
        message = str(failure.value)
        assert "refused to write" in message and "disk is probably full" in message
        assert "temporary file was removed" in message
        assert list(small_tmpfs.iterdir()) == []
        # the connection survived the refusal: a file that fits goes through on it
        assert clearinghouse.submit(claim_file("small.837", size=1000)).already_present is False
    assert [p.name for p in small_tmpfs.iterdir()] == ["small.837"]


# -- host keys and authentication -------------------------------------------------------------------

def test_unknown_host_key_is_refused_and_not_added(sshd_server, sshd_settings, tmp_path):
    known_hosts = tmp_path / "empty_known_hosts"
    known_hosts.write_text("")
    clearinghouse = SftpClearinghouse("ch", sshd_settings(known_hosts=known_hosts))
    with pytest.raises(HostKeyError) as refused:
        clearinghouse.submit(claim_file())
    message = str(refused.value)
    assert f"127.0.0.1:{sshd_server.port}" in message
    assert public_fingerprint(sshd_server.host_public_key) in message
    assert "Verify" in message and str(known_hosts) in message
    assert known_hosts.read_text() == ""
    assert list((sshd_server.root / "inbound").iterdir()) == []


def test_changed_host_key_is_refused(sshd_server, sshd_settings, tmp_path):
    other = make_ssh_key(tmp_path / "impostor_host_key")
    other_public = " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{sshd_server.port} {other_public}\n")
    with pytest.raises(HostKeyError, match="CHANGED") as refused:
        SftpClearinghouse("ch", sshd_settings(known_hosts=known_hosts)).check()
    message = str(refused.value)
    assert public_fingerprint(sshd_server.host_public_key) in message  # offered
    assert public_fingerprint(other_public) in message  # pinned
    assert f"[127.0.0.1]:{sshd_server.port}" in message


def test_entry_for_another_port_does_not_pin_this_one(sshd_server, sshd_settings, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"127.0.0.1 {sshd_server.host_public_key}\n")  # port 22 form
    with pytest.raises(HostKeyError, match="no entry for"):
        SftpClearinghouse("ch", sshd_settings(known_hosts=known_hosts)).check()


def test_missing_known_hosts_file_is_a_host_key_error(sshd_settings, tmp_path):
    with pytest.raises(HostKeyError, match="cannot read known_hosts"):
        SftpClearinghouse("ch", sshd_settings(known_hosts=tmp_path / "nope")).check()


def test_wrong_private_key_is_an_auth_error(sshd_server, sshd_settings, tmp_path):
    stranger = make_ssh_key(tmp_path / "stranger")
    with pytest.raises(AuthError, match=f"refused user '{sshd_server.username}'"):
        SftpClearinghouse("ch", sshd_settings(private_key_path=stranger)).check()


def test_password_refused_when_server_allows_keys_only(sshd_settings):
    settings = sshd_settings(private_key_path=None, password="guess")
    with pytest.raises(AuthError):
        SftpClearinghouse("ch", settings).check()


# -- responses ------------------------------------------------------------------------------------

def test_list_fetch_archive_round_trip(sshd_server, sshd_settings):
    outbound = sshd_server.root / "outbound"
    (outbound / "a.999").write_bytes(b"ISA*999")
    (outbound / "b.277").write_bytes(b"ISA*277CA")
    (outbound / "c.835.part").write_bytes(b"still arriving")
    (outbound / ".hidden").write_bytes(b"x")
    (outbound / "subfolder").mkdir()
    os.utime(outbound / "b.277", (1_700_000_000, 1_700_000_000))  # older: listed first
    archive = sshd_server.root / "archive" / "2026"
    with SftpClearinghouse("ch", sshd_settings(archive_dir=str(archive))) as clearinghouse:
        listed = clearinghouse.list_inbound()
        assert [(f.name, f.size) for f in listed] == [("b.277", 9), ("a.999", 7)]
        assert listed[0].modified.timestamp() == 1_700_000_000
        assert clearinghouse.fetch("a.999") == b"ISA*999"
        clearinghouse.archive("a.999")  # creates archive/2026
        clearinghouse.archive("a.999")  # already archived: nothing to do
        (outbound / "a.999").write_bytes(b"ISA*999 again")
        clearinghouse.archive("a.999")  # an archived namesake is kept
        assert [f.name for f in clearinghouse.list_inbound()] == ["b.277"]
        with pytest.raises(ValueError):
            clearinghouse.fetch("../inbound/x")
    archived = sorted(p.name for p in archive.iterdir())
    assert archived[0] == "a.999" and archived[1].startswith("a.999.") and len(archived) == 2
    assert (archive / "a.999").read_bytes() == b"ISA*999"


def test_check_names_a_missing_folder(sshd_server, sshd_settings):
    SftpClearinghouse("ch", sshd_settings()).check()
    with pytest.raises(FatalError, match="responses_dir"):
        SftpClearinghouse("ch", sshd_settings(responses_dir=str(sshd_server.root / "nope"))).check()


def test_upload_into_missing_folder_is_fatal(sshd_server, sshd_settings):
    with pytest.raises(FatalError, match="no such file or folder"):
        SftpClearinghouse("ch", sshd_settings(upload_dir=str(sshd_server.root / "nope"))).submit(claim_file())


def test_paramiko_rejects_without_our_policy_too(sshd_server):
    """Guard: the fixture's known_hosts entry is what makes RejectPolicy accept the real server."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(sshd_server.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(sshd_server.host, sshd_server.port, sshd_server.username,
                   key_filename=str(sshd_server.private_key_path), allow_agent=False, look_for_keys=False,
                   timeout=5)
    client.close()
