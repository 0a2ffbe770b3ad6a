"""The connector conformance suites of ``claimbridge.testing`` run over the built-in connectors — the SFTP
clearinghouse on the sandbox and on OpenSSH, the FHIR sources on a real FHIR server and an export folder — and
over deliberately broken clearinghouses, to pin what each problem says."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import Field

from claimbridge import ConnectorSettings
from claimbridge.connectors import Clearinghouse, OutboundFile, RemoteFile, SubmitResult
from claimbridge.errors import FatalError, HostKeyError, TransmitError
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings
from claimbridge.plugins.ehr_fhir.bulk import FhirBulkSource
from claimbridge.plugins.ehr_fhir.demo_data import demo_code_map, demo_resources
from claimbridge.plugins.ehr_fhir.source import FhirSource
from claimbridge.testing import ConformanceError, FolderFarSide, check_clearinghouse, check_source
from claimbridge.testing.servers import unknown_host_key
from tests.fixtures.sshd import *  # noqa: F403 - the sshd_server fixture

pytest_plugins = ["claimbridge.testing"]


# --------------------------------------------------------------------------------- the SFTP clearinghouse


def test_sftp_clearinghouse_conforms_on_the_sandbox(claimbridge_sandbox_clearinghouse):
    sandbox = claimbridge_sandbox_clearinghouse
    check_clearinghouse(lambda: SftpClearinghouse("sandbox", sandbox.settings()), sandbox.far_side,
                        untrusted_factory=lambda: SftpClearinghouse("stranger", sandbox.untrusted_settings()))


def test_sftp_clearinghouse_conforms_on_openssh_with_a_picked_up_folder(sshd_server):
    root = sshd_server.root
    far_side = FolderFarSide(root / "upload", root / "responses", picked_up=root / "taken")
    stranger_known_hosts = root.parent / "stranger_known_hosts"
    line = Path(sshd_server.known_hosts_path).read_text().split()[0]
    stranger_known_hosts.write_text(f"{line} {unknown_host_key()}\n")

    def settings(**overrides) -> SftpSettings:
        values = {"host": sshd_server.host, "port": sshd_server.port, "username": sshd_server.username,
                  "private_key_path": sshd_server.private_key_path, "known_hosts": sshd_server.known_hosts_path,
                  "upload_dir": str(root / "upload"), "responses_dir": str(root / "responses"),
                  "archive_dir": str(root / "archive"), "picked_up_dirs": (str(root / "taken"),),
                  "connect_timeout": 5, "io_timeout": 10, "keepalive_seconds": 1, **overrides}
        return SftpSettings(**values)

    check_clearinghouse(lambda: SftpClearinghouse("openssh", settings()), far_side,
                        untrusted_factory=lambda: SftpClearinghouse("stranger",
                                                                    settings(known_hosts=stranger_known_hosts)))


# ------------------------------------------------------------------- a folder clearinghouse, good and broken


class DropSettings(ConnectorSettings):
    outbound: Path = Field(description="folder claims are dropped into")
    inbound: Path = Field(description="folder responses arrive in")
    archive: Path = Field(description="folder read responses are moved to")
    trusted: bool = Field(True, description="the far end's identity is pinned (stands in for a host key)")


class FolderDrop(Clearinghouse):
    """A correct folder clearinghouse: what a plugin author might write for a mounted share."""

    type_name = "folder_drop"
    settings_model = DropSettings

    def _refuse_strangers(self) -> None:
        if not self.settings.trusted:
            raise HostKeyError(f"{self.name}: the far end is not the one pinned; refusing")

    def check(self) -> None:
        self._refuse_strangers()

    def submit(self, file: OutboundFile) -> SubmitResult:
        self._refuse_strangers()
        final = self.settings.outbound / file.name
        if final.exists():
            return SubmitResult(remote_path=str(final), already_present=True)
        temp = final.with_name(f".{file.name}.part")
        with temp.open("wb") as out:
            for start in range(0, len(file.content), 65536):
                out.write(file.content[start:start + 65536])
        temp.rename(final)
        return SubmitResult(remote_path=str(final))

    def list_inbound(self) -> list[RemoteFile]:
        return [RemoteFile(name=p.name, size=p.stat().st_size) for p in sorted(self.settings.inbound.iterdir())
                if p.is_file() and not p.name.startswith(".")]

    def fetch(self, name: str) -> bytes:
        try:
            return (self.settings.inbound / name).read_bytes()
        except FileNotFoundError:
            raise TransmitError(f"{self.name}: {name} is no longer there") from None

    def archive(self, name: str) -> None:
        self.settings.archive.mkdir(exist_ok=True)
        source = self.settings.inbound / name
        if source.exists():
            source.rename(self.settings.archive / name)


class WritesInPlace(FolderDrop):
    def submit(self, file):
        final = self.settings.outbound / file.name
        if final.exists():
            return SubmitResult(remote_path=str(final), already_present=True)
        with final.open("wb") as out:
            for start in range(0, len(file.content), 4096):
                out.write(file.content[start:start + 4096])
                out.flush()
                if start % (64 * 4096) == 0:
                    time.sleep(0.01)
        return SubmitResult(remote_path=str(final))


class UploadsAgain(FolderDrop):
    def submit(self, file):
        final = self.settings.outbound / file.name
        temp = final.with_name(f".{file.name}.part")
        temp.write_bytes(file.content)
        os.replace(temp, final)
        return SubmitResult(remote_path=str(final))


class Sloppy(FolderDrop):
    """Leaves its temporary file, loses a response, lets a missing file raise a bare error, trusts anyone."""

    def _refuse_strangers(self):
        return None

    def submit(self, file):
        result = super().submit(file)
        (self.settings.outbound / f".{file.name}.part").write_bytes(b"")
        return result

    def list_inbound(self):
        return super().list_inbound()[:1]

    def fetch(self, name):
        return (self.settings.inbound / name).read_bytes()

    def archive(self, name):
        return None


@pytest.fixture
def drop(tmp_path: Path):
    far_side = FolderFarSide(tmp_path / "out", tmp_path / "in")

    def factory(cls=FolderDrop, **overrides):
        values = {"outbound": tmp_path / "out", "inbound": tmp_path / "in", "archive": tmp_path / "archive",
                  **overrides}
        return lambda: cls("drop", DropSettings(**values))

    return far_side, factory


def test_a_correct_folder_clearinghouse_conforms(drop):
    far_side, factory = drop
    check_clearinghouse(factory(), far_side, untrusted_factory=factory(trusted=False))


def test_writing_under_the_final_name_is_reported(drop):
    far_side, factory = drop
    with pytest.raises(ConformanceError) as info:
        check_clearinghouse(factory(WritesInPlace), far_side)
    assert len(info.value.problems) == 1
    assert "under its final name with" in info.value.problems[0]
    assert "upload to a temporary name and rename it when complete" in info.value.problems[0]


def test_uploading_twice_is_reported(drop):
    far_side, factory = drop
    with pytest.raises(ConformanceError) as info:
        check_clearinghouse(factory(UploadsAgain), far_side)
    problems = info.value.problems
    assert any("again from the same instance wrote it again; look for a file of that name" in p for p in problems)
    assert any("again from a new instance wrote it again" in p for p in problems)


def test_sloppy_clearinghouse_lists_each_problem(drop):
    far_side, factory = drop
    with pytest.raises(ConformanceError) as info:
        check_clearinghouse(factory(Sloppy), far_side, untrusted_factory=factory(Sloppy, trusted=False))
    message = str(info.value)
    assert message.startswith("clearinghouse Sloppy: ")
    assert "submit left ['." in message and "remove or rename the temporary file" in message
    assert "list_inbound did not list " in message
    assert "left the file in the responses folder" in message
    assert "fetch of a file that is not there raised FileNotFoundError" in message
    assert "check() against an unknown host succeeded; refuse hosts whose identity is not pinned" in message
    assert "submit() against an unknown host succeeded" in message
    assert "a connector pointed at an unknown host uploaded a file anyway" in message


def test_a_picked_up_file_uploaded_again_is_reported(tmp_path: Path):
    far_side = FolderFarSide(tmp_path / "out", tmp_path / "in", picked_up=tmp_path / "taken")
    factory = lambda: FolderDrop("drop", DropSettings(outbound=tmp_path / "out", inbound=tmp_path / "in",  # noqa: E731
                                                      archive=tmp_path / "archive"))
    with pytest.raises(ConformanceError, match="was uploaded again after the clearinghouse had picked it up"):
        check_clearinghouse(factory, far_side)


def test_a_fatal_error_is_what_an_unknown_host_gets():
    assert issubclass(HostKeyError, FatalError)


# --------------------------------------------------------------------------------------- the FHIR sources

TODAY = datetime.now(UTC).date()


def test_fhir_source_conforms_on_a_real_fhir_server(claimbridge_fhir_server):
    server = claimbridge_fhir_server
    since = datetime.now(UTC) - timedelta(seconds=1)
    server.load(demo_resources(TODAY))
    broken = {"resourceType": "Encounter", "id": "conformance-no-subject", "status": "finished",
              "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
              "period": {"start": f"{TODAY}T10:00:00Z", "end": f"{TODAY}T10:53:00Z"}}
    until = datetime.now(UTC)

    def source(name="conformance", page_size=4):
        return FhirSource(name, {"base_url": server.base_url, "procedure_code_map": demo_code_map(),
                                 "page_size": page_size})

    # small pages: the resumed read starts mid-way through a page of the first one
    check_source(source, since=since, until=until)

    server.load([broken])
    with_broken = datetime.now(UTC)
    check_source(source, since=since, until=with_broken, bad_records_factory=source)


def _bulk_folder(folder: Path, *, broken: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[str]] = {}
    for resource in demo_resources(TODAY):
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    if broken:
        by_type["Encounter"].append("{not json")
        by_type["Encounter"].append(json.dumps({"resourceType": "Encounter", "id": "no-subject",
                                                "status": "finished"}))
    for resource_type, lines in by_type.items():
        (folder / f"{resource_type}.000.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def test_fhir_bulk_source_conforms(tmp_path: Path):
    since = datetime.now(UTC) - timedelta(days=1)
    good = _bulk_folder(tmp_path / "good", broken=False)
    bad = _bulk_folder(tmp_path / "bad", broken=True)
    until = datetime.now(UTC) + timedelta(seconds=1)

    def source(folder: Path):
        return lambda: FhirBulkSource("bulk", {"folder": str(folder), "procedure_code_map": demo_code_map()})

    check_source(source(good), since=since, until=until, bad_records_factory=source(bad))


def test_a_clean_folder_offered_as_unusable_is_reported(tmp_path: Path):
    since = datetime.now(UTC) - timedelta(days=1)
    good = _bulk_folder(tmp_path / "good", broken=False)
    clean_again = tmp_path / "copy"
    shutil.copytree(good, clean_again)
    factory = lambda: FhirBulkSource("bulk", {"folder": str(good), "procedure_code_map": demo_code_map()})  # noqa: E731
    with pytest.raises(ConformanceError, match="the source with unusable records yielded no BadRecord"):
        check_source(factory, since=since, until=datetime.now(UTC) + timedelta(seconds=1),
                     bad_records_factory=lambda: FhirBulkSource("bulk", {"folder": str(clean_again),
                                                                         "procedure_code_map": demo_code_map()}))
