"""The sandbox clearinghouse: an SFTP server on loopback that behaves like a clearinghouse account.

It serves one root folder (chrooted: nothing outside it is reachable) with the generic preset's folders
(``inbound`` for uploads, ``outbound`` for responses, ``archive``), authenticates one user by password and/or
public key, and keeps a persistent Ed25519 host key in ``<root>/.sandbox/host_key`` so a pinned known_hosts
entry stays valid across restarts.

Unless started with ``answer=False`` it answers every 837 renamed into ``inbound`` (the client's final
rename) like a clearinghouse: ``<name>.ta1`` (when ISA14 asks), ``<name>.999`` and, for accepted claims,
``<name>.277`` appear in ``outbound``, and ``<name>.<payer id>.835`` when an adjudication model is given
(see :mod:`.responder`). A 270 eligibility inquiry (GS01 HS) is answered with ``<name>.999`` and
``<name>.271`` instead (see :mod:`.responder_271`), from member data that maps member ids to scenarios
(:mod:`.member_scenarios`: pass ``members=`` or put a ``members.yaml`` in ``<root>/.sandbox/``; without
either, a member id ending in ``INACTIVE``, ``CARVEOUT``, ``NOVISITS``, ``AUTH``, ``HIGHDED`` or
``NOTFOUND`` gets that scenario and any other is active). Each is written under a hidden temporary
name and renamed, so a client listing ``outbound`` never sees half a file. Its own ISA13 counter lives in
``<root>/.sandbox/isa13``.

In tests::

    with SandboxClearinghouse(tmp_path, password="pw") as sandbox:
        sandbox.write_known_hosts(tmp_path / "known_hosts")
        ...  # connect to 127.0.0.1:sandbox.port

From the command line, :func:`serve` blocks until Ctrl-C.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.sftp import SFTP_OK

from .connection import fingerprint, known_hosts_name
from .member_scenarios import EligibilityModel
from .responder import AdjudicationModel, ControlNumberCounter, answer_837, write_answers
from .responder_271 import answer_270, is_eligibility_inquiry
from .sandbox_sftp import PRIVATE_FOLDER, ChrootedSFTP, SandboxFiles
from .settings import PRESETS

log = logging.getLogger(__name__)

#: logger of the sandbox's SSH transports; set to CRITICAL on start unless configured otherwise, because
#: paramiko's server side logs every client that hangs up as an error
SSH_LOG_CHANNEL = "claimbridge.sandbox.ssh"


class SandboxClearinghouse:
    """An SFTP clearinghouse on ``host:port`` serving ``root``.

    :param root: the folder clients see as ``/``; created when missing.
    :param port: 0 picks a free port (read :attr:`port` after :meth:`start`).
    :param password: accept this password for ``username`` (None: no password logins).
    :param authorized_key_paths: files of OpenSSH public keys (``.pub`` or authorized_keys lines) accepted
        for ``username``. At least one of password and keys is required.
    :param max_bytes: emulate a full disk: writes that would make the files under root exceed this fail.
    :param drop_after_bytes: emulate a network failure: drop the connection once this many bytes were
        written (counting every session), then behave normally.
    :param posix_rename: False emulates a server without the posix-rename@openssh.com extension.
    :param answer: answer each 837 renamed into the upload folder with TA1/999/277CA files in the responses
        folder (False: a silent mailbox).
    :param adjudication: also send an 835 per payer for the accepted claims, paid by this model
        (None: no remittances).
    :param members: the member data 270s are answered from: an :class:`~.member_scenarios.EligibilityModel`
        or the path of its YAML file (None: ``<root>/.sandbox/members.yaml`` when it exists, else the
        built-in suffix rules).
    """

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0,
                 username: str = "claimbridge", password: str | None = None,
                 authorized_key_paths: Iterable[Path | str] = (), *, max_bytes: int | None = None,
                 drop_after_bytes: int | None = None, posix_rename: bool = True, answer: bool = True,
                 adjudication: AdjudicationModel | None = None,
                 members: EligibilityModel | Path | str | None = None):
        self.root = Path(root).absolute()
        self.answer = answer
        self.adjudication = adjudication
        self.members = _member_data(self.root, members)
        self.host = host
        self.username = username
        self.password = password
        self.authorized_keys = _read_authorized_keys(authorized_key_paths)
        if not password and not self.authorized_keys:
            raise ValueError("the sandbox needs a password or at least one authorized public key")
        self.files = SandboxFiles(self.root, max_bytes=max_bytes, drop_after_bytes=drop_after_bytes,
                                  posix_rename=posix_rename)
        self._requested_port = port
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._stopping = threading.Event()
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()
        self.host_key = self._load_or_create_host_key()
        self._control_numbers = ControlNumberCounter(self.root / PRIVATE_FOLDER / "isa13")

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> SandboxClearinghouse:
        """Create the folders, bind, and accept connections on a background thread."""
        if self._listener is not None:
            return self
        channel_log = logging.getLogger(SSH_LOG_CHANNEL)
        if channel_log.level == logging.NOTSET:
            channel_log.setLevel(logging.CRITICAL)
        layout = PRESETS["generic"]
        for folder in (layout.upload, layout.responses, layout.archive):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        listener = socket.create_server((self.host, self._requested_port))
        listener.settimeout(0.2)
        self._listener = listener
        self._stopping.clear()
        self._accepting = threading.Thread(target=self._accept_loop, name=f"sandbox-sftp-{self.port}",
                                           daemon=True)
        self._accepting.start()
        log.info("sandbox clearinghouse listening on %s:%d, root %s", self.host, self.port, self.root)
        return self

    def stop(self) -> None:
        """Stop accepting and close every open connection."""
        self._stopping.set()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
            self._accepting = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            transports, self._transports = list(self._transports), set()
        for transport in transports:
            transport.close()

    def serve_forever(self) -> None:
        """Start (if needed) and block until :meth:`stop` is called from elsewhere or Ctrl-C."""
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> SandboxClearinghouse:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what clients need to know -----------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._listener is not None:
            return self._listener.getsockname()[1]
        return self._requested_port

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self.host_key)

    def known_hosts_line(self) -> str:
        """The known_hosts entry pinning this sandbox's host key (``[host]:port`` unless port 22)."""
        key = self.host_key
        return f"{known_hosts_name(self.host, self.port)} {key.get_name()} {key.get_base64()}"

    def write_known_hosts(self, path: Path | str) -> Path:
        """Pin the host key in ``path``: other hosts' entries are kept, this host's entry is replaced."""
        path = Path(path)
        name = known_hosts_name(self.host, self.port)
        kept = []
        if path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and name not in line.split(maxsplit=1)[0].split(",")]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([*kept, self.known_hosts_line()]) + "\n")
        return path

    def answer_upload(self, path: Path | str) -> list[Path]:
        """Answer the 837 (or 270) at ``path`` (a file in the upload folder): write its TA1/999/277CA (or
        999/271) into the responses folder and return their paths. Called for every rename into the upload
        folder."""
        path = Path(path)
        layout = PRESETS["generic"]
        data = path.read_bytes()
        if is_eligibility_inquiry(data):
            answers = answer_270(data, control_numbers=self._control_numbers, name=path.name,
                                 members=self.members)
        else:
            answers = answer_837(data, control_numbers=self._control_numbers, name=path.name,
                                 adjudication=self.adjudication)
        written = write_answers(self.root / layout.responses, path.name, answers)
        if written:
            log.info("sandbox answered %s with %s", path.name, ", ".join(p.name for p in written))
        return written

    # -- internals ---------------------------------------------------------------------------------

    def _received(self, real_path: str) -> None:
        """An SFTP rename put ``real_path`` in place; answer it when it landed in the upload folder."""
        if not self.answer:
            return
        path = Path(real_path)
        if path.parent != self.root / PRESETS["generic"].upload or not path.is_file():
            return
        try:
            self.answer_upload(path)
        except Exception:  # the upload itself succeeded; a sandbox bug must not fail the client's rename
            log.exception("sandbox could not answer %s", path.name)

    def _load_or_create_host_key(self) -> paramiko.PKey:
        key_path = self.root / PRIVATE_FOLDER / "host_key"
        if not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        return paramiko.Ed25519Key.from_private_key_file(str(key_path))

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            sock.settimeout(None)
            threading.Thread(target=self._serve_connection, args=(sock,), daemon=True).start()

    def _serve_connection(self, sock: socket.socket) -> None:
        transport = paramiko.Transport(sock)
        transport.set_log_channel(SSH_LOG_CHANNEL)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _AnsweringSFTP)
        with self._lock:
            if self._stopping.is_set():
                transport.close()
                return
            self._transports.add(transport)
        try:
            transport.start_server(server=_SandboxAccount(self, transport))
        except (paramiko.SSHException, OSError, EOFError):
            transport.close()
        # the transport runs on its own thread from here; forget it once it ends
        transport.join()
        with self._lock:
            self._transports.discard(transport)


class _SandboxAccount(paramiko.ServerInterface):
    """One connection's view of the sandbox's single account."""

    def __init__(self, sandbox: SandboxClearinghouse, transport: paramiko.Transport):
        self.sandbox = sandbox
        self.files = sandbox.files  # read by ChrootedSFTP
        self.transport = transport

    def get_allowed_auths(self, username):
        methods = []
        if self.sandbox.authorized_keys:
            methods.append("publickey")
        if self.sandbox.password:
            methods.append("password")
        return ",".join(methods)

    def _is_user(self, username: str) -> bool:
        return hmac.compare_digest(username.encode(), self.sandbox.username.encode())

    def check_auth_password(self, username, password):
        expected = self.sandbox.password
        if expected and self._is_user(username) and hmac.compare_digest(password.encode(), expected.encode()):
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        if self._is_user(username) and key.get_base64() in self.sandbox.authorized_keys:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class _AnsweringSFTP(ChrootedSFTP):
    """The chrooted file system, telling the sandbox about every file renamed into place."""

    def __init__(self, server: _SandboxAccount, *args, **kwargs):
        super().__init__(server, *args, **kwargs)
        self._sandbox = server.sandbox

    def rename(self, oldpath, newpath):
        return self._then_answer(super().rename(oldpath, newpath), newpath)

    def posix_rename(self, oldpath, newpath):
        return self._then_answer(super().posix_rename(oldpath, newpath), newpath)

    def _then_answer(self, result, newpath):
        if result == SFTP_OK:
            self._sandbox._received(self._real(newpath))
        return result


def _member_data(root: Path, members: EligibilityModel | Path | str | None) -> EligibilityModel:
    """The sandbox's member data: given, read from the given YAML file, from ``<root>/.sandbox/members.yaml``,
    or the defaults."""
    if isinstance(members, EligibilityModel):
        return members
    if members is not None:
        return EligibilityModel.load(members)
    configured = root / PRIVATE_FOLDER / "members.yaml"
    return EligibilityModel.load(configured) if configured.is_file() else EligibilityModel()


def _members_source(root: Path, members: EligibilityModel | Path | str | None) -> str:
    if isinstance(members, EligibilityModel):
        return "the member data given"
    if members is not None:
        return str(members)
    configured = root / PRIVATE_FOLDER / "members.yaml"
    if configured.is_file():
        return str(configured)
    return ("the built-in member rules (ids ending in INACTIVE, CARVEOUT, NOVISITS, AUTH, HIGHDED, NOTFOUND; "
            f"others active; configure in {configured})")


def _read_authorized_keys(paths: Iterable[Path | str]) -> frozenset[str]:
    """Base64 key blobs from OpenSSH public key files (``type base64 [comment]`` per line)."""
    blobs = set()
    for path in paths:
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            for i, token in enumerate(fields[:-1]):
                if token.startswith(("ssh-", "ecdsa-sha2-", "sk-")):
                    try:
                        base64.b64decode(fields[i + 1], validate=True)
                    except binascii.Error:
                        continue
                    blobs.add(fields[i + 1])
                    break
    return frozenset(blobs)


def serve(root: Path | str, host: str = "127.0.0.1", port: int = 2222, username: str = "claimbridge",
          password: str | None = None, authorized_key_paths: Iterable[Path | str] = (), *,
          max_bytes: int | None = None, echo: Callable[[str], None] = print, answer: bool = True,
          members: EligibilityModel | Path | str | None = None) -> None:
    """Run the sandbox clearinghouse in the foreground until Ctrl-C (``claimbridge sandbox serve``).

    Prints the address, the folders, the host key fingerprint and the known_hosts file it wrote
    (``<root>/.sandbox/known_hosts``), which settings can point ``known_hosts`` at, and where the member data
    for 270s comes from (``members``, else ``<root>/.sandbox/members.yaml``, else the built-in rules).
    """
    sandbox = SandboxClearinghouse(root, host, port, username, password, authorized_key_paths,
                                   max_bytes=max_bytes, answer=answer, members=members)
    sandbox.start()
    try:
        known_hosts = sandbox.write_known_hosts(sandbox.root / PRIVATE_FOLDER / "known_hosts")
        layout = PRESETS["generic"]
        methods = (("password", password), ("public key", sandbox.authorized_keys))
        auth = " and ".join(method for method, enabled in methods if enabled)
        echo(f"sandbox clearinghouse listening on {sandbox.host}:{sandbox.port} (user {username!r}, {auth})")
        echo(f"root {sandbox.root}: upload to {layout.upload}/, responses in {layout.responses}/, "
             f"archive in {layout.archive}/")
        echo(f"host key {sandbox.host_key.get_name()} {sandbox.host_key_fingerprint}, pinned in {known_hosts}")
        echo(f"270s answered from {_members_source(sandbox.root, members)}")
        echo("press Ctrl-C to stop")
        sandbox.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C before serve_forever took over
    finally:
        sandbox.stop()
    echo("sandbox clearinghouse stopped")
