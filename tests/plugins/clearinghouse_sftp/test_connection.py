"""Connection failures that need no SSH server: refused port, silent server, bad names."""

from __future__ import annotations

import socket
import time

import pytest

from claimbridge import OutboundFile, TransmitError
from claimbridge.plugins.clearinghouse_sftp.connection import fingerprint, known_hosts_name
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings


def local_settings(tmp_path, port: int, **changes) -> SftpSettings:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.touch()
    values = {"host": "127.0.0.1", "port": port, "username": "u", "password": "p", "known_hosts": known_hosts,
              "connect_timeout": 0.5, "io_timeout": 0.5, **changes}
    return SftpSettings(**values)


def test_refused_connection_is_retryable(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nobody listens once the socket is closed
    with pytest.raises(TransmitError, match=f"cannot connect to SFTP server 127.0.0.1:{port}"):
        SftpClearinghouse("ch", local_settings(tmp_path, port)).check()


def test_server_that_never_speaks_times_out(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog) but never sends a banner
        started = time.monotonic()
        with pytest.raises(TransmitError, match="will retry"):
            SftpClearinghouse("ch", local_settings(tmp_path, silent.getsockname()[1])).check()
    assert time.monotonic() - started < 5


def test_names_must_be_plain_file_names(tmp_path):
    clearinghouse = SftpClearinghouse("ch", local_settings(tmp_path, 22))
    for name in ("", "..", "a/b", "x.837.part", ".hidden"):
        with pytest.raises(ValueError):
            clearinghouse.submit(OutboundFile(name, b"x"))


def test_known_hosts_names_and_fingerprints(sandbox):
    assert known_hosts_name("h", 22) == "h"
    assert known_hosts_name("h", 2222) == "[h]:2222"
    assert fingerprint(sandbox.host_key).startswith("SHA256:")
    assert not fingerprint(sandbox.host_key).endswith("=")
