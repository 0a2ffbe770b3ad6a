"""Base classes for connectors: EHR sources and clearinghouses.

A connector says *how* to read or send; the core decides *when* and owns every piece of state (bookmarks,
submitted files, quarantine). Plugins subclass these and hand the class to core from a registration hook
(``register_sources`` / ``register_clearinghouses``).
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class ConnectorSettings(BaseModel):
    """Base for a connector's settings model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class Record:
    """One record read from a stream.

    ``key`` is the stream's primary key value (unique within the source and stream), ``cursor`` the value of
    the cursor field (a timezone-aware ISO 8601 timestamp for time cursors) used to advance the bookmark,
    ``data`` the JSON-serialisable payload. For the ``encounters`` stream the payload is an *encounter bundle*:
    a FHIR R4 ``Bundle`` of type ``collection`` whose first entry is the Encounter and whose other entries are
    the resources it refers to (see docs/claim-profile.md).
    """

    key: str
    cursor: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class BadRecord:
    """A record the stream read but could not use; the runner quarantines it and carries on.

    Yield it instead of raising so the rest of the page is not lost. ``payload`` keeps whatever was read
    (raw text or JSON) so nothing is lost.
    """

    key: str
    reason: str
    field: str | None = None
    cursor: str | None = None
    payload: Any = None


class Stream(abc.ABC):
    """A named sequence of records with a primary key and (optionally) a cursor.

    A stream never stores state: :meth:`read` gets the bookmark the runner kept and yields what changed since.
    """

    #: stream name, unique within its source (``encounters`` is the one the claim pipeline consumes)
    name: ClassVar[str]
    #: name of the primary-key field (documentation; the key travels in :attr:`Record.key`)
    primary_key: ClassVar[str] = "id"
    #: name of the cursor field, or None for a stream that is read whole every time
    cursor_field: ClassVar[str | None] = None
    #: True when records arrive in ascending cursor order, so the runner may checkpoint mid-stream
    is_sorted: ClassVar[bool] = False
    #: how far before the bookmark to start reading, to catch late-arriving updates with older timestamps
    lookback: ClassVar[timedelta] = timedelta(0)

    @abc.abstractmethod
    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        """Yield records whose cursor is after ``since`` (None: everything) and not after ``until``.

        ``since`` already has :attr:`lookback` subtracted. Yielding a record twice is allowed (the store
        upserts by key); skipping one is not.
        """


class Connector(abc.ABC):  # noqa: B024 - a shared base, abstract through its subclasses
    """What every connector has: a configured name, a settings model, a check and a close."""

    #: the ``type`` used in configuration (``sources[].type`` / ``clearinghouses[].type``)
    type_name: ClassVar[str]
    #: the pydantic model of the entry's ``settings``
    settings_model: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, name: str, settings: ConnectorSettings):
        self.name = name
        self.settings = settings

    def check(self) -> None:
        """Raise a :class:`~claimbridge.errors.FatalError` if the far side cannot be reached or refuses us."""

    def close(self) -> None:
        """Release connections and temporary files."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EhrSource(Connector):
    """An EHR connector: a set of streams configured by one settings model."""

    @abc.abstractmethod
    def streams(self) -> list[Stream]:
        """The streams this source offers; an ``encounters`` stream feeds the claim pipeline."""


@dataclass(frozen=True)
class OutboundFile:
    """A file ready to leave: its final name and its exact bytes."""

    name: str
    content: bytes
    sha256: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "sha256", hashlib.sha256(self.content).hexdigest())


@dataclass(frozen=True)
class RemoteFile:
    """A file seen in a clearinghouse folder."""

    name: str
    size: int
    modified: datetime | None = None


@dataclass(frozen=True)
class SubmitResult:
    """What :meth:`Clearinghouse.submit` did. ``already_present`` is True when the file was found remotely
    (same name and size/sha256) and was not uploaded again."""

    remote_path: str
    already_present: bool = False


class Clearinghouse(Connector):
    """A clearinghouse connector (SFTP or any other transport)."""

    @abc.abstractmethod
    def submit(self, file: OutboundFile) -> SubmitResult:
        """Deliver ``file`` exactly once.

        Idempotent by file name and content: if a file of that name and size is already in the outbound
        folder (or its archive), nothing is uploaded and ``already_present`` is True. Uploads go to a
        temporary name and are renamed when complete, so the far side never sees half a file.
        """

    @abc.abstractmethod
    def list_inbound(self) -> list[RemoteFile]:
        """Files waiting in the inbound (responses) folder."""

    @abc.abstractmethod
    def fetch(self, name: str) -> bytes:
        """The content of one inbound file."""

    @abc.abstractmethod
    def archive(self, name: str) -> None:
        """Move one inbound file out of the way once it is recorded."""


class EligibilityTransport(abc.ABC):
    """Real-time eligibility (270 in, 271 out) through a clearinghouse that offers it, for on-demand checks.

    A plugin registers one per clearinghouse type it serves (``type_name`` is that clearinghouse's
    ``type_name``) with ``register_eligibility_transports``. It is built on an open connector of that type and
    answers one interchange at a time; batches for upcoming appointments still go as files. The SFTP
    clearinghouse has none.
    """

    #: the clearinghouse type this transport serves
    type_name: ClassVar[str]

    def __init__(self, clearinghouse: Clearinghouse):
        self.clearinghouse = clearinghouse

    @abc.abstractmethod
    def inquire(self, content: bytes) -> bytes:
        """Send one 270 interchange and return what came back: a 271 interchange (or a 999/TA1 rejecting the
        270). Raise :class:`~claimbridge.errors.RetryableError` when the service is unavailable."""

