"""Opening an SFTP session: pinned host keys, authentication, timeouts and keepalives.

Host keys come only from the configured known_hosts file. An unknown or changed key raises
:class:`~claimbridge.HostKeyError` naming the fingerprint offered; nothing is ever added automatically.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from dataclasses import dataclass, field

import paramiko

from claimbridge import AuthError, HostKeyError, TransmitError

from .settings import SftpSettings

log = logging.getLogger(__name__)


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style fingerprint: ``SHA256:`` and the unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    """The name a known_hosts entry uses: ``host`` for port 22, ``[host]:port`` otherwise."""
    return host if port == 22 else f"[{host}]:{port}"


class _RefuseUnknownHostKey(paramiko.MissingHostKeyPolicy):
    """Like paramiko's RejectPolicy, but with a message that says what to do."""

    def __init__(self, settings: SftpSettings):
        self.settings = settings

    def missing_host_key(self, client, hostname, key):
        s = self.settings
        raise HostKeyError(
            f"SFTP server {s.endpoint} offered host key {key.get_name()} {fingerprint(key)}, but "
            f"{s.known_hosts} has no entry for {hostname}; refused. Verify this fingerprint with the "
            f"clearinghouse (not over the same connection), then add the line "
            f"'{hostname} {key.get_name()} <key>' to {s.known_hosts}. Keys are never added automatically."
        )


def _changed_host_key(settings: SftpSettings, offered: paramiko.PKey, pinned: paramiko.PKey) -> HostKeyError:
    name = known_hosts_name(settings.host, settings.port)
    return HostKeyError(
        f"SFTP server {settings.endpoint} host key has CHANGED: it offered {offered.get_name()} "
        f"{fingerprint(offered)}, but {settings.known_hosts} pins {pinned.get_name()} {fingerprint(pinned)} "
        f"for {name}; refused, nothing was sent. This is either a server change or someone in between. "
        f"Verify the new fingerprint with the clearinghouse, then replace the entry for {name} in "
        f"{settings.known_hosts}."
    )


def _load_private_key(settings: SftpSettings) -> paramiko.PKey | None:
    if settings.private_key_path is None:
        return None
    path = settings.private_key_path
    # paramiko hands the passphrase to cryptography, which wants bytes
    secret = settings.private_key_passphrase
    passphrase = secret.reveal().encode() if secret else None
    try:
        return paramiko.PKey.from_path(path, passphrase)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko passes cryptography's TypeError through for an OpenSSH-format key without passphrase
        raise AuthError(f"private key {path} is encrypted; set private_key_passphrase") from None
    except FileNotFoundError:
        raise AuthError(f"private key file {path} does not exist; fix private_key_path") from None
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise AuthError(f"cannot read private key {path} ({exc}); check the file and "
                        f"private_key_passphrase") from None


@dataclass
class SftpSession:
    """One authenticated SSH connection and its SFTP channel."""

    client: paramiko.SSHClient
    sftp: paramiko.SFTPClient
    #: False once the server answered that it lacks the posix-rename@openssh.com extension
    posix_rename: bool = field(default=True)

    def is_active(self) -> bool:
        transport = self.client.get_transport()
        return bool(transport and transport.is_active() and not self.sftp.sock.closed)

    def answers(self) -> bool:
        """True when the connection is up and the server answers a trivial request."""
        if not self.is_active():
            return False
        try:
            self.sftp.normalize(".")
        except Exception:  # noqa: BLE001 - any failure means this session is unusable
            return False
        return True

    def close(self) -> None:
        try:
            self.sftp.close()
        finally:
            self.client.close()


def open_session(settings: SftpSettings) -> SftpSession:
    """Connect, check the host key against known_hosts, authenticate and open the SFTP channel.

    :raises HostKeyError: unknown or changed host key, or no readable known_hosts file.
    :raises AuthError: credentials refused or private key unreadable.
    :raises TransmitError: the server cannot be reached or the connection failed (retryable).
    """
    pkey = _load_private_key(settings)
    password = settings.password.reveal() if settings.password else None
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(settings.known_hosts))
    except OSError as exc:
        name = known_hosts_name(settings.host, settings.port)
        raise HostKeyError(f"cannot read known_hosts file {settings.known_hosts} ({exc.strerror or exc}); "
                           f"create it with the clearinghouse's verified host key for {name}") from None
    client.set_missing_host_key_policy(_RefuseUnknownHostKey(settings))
    timeout = settings.connect_timeout
    try:
        client.connect(
            settings.host, port=settings.port, username=settings.username, password=password, pkey=pkey,
            timeout=timeout, banner_timeout=timeout, auth_timeout=timeout, channel_timeout=timeout,
            allow_agent=False, look_for_keys=False,
        )
        transport = client.get_transport()
        if settings.keepalive_seconds:
            transport.set_keepalive(settings.keepalive_seconds)
        sftp = _open_sftp(transport, settings)
    except HostKeyError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise _changed_host_key(settings, exc.key, exc.expected_key) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        how = " and ".join(w for w, given in (("private key", pkey), ("password", password)) if given)
        raise AuthError(f"SFTP server {settings.endpoint} refused user {settings.username!r} with {how} "
                        f"({exc}); check username, credentials and that the public key is authorized "
                        f"for the account") from None
    except (OSError, EOFError, paramiko.SSHException) as exc:
        client.close()
        raise TransmitError(f"cannot connect to SFTP server {settings.endpoint}: {describe(exc)}; "
                            f"will retry") from exc
    log.debug("connected to %s as %s", settings.endpoint, settings.username)
    return SftpSession(client, sftp)


def _open_sftp(transport: paramiko.Transport, settings: SftpSettings) -> paramiko.SFTPClient:
    # paramiko waits for the subsystem reply without a timeout: a watchdog closes the transport instead
    watchdog = threading.Timer(settings.connect_timeout, transport.close)
    watchdog.daemon = True
    watchdog.start()
    try:
        channel = transport.open_session(timeout=settings.connect_timeout)
        channel.settimeout(settings.connect_timeout)
        channel.invoke_subsystem("sftp")
        sftp = paramiko.SFTPClient(channel)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        if not watchdog.is_alive():
            raise TimeoutError(f"no SFTP subsystem within {settings.connect_timeout:g} s") from exc
        raise
    finally:
        watchdog.cancel()
    channel.settimeout(settings.io_timeout)
    return sftp


def describe(exc: BaseException) -> str:
    """A short text for an exception whose ``str`` may be empty (EOFError, socket errors)."""
    if isinstance(exc, TimeoutError):
        return f"timed out ({exc})" if str(exc) else "timed out"
    text = str(exc)
    if isinstance(exc, EOFError) or not text:
        return f"connection closed by the server ({type(exc).__name__}{': ' + text if text else ''})"
    return f"{type(exc).__name__}: {text}"
