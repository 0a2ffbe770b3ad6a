"""The SFTP clearinghouse connector: upload claims exactly once, collect and archive responses."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import posixpath
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import paramiko

from claimbridge import (
    ClaimbridgeError,
    Clearinghouse,
    FatalError,
    OutboundFile,
    RemoteFile,
    SubmitResult,
    TransmitError,
)

from .connection import SftpSession, describe, open_session
from .settings import SftpSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: bytes per SFTP write request (paramiko splits anything larger at this size anyway)
CHUNK = 32768
#: writes in flight before waiting for the server's answers (1 MiB)
WINDOW = 32


class SftpClearinghouse(Clearinghouse):
    """A clearinghouse reached over SFTP.

    Connects lazily on first use and keeps the connection; before each operation a cached connection is
    probed with one request and replaced once if it died. Folders come from :attr:`SftpSettings.folders`.

    Idempotency of :meth:`submit`: a file already in the upload folder (or in one of ``picked_up_dirs``)
    under the same name *and size* is not uploaded again. When the server lets us read it back (many upload
    folders are write-only), its SHA-256 must match too; a file of the same name with other content is never
    overwritten (:class:`FatalError`).
    Uploads go to ``<name><temp_suffix>`` and are renamed into place after their size is checked, so the
    clearinghouse never sees half a file. A temporary file left by an interrupted upload is removed by the
    next submit of that file.
    """

    type_name = "sftp"
    settings_model = SftpSettings
    settings: SftpSettings

    def __init__(self, name: str, settings: SftpSettings):
        super().__init__(name, settings)
        self._session: SftpSession | None = None

    # -- the Clearinghouse contract ---------------------------------------------------------------

    def submit(self, file: OutboundFile) -> SubmitResult:
        name = self._checked_name(file.name)
        folder = self.settings.folders.upload
        final = posixpath.join(folder, name)
        temp = final + self.settings.temp_suffix

        def deliver(sftp: paramiko.SFTPClient) -> SubmitResult:
            for path in [final, *(posixpath.join(d, name) for d in self.settings.picked_up_dirs)]:
                existing = _stat_or_none(sftp, path)
                if existing is not None:
                    self._confirm_same_file(sftp, path, existing, file)
                    log.info("%s: %s is already on %s; not uploaded again", self.name, path,
                             self.settings.endpoint)
                    return SubmitResult(remote_path=path, already_present=True)
            if _stat_or_none(sftp, temp) is not None:
                log.info("%s: removing %s left by an interrupted upload", self.name, temp)
                sftp.remove(temp)
            self._upload(sftp, temp, file)
            self._rename_into_place(sftp, temp, final)
            log.info("%s: uploaded %s (%d bytes) to %s", self.name, final, len(file.content),
                     self.settings.endpoint)
            return SubmitResult(remote_path=final)

        return self._run(f"uploading {name} to {folder}", deliver)

    def list_inbound(self) -> list[RemoteFile]:
        """Regular files in the responses folder, oldest first; temporary and hidden names are skipped."""
        folder = self.settings.folders.responses

        def listing(sftp: paramiko.SFTPClient) -> list[RemoteFile]:
            files = [
                RemoteFile(name=entry.filename, size=entry.st_size or 0, modified=_modified(entry))
                for entry in sftp.listdir_attr(folder)
                if stat.S_ISREG(entry.st_mode or 0) and not self._is_transient(entry.filename)
            ]
            return sorted(files, key=lambda f: (f.modified or datetime.min.replace(tzinfo=UTC), f.name))

        return self._run(f"listing {folder}", listing)

    def fetch(self, name: str) -> bytes:
        path = posixpath.join(self.settings.folders.responses, self._checked_name(name))

        def download(sftp: paramiko.SFTPClient) -> bytes:
            try:
                return _read_all(sftp, path)
            except FileNotFoundError:
                # taken away between listing and download; the next listing won't show it
                raise TransmitError(f"{self.name} ({self.settings.endpoint}): {path} is no longer there"
                                    ) from None

        return self._run(f"downloading {path}", download)

    def archive(self, name: str) -> None:
        """Move a response into the archive folder (created when missing).

        Archiving a file that is already archived does nothing; an archived file of the same name is kept
        and the new one gets a time suffix."""
        name = self._checked_name(name)
        folders = self.settings.folders
        source = posixpath.join(folders.responses, name)

        def move(sftp: paramiko.SFTPClient) -> None:
            target = posixpath.join(folders.archive, name)
            if _stat_or_none(sftp, source) is None:
                if _stat_or_none(sftp, target) is None:
                    log.warning("%s: %s is gone from %s and not in %s; nothing to archive", self.name, name,
                                folders.responses, folders.archive)
                return
            _make_folders(sftp, folders.archive)
            if _stat_or_none(sftp, target) is not None:
                target += datetime.now(UTC).strftime(".%Y%m%dT%H%M%S%fZ")
            sftp.rename(source, target)

        self._run(f"archiving {source} to {folders.archive}", move)

    def check(self) -> None:
        folders = self.settings.folders

        def folders_exist(sftp: paramiko.SFTPClient) -> None:
            for key, folder in (("upload_dir", folders.upload), ("responses_dir", folders.responses)):
                attrs = _stat_or_none(sftp, folder)
                if attrs is None or not stat.S_ISDIR(attrs.st_mode or 0):
                    raise FatalError(f"{self.name}: folder {folder!r} does not exist on "
                                     f"{self.settings.endpoint}; fix {key} or the preset "
                                     f"({self.settings.preset})")

        self._run("checking folders", folders_exist)

    def close(self) -> None:
        self._drop_session()

    # -- connection handling ----------------------------------------------------------------------

    def _sftp(self) -> paramiko.SFTPClient:
        if self._session is not None and not self._session.answers():
            log.info("%s: connection to %s was lost; reconnecting", self.name, self.settings.endpoint)
            self._drop_session()
        if self._session is None:
            self._session = open_session(self.settings)
        return self._session.sftp

    def _drop_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closing a dead connection may fail in many ways
                log.debug("closing the SFTP session failed", exc_info=True)

    def _connection_failed(self, exc: BaseException) -> bool:
        """True when ``exc`` means the connection (not a single request) is unusable."""
        if isinstance(exc, TimeoutError | ConnectionError | EOFError | paramiko.SSHException
                      | paramiko.SFTPError):
            # EOFError: the channel ended (paramiko may not have marked the transport dead yet); after a
            # timeout the pairing of requests and answers on the channel can't be trusted any more
            return True
        return self._session is None or not self._session.is_active()

    def _run(self, action: str, operation: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run ``operation`` on a live session, turning transport and SFTP errors into claimbridge errors."""
        sftp = self._sftp()
        try:
            return operation(sftp)
        except ClaimbridgeError:
            raise
        except (OSError, EOFError, paramiko.SSHException, paramiko.SFTPError) as exc:
            raise self._error(action, exc) from exc

    def _error(self, action: str, exc: BaseException) -> ClaimbridgeError:
        where = f"{self.name} ({self.settings.endpoint})"
        if self._connection_failed(exc):
            self._drop_session()
            return TransmitError(f"{where}: {action} failed, the connection broke: {describe(exc)}; "
                                 f"will retry")
        code = getattr(exc, "errno", None)
        if code == errno.EACCES:
            return FatalError(f"{where}: {action}: permission denied ({exc.strerror}); check the account's "
                              f"rights and the folder settings")
        if code == errno.ENOENT:
            return FatalError(f"{where}: {action}: no such file or folder ({exc.strerror}); check the preset "
                              f"({self.settings.preset}) and upload_dir / responses_dir / archive_dir")
        return TransmitError(f"{where}: {action}: the server refused: {describe(exc)}; will retry")

    # -- submit helpers -----------------------------------------------------------------------------

    def _checked_name(self, name: str) -> str:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise ValueError(f"{name!r} is not a plain file name")
        if self._is_transient(name):
            raise ValueError(f"{name!r} looks like a temporary or hidden file name")
        return name

    def _is_transient(self, name: str) -> bool:
        return name.startswith(".") or name.endswith(self.settings.temp_suffix)

    def _confirm_same_file(self, sftp: paramiko.SFTPClient, path: str, attrs: paramiko.SFTPAttributes,
                           file: OutboundFile) -> None:
        where = f"{self.name} ({self.settings.endpoint})"
        if attrs.st_size != len(file.content):
            raise FatalError(f"{where}: {path} already exists with {attrs.st_size} bytes, but this file has "
                             f"{len(file.content)}: another file with the same name. Not overwritten; find "
                             f"out with the clearinghouse which one they received")
        try:
            remote = _read_all(sftp, path)
        except OSError as exc:
            if self._connection_failed(exc):
                raise
            # write-only upload folders (or a file already picked up): name and size have to do
            log.debug("cannot read back %s (%s); trusting name and size", path, exc)
            return
        if hashlib.sha256(remote).hexdigest() != file.sha256:
            raise FatalError(f"{where}: {path} already exists with the same size but other content "
                             f"(sha256 differs). Not overwritten; find out with the clearinghouse which one "
                             f"they received")

    def _upload(self, sftp: paramiko.SFTPClient, temp: str, file: OutboundFile) -> None:
        content = file.content
        remote = sftp.open(temp, "wb", bufsize=0)
        written = 0
        try:
            for index, start in enumerate(range(0, len(content), CHUNK)):
                # paramiko drops the answers to pipelined writes, errors included (a full disk would go
                # unnoticed): every WINDOW-th write, and the last, is sent unpipelined, which makes paramiko
                # read every answer still pending and raise the first error
                last = start + CHUNK >= len(content)
                remote.set_pipelined(not last and (index + 1) % WINDOW != 0)
                remote.write(content[start:start + CHUNK])
                written = min(start + CHUNK, len(content))
            remote.close()
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self._connection_failed(exc):
                raise
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                remote.close()  # release the server's handle before removing the file
            raise self._refused_write(sftp, temp, written, len(content), exc) from exc
        size = sftp.stat(temp).st_size
        if size != len(content):
            _remove_quietly(sftp, temp)
            raise TransmitError(f"{self.name} ({self.settings.endpoint}): {temp} has {size} bytes after "
                                f"upload instead of {len(content)}; removed, will retry")

    def _refused_write(self, sftp: paramiko.SFTPClient, temp: str, written: int, size: int,
                       exc: BaseException) -> TransmitError:
        removed = _remove_quietly(sftp, temp)
        return TransmitError(
            f"{self.name} ({self.settings.endpoint}): the server refused to write {temp} "
            f"(about {written} of {size} bytes sent): {describe(exc)}. The remote disk is probably full or "
            f"the account over its quota; ask the clearinghouse to free space. The temporary file was "
            f"{'removed' if removed else 'NOT removed; the next submit removes it'}; nothing was delivered"
        )

    def _rename_into_place(self, sftp: paramiko.SFTPClient, temp: str, final: str) -> None:
        session = self._session
        if session is not None and session.posix_rename:
            try:
                sftp.posix_rename(temp, final)
                return
            except OSError as exc:
                if self._connection_failed(exc):
                    raise
                # most likely "Operation unsupported": the server lacks posix-rename@openssh.com
                log.debug("posix-rename refused (%s); using plain rename from now on", exc)
                session.posix_rename = False
        sftp.rename(temp, final)


def _stat_or_none(sftp: paramiko.SFTPClient, path: str) -> paramiko.SFTPAttributes | None:
    try:
        return sftp.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise


def _read_all(sftp: paramiko.SFTPClient, path: str) -> bytes:
    size = sftp.stat(path).st_size
    with sftp.open(path, "rb") as remote:
        remote.prefetch(size)  # pipelined reads: one round trip per window, not per 32 KiB
        return remote.read()


def _remove_quietly(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.remove(path)
    except (OSError, EOFError, paramiko.SSHException):
        return _stat_or_none_quietly(sftp, path) is None
    return True


def _stat_or_none_quietly(sftp: paramiko.SFTPClient, path: str) -> object:
    try:
        return _stat_or_none(sftp, path)
    except (OSError, EOFError, paramiko.SSHException):
        return path


def _make_folders(sftp: paramiko.SFTPClient, folder: str) -> None:
    """``mkdir -p`` on the server."""
    missing = []
    current = posixpath.normpath(folder)
    while current not in ("", ".", "/") and _stat_or_none(sftp, current) is None:
        missing.append(current)
        current = posixpath.dirname(current)
    for path in reversed(missing):
        sftp.mkdir(path)


def _modified(attrs: paramiko.SFTPAttributes) -> datetime | None:
    return datetime.fromtimestamp(attrs.st_mtime, UTC) if attrs.st_mtime is not None else None
