"""The sandbox clearinghouse's file side: an SFTP server interface over one root folder.

Every path is resolved inside the root: ``..`` that would climb above it, symbolic links that lead out of it,
and the sandbox's own ``.sandbox`` folder (host key) are refused with "permission denied". Optional fault
injection emulates a full disk (``max_bytes``) and a dropped connection (``drop_after_bytes``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from paramiko.sftp import SFTP_FAILURE, SFTP_OK, SFTP_OP_UNSUPPORTED, SFTP_PERMISSION_DENIED

#: the sandbox's private folder inside its root; never visible over SFTP
PRIVATE_FOLDER = ".sandbox"


class _OutsideRoot(Exception):
    """A path that would leave the sandbox root."""


@dataclass
class SandboxFiles:
    """What every SFTP session of one sandbox shares: the root and the fault-injection settings."""

    root: Path
    #: total bytes the files under the root may hold; a write beyond it fails like a full disk
    max_bytes: int | None = None
    #: after this many bytes have been written (all sessions together) the connection is dropped, once
    drop_after_bytes: int | None = None
    #: False emulates a server without the posix-rename@openssh.com extension
    posix_rename: bool = True
    _written: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def used_bytes(self) -> int:
        total = 0
        for folder, dirs, files in os.walk(self.root):
            if folder == str(self.root) and PRIVATE_FOLDER in dirs:
                dirs.remove(PRIVATE_FOLDER)
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += os.lstat(os.path.join(folder, name)).st_size
        return total

    def count_written(self, size: int) -> bool:
        """Record ``size`` bytes written; True when the connection must now be dropped."""
        with self._lock:
            self._written += size
            if self.drop_after_bytes is not None and self._written >= self.drop_after_bytes:
                self.drop_after_bytes = None
                return True
            return False


class _SandboxHandle(paramiko.SFTPHandle):
    def __init__(self, flags: int, files: SandboxFiles, transport: paramiko.Transport | None):
        super().__init__(flags)
        self._files = files
        self._transport = transport

    def stat(self):
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def write(self, offset, data):
        files = self._files
        if files.max_bytes is not None:
            current = os.fstat(self.writefile.fileno()).st_size
            growth = max(0, offset + len(data) - current)
            if growth and files.used_bytes() + growth > files.max_bytes:
                return SFTP_FAILURE  # what OpenSSH answers for ENOSPC
        result = super().write(offset, data)
        if files.count_written(len(data)) and self._transport is not None:
            # like a network failure: no goodbye, the socket just goes away
            with contextlib.suppress(OSError):
                self._transport.sock.shutdown(socket.SHUT_RDWR)
        return result


class ChrootedSFTP(paramiko.SFTPServerInterface):
    """paramiko SFTP server interface confined to ``server.files.root``.

    ``server`` is the sandbox's :class:`paramiko.ServerInterface`; it carries ``files`` (a
    :class:`SandboxFiles`) and ``transport``.
    """

    def __init__(self, server, *args, **kwargs):
        super().__init__(server, *args, **kwargs)
        self.files: SandboxFiles = server.files
        self.transport: paramiko.Transport | None = getattr(server, "transport", None)
        self.root = os.path.realpath(self.files.root)

    # -- path mapping -----------------------------------------------------------------------------

    def _parts(self, path: str) -> list[str]:
        parts: list[str] = []
        for part in path.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    raise _OutsideRoot(path)
                parts.pop()
            else:
                parts.append(part)
        if parts and parts[0] == PRIVATE_FOLDER:
            raise _OutsideRoot(path)
        return parts

    def _real(self, path: str) -> str:
        real = os.path.join(self.root, *self._parts(path))
        # symbolic links (anywhere along the path) must not lead out of the root or into the private folder
        resolved = os.path.realpath(real)
        private = os.path.join(self.root, PRIVATE_FOLDER)
        if not _inside(resolved, self.root) or _inside(resolved, private):
            raise _OutsideRoot(path)
        return real

    def _guarded(self, action, *paths):
        try:
            return action(*(self._real(p) for p in paths))
        except _OutsideRoot:
            return SFTP_PERMISSION_DENIED
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    # -- SFTPServerInterface ----------------------------------------------------------------------

    def canonicalize(self, path):
        try:
            return "/" + "/".join(self._parts(path))
        except _OutsideRoot:
            return "/"

    def list_folder(self, path):
        def listing(real):
            entries = []
            for name in sorted(os.listdir(real)):
                if real == self.root and name == PRIVATE_FOLDER:
                    continue
                attrs = paramiko.SFTPAttributes.from_stat(os.lstat(os.path.join(real, name)))
                attrs.filename = name
                entries.append(attrs)
            return entries

        return self._guarded(listing, path)

    def stat(self, path):
        return self._guarded(lambda real: paramiko.SFTPAttributes.from_stat(os.stat(real)), path)

    def lstat(self, path):
        return self._guarded(lambda real: paramiko.SFTPAttributes.from_stat(os.lstat(real)), path)

    def open(self, path, flags, attr):
        def opening(real):
            mode = getattr(attr, "st_mode", None) or 0o644
            fd = os.open(real, flags | getattr(os, "O_BINARY", 0), mode & 0o7777)
            if flags & os.O_WRONLY:
                file_mode = "ab" if flags & os.O_APPEND else "wb"
            elif flags & os.O_RDWR:
                file_mode = "a+b" if flags & os.O_APPEND else "r+b"
            else:
                file_mode = "rb"
            handle = _SandboxHandle(flags, self.files, self.transport)
            handle.filename = real
            handle.readfile = handle.writefile = os.fdopen(fd, file_mode)
            return handle

        return self._guarded(opening, path)

    def remove(self, path):
        return self._guarded(lambda real: os.remove(real) or SFTP_OK, path)

    def rename(self, oldpath, newpath):
        def renaming(old, new):
            if os.path.lexists(new):
                return SFTP_FAILURE  # SFTP rename never replaces (OpenSSH behaves the same)
            os.rename(old, new)
            return SFTP_OK

        return self._guarded(renaming, oldpath, newpath)

    def posix_rename(self, oldpath, newpath):
        if not self.files.posix_rename:
            return SFTP_OP_UNSUPPORTED
        return self._guarded(lambda old, new: os.rename(old, new) or SFTP_OK, oldpath, newpath)

    def mkdir(self, path, attr):
        def making(real):
            os.mkdir(real, (getattr(attr, "st_mode", None) or 0o755) & 0o7777)
            return SFTP_OK

        return self._guarded(making, path)

    def rmdir(self, path):
        return self._guarded(lambda real: os.rmdir(real) or SFTP_OK, path)

    def chattr(self, path, attr):
        attr._flags &= ~attr.FLAG_UIDGID  # times and permissions only; never hand files to another user
        return self._guarded(lambda real: paramiko.SFTPServer.set_file_attr(real, attr) or SFTP_OK, path)

    def readlink(self, path):
        return SFTP_OP_UNSUPPORTED

    def symlink(self, target_path, path):
        return SFTP_OP_UNSUPPORTED


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)
