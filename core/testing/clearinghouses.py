"""Conformance of clearinghouse connectors: atomic uploads, never twice, inbound files, unknown hosts refused.

The check drives the connector through its public methods and watches the remote end through a *far side*: an
object that can see the folder uploads land in and put files where responses wait. :class:`FolderFarSide` is the
far side of any transport whose remote folders are local folders in a test (the sandbox SFTP clearinghouse, an
sshd on loopback, a file drop); a connector for another transport (an HTTPS API) writes a small far side over its
test server with the same methods (:class:`FarSide`).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Protocol

from claimbridge.testing.problems import ConformanceError
from claimbridge.testing.settings import check_settings_model

#: the atomic-upload check sends a file this big, large enough that a transfer takes many writes
ATOMIC_SIZE = 4 * 1024 * 1024


class FarSide(Protocol):
    """The remote end of a clearinghouse, as the conformance check sees it."""

    def uploads(self) -> dict[str, Hashable]:
        """Every file now in the folder uploads go to (temporary names too): name → a token that changes
        whenever the file is written or replaced (size, inode and mtime for a folder)."""

    def read_upload(self, name: str) -> bytes:
        """The bytes of an uploaded file."""

    def put_inbound(self, name: str, content: bytes) -> None:
        """Place a response file where the connector collects them (whole, as the clearinghouse would)."""

    def inbound(self) -> set[str]:
        """Names of the files still waiting in the responses folder."""


class FolderFarSide:
    """The far side of a clearinghouse whose folders are local in the test.

    :param outbound: the folder the connector uploads into (the clearinghouse's inbox).
    :param inbound: the folder the clearinghouse leaves responses in.
    :param picked_up: a folder the clearinghouse moves accepted uploads into (None: it leaves them). When
        given, the check also makes sure a file already picked up is not uploaded again.
    """

    def __init__(self, outbound: Path | str, inbound: Path | str, picked_up: Path | str | None = None):
        self.outbound = Path(outbound)
        self.inbound_folder = Path(inbound)
        self.picked_up = Path(picked_up) if picked_up is not None else None
        for folder in (self.outbound, self.inbound_folder, self.picked_up):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)

    def uploads(self) -> dict[str, Hashable]:
        found: dict[str, Hashable] = {}
        for entry in os.scandir(self.outbound):
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # renamed between listing and stat
                continue
            if entry.is_file(follow_symlinks=False):
                found[entry.name] = (info.st_size, info.st_ino, info.st_mtime_ns)
        return found

    def size_of(self, name: str) -> int | None:
        try:
            return (self.outbound / name).stat().st_size
        except FileNotFoundError:
            return None

    def read_upload(self, name: str) -> bytes:
        return (self.outbound / name).read_bytes()

    def pick_up(self, name: str) -> None:
        """Do what a clearinghouse does once it has taken a file: move it out of the upload folder."""
        if self.picked_up is None:
            raise RuntimeError("this far side has no picked_up folder")
        shutil.move(str(self.outbound / name), str(self.picked_up / name))

    def put_inbound(self, name: str, content: bytes) -> None:
        temp = self.inbound_folder / f".{name}.writing"
        temp.write_bytes(content)
        temp.rename(self.inbound_folder / name)

    def inbound(self) -> set[str]:
        return {entry.name for entry in os.scandir(self.inbound_folder)
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith(".")}


def _x12_like(control: int, size: int = 0) -> bytes:
    """Bytes that look like an X12 interchange (the content is not parsed by a connector)."""
    head = (f"ISA*00*          *00*          *ZZ*CLAIMBRIDGE    *ZZ*CLEARINGHOUSE  *261127*1200*^*00501*"
            f"{control:09d}*0*T*:~").encode()
    body = b"GS*HC*CLAIMBRIDGE*CLEARINGHOUSE*20261127*1200*1*X*005010X222A1~"
    filler = b""
    if size > len(head) + len(body):
        unit = b"NTE*ADD*CONFORMANCE CHECK FILLER TEXT 0123456789~"
        filler = (unit * (size // len(unit) + 1))[: size - len(head) - len(body) - 20]
    return head + body + filler + f"IEA*1*{control:09d}~".encode()


def _run_quietly(problems: list[str], label: str, action: Callable[[], Any]) -> tuple[bool, Any]:
    try:
        return True, action()
    except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
        problems.append(f"{label} raised {type(exc).__name__}: {exc}")
        return False, None


def check_clearinghouse(clearinghouse_factory: Callable[[], Any], far_side: Any, *,
                        untrusted_factory: Callable[[], Any] | None = None,
                        name_prefix: str = "CBCONFORM") -> None:
    """Check a clearinghouse connector against the :class:`~claimbridge.connectors.Clearinghouse` contract.

    ``clearinghouse_factory()`` returns a fresh, configured connector (called several times: a second instance
    stands for the next scheduler run); ``far_side`` watches its remote end (:class:`FolderFarSide` or your own
    :class:`FarSide`). The check

    * uploads a 4 MB file while watching the upload folder: the file's final name never shows a partial file,
      the bytes arrive exactly, no temporary file is left, and ``submit`` says where it went;
    * submits the same file again, from the same and from a new instance: nothing is written
      (``already_present=True``); and, when the far side has a ``pick_up`` folder, after the clearinghouse has
      taken the file away;
    * places two response files: ``list_inbound`` lists them with their sizes, ``fetch`` returns their exact
      bytes, ``archive`` takes each out of the responses folder, and archiving again does not fail;
    * fetching a file that is not there raises a claimbridge error (so the core can report it), not a bare one;
    * with ``untrusted_factory`` (a connector pointed at a host whose identity is not pinned: another SSH host
      key, a TLS certificate from an unknown authority): ``check()`` and ``submit()`` raise a ``FatalError``
      (a person must act; retrying cannot help) and nothing is uploaded.

    Its settings model is checked with :func:`check_settings_model`. Files are named ``{name_prefix}…``.
    """
    from claimbridge.connectors import Clearinghouse, OutboundFile, RemoteFile, SubmitResult
    from claimbridge.errors import ClaimbridgeError, FatalError

    first = clearinghouse_factory()
    subject = f"clearinghouse {type(first).__name__}"
    if not isinstance(first, Clearinghouse):
        raise ConformanceError(subject, ["clearinghouse_factory() did not return a Clearinghouse; subclass "
                                         "claimbridge.Clearinghouse and return an instance"])
    problems: list[str] = []
    try:
        check_settings_model(type(first).settings_model)
    except ConformanceError as exc:
        problems.extend(str(exc).splitlines())
    stamp = time.strftime("%Y%m%d%H%M%S")
    big = OutboundFile(name=f"{name_prefix}{stamp}A.837", content=_x12_like(1, ATOMIC_SIZE))
    small = OutboundFile(name=f"{name_prefix}{stamp}B.837", content=_x12_like(2))
    before = set(far_side.uploads())
    if before & {big.name, small.name}:
        raise ValueError(f"the far side already holds {big.name} or {small.name}; give the check an empty folder")

    # -- atomic upload ----------------------------------------------------------------------------------
    seen_partial: list[str] = []
    stop = threading.Event()
    size_of = getattr(far_side, "size_of", None)

    def watch() -> None:
        while not stop.is_set():
            if size_of is not None:
                size = size_of(big.name)
                if size is not None and size != len(big.content):
                    seen_partial.append(f"{size} of {len(big.content)} bytes")
            else:
                if big.name in far_side.uploads():
                    content = far_side.read_upload(big.name)
                    if content != big.content:
                        seen_partial.append(f"{len(content)} of {len(big.content)} bytes")
            time.sleep(0.005)  # often enough to catch a 4 MB transfer mid-way, rarely enough to leave the GIL free

    watcher = threading.Thread(target=watch, name="conformance-watch", daemon=True)
    with first:
        watcher.start()
        try:
            ok, result = _run_quietly(problems, f"submit({big.name!r})", lambda: first.submit(big))
        finally:
            stop.set()
            watcher.join(timeout=10)
        if seen_partial:
            problems.append(f"the far side saw {big.name} under its final name with {seen_partial[0]}; upload to "
                            "a temporary name and rename it when complete, so the clearinghouse never picks "
                            "up half a file")
        if ok:
            if not isinstance(result, SubmitResult):
                problems.append(f"submit returned {result!r}, not a SubmitResult; return "
                                "SubmitResult(remote_path=…)")
            elif result.already_present:
                problems.append("submit of a new file said already_present=True; say that only when the file "
                                "was found remotely and not uploaded")
            elif not result.remote_path:
                problems.append("submit returned no remote_path; say where the file went")
            uploads = far_side.uploads()
            if big.name not in uploads:
                problems.append(f"after submit, {big.name} is not in the upload folder")
            elif far_side.read_upload(big.name) != big.content:
                problems.append(f"{big.name} arrived with other bytes than were submitted; upload the exact "
                                "OutboundFile.content (binary, no newline translation)")
            left = sorted(set(uploads) - before - {big.name})
            if left:
                problems.append(f"submit left {left} in the upload folder; remove or rename the temporary file")

        # -- never twice ---------------------------------------------------------------------------------
        if ok and big.name in far_side.uploads():
            token = far_side.uploads()[big.name]
            for who, connector in (("the same instance", first), ("a new instance", None)):
                def again(connector=connector):
                    if connector is not None:
                        return connector.submit(big)
                    with clearinghouse_factory() as fresh:
                        return fresh.submit(big)

                done, repeat = _run_quietly(problems, f"submitting {big.name} again from {who}", again)
                if not done:
                    continue
                if far_side.uploads().get(big.name) != token:
                    problems.append(f"submitting {big.name} again from {who} wrote it again; look for a file "
                                    "of that name (and size) first and return SubmitResult(already_present=True)")
                elif not getattr(repeat, "already_present", False):
                    problems.append(f"submitting {big.name} again from {who} did not say already_present=True")
        pick_up = getattr(far_side, "pick_up", None)
        if pick_up is not None and getattr(far_side, "picked_up", None) is not None:
            done, _ = _run_quietly(problems, f"submit({small.name!r})", lambda: first.submit(small))
            if done and small.name in far_side.uploads():
                pick_up(small.name)
                done, repeat = _run_quietly(problems, f"submitting {small.name} after it was picked up",
                                            lambda: first.submit(small))
                if done and small.name in far_side.uploads():
                    problems.append(f"{small.name} was uploaded again after the clearinghouse had picked it up; "
                                    "look in the picked-up folders too before uploading")
                elif done and not getattr(repeat, "already_present", False):
                    problems.append(f"submitting {small.name} after it was picked up did not say "
                                    "already_present=True")

        # -- inbound ------------------------------------------------------------------------------------
        responses = {f"{name_prefix}{stamp}.999": _x12_like(3), f"{name_prefix}{stamp}.835": _x12_like(4, 20_000)}
        for name, content in responses.items():
            far_side.put_inbound(name, content)
        ok, listed = _run_quietly(problems, "list_inbound()", first.list_inbound)
        if ok:
            if not isinstance(listed, list) or not all(isinstance(f, RemoteFile) for f in listed):
                problems.append(f"list_inbound returned {type(listed).__name__}, not a list of RemoteFile")
            else:
                by_name = {f.name: f for f in listed}
                for name, content in responses.items():
                    if name not in by_name:
                        problems.append(f"list_inbound did not list {name}, a file waiting in the responses "
                                        "folder")
                    elif by_name[name].size != len(content):
                        problems.append(f"list_inbound gave {name} size {by_name[name].size}, not "
                                        f"{len(content)}")
        for name, content in responses.items():
            ok, fetched = _run_quietly(problems, f"fetch({name!r})", lambda name=name: first.fetch(name))
            if ok and fetched != content:
                problems.append(f"fetch({name!r}) returned other bytes than the file holds; return them "
                                "exactly (bytes, no decoding)")
            ok, _ = _run_quietly(problems, f"archive({name!r})", lambda name=name: first.archive(name))
            if ok and name in far_side.inbound():
                problems.append(f"archive({name!r}) left the file in the responses folder; move it out so "
                                "the next fetch does not see it again")
            _run_quietly(problems, f"archive({name!r}) a second time (a crash between archive and the "
                         "record of it)", lambda name=name: first.archive(name))
        ok, listed = _run_quietly(problems, "list_inbound() after archiving", first.list_inbound)
        if ok and listed is not None:
            still = sorted({f.name for f in listed} & set(responses))
            if still:
                problems.append(f"list_inbound still lists {still} after archive")
        missing = f"{name_prefix}{stamp}-missing.999"
        try:
            first.fetch(missing)
        except ClaimbridgeError:
            pass
        except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
            problems.append(f"fetch of a file that is not there raised {type(exc).__name__}: {exc}; raise a "
                            "claimbridge error (TransmitError if it may come back, FatalError if not)")
        else:
            problems.append(f"fetch({missing!r}) of a file that is not there returned instead of raising")

    # -- unknown host ------------------------------------------------------------------------------------
    if untrusted_factory is not None:
        before = dict(far_side.uploads())
        stranger_file = OutboundFile(name=f"{name_prefix}{stamp}C.837", content=_x12_like(5))
        stranger = untrusted_factory()
        with stranger:
            for action, call in (("check()", stranger.check), ("submit()", lambda: stranger.submit(stranger_file))):
                try:
                    call()
                except FatalError:
                    pass
                except ClaimbridgeError as exc:
                    problems.append(f"{action} against an unknown host raised {type(exc).__name__} ({exc}); raise "
                                    "FatalError (e.g. HostKeyError): retrying cannot make a stranger trusted")
                except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                    problems.append(f"{action} against an unknown host raised {type(exc).__name__}: {exc}; raise "
                                    "FatalError (e.g. HostKeyError)")
                else:
                    problems.append(f"{action} against an unknown host succeeded; refuse hosts whose identity "
                                    "is not pinned, never trust them on first use")
        if stranger_file.name in far_side.uploads() or set(far_side.uploads()) - set(before):
            problems.append("a connector pointed at an unknown host uploaded a file anyway")
    if problems:
        raise ConformanceError(subject, problems)
