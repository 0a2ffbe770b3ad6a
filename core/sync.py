"""The sync runner: reads a source's streams and stores what they yield, owning every bookmark.

Rules (docs/architecture.md, "Exactly once, nothing lost"):
* the bookmark never moves past the run's start, and moves in the same transaction as the records it covers;
* records are upserted by key, so reading one twice is harmless (at-least-once delivery, exactly-once storage);
* a record the stream cannot use is quarantined with the reason; the run goes on;
* a failure of the stream itself ends the run as failed, keeping every checkpoint committed before it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from claimbridge.connectors import BadRecord, EhrSource, Record, Stream
from claimbridge.errors import ClaimbridgeError
from claimbridge.store.db import Store
from claimbridge.store.models import (
    Bookmark,
    QuarantinedRecord,
    SourceRecord,
    StoredEncounter,
    SyncRun,
    utcnow,
)

log = logging.getLogger(__name__)

#: the stream whose records become claims; every other stream's records are kept in ``source_records``
ENCOUNTERS = "encounters"
#: records per transaction for sorted streams; an unsorted stream only checkpoints at its end
CHECKPOINT_EVERY = 100

Progress = Callable[[str], None]


@dataclass
class StreamResult:
    stream: str
    read: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    #: earlier quarantined records of this stream that now read cleanly (their quarantine resolved)
    released: int = 0


@dataclass
class SyncResult:
    source: str
    run_id: int
    status: str
    started_at: datetime
    streams: list[StreamResult] = field(default_factory=list)
    error: str | None = None

    def total(self, attr: str) -> int:
        return sum(getattr(s, attr) for s in self.streams)


def canonical_json(data: object) -> str:
    """Stable JSON (sorted keys, no spaces) so an unchanged record hashes the same on every pull."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value) if value == value.to_integral_value() else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def parse_cursor(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_cursor(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class SyncRunner:
    """Runs one pass over one source. ``now`` is injectable for tests."""

    def __init__(self, store: Store, *, now: Callable[[], datetime] = utcnow,
                 progress: Progress | None = None, checkpoint_every: int = CHECKPOINT_EVERY):
        self.store = store
        self.now = now
        self.progress = progress or (lambda message: None)
        self.checkpoint_every = checkpoint_every

    def run(self, source: EhrSource, *, reread: bool = False) -> SyncResult:
        """Read every stream of ``source`` from its bookmark (``reread``: from the start; records that did not
        change are left alone) and store what it yields."""
        with self.store.exclusive(f"sync:{source.name}"):
            started = self.now()
            with self.store.transaction() as session:
                run = SyncRun(source=source.name, started_at=started)
                session.add(run)
                session.flush()
                run_id = run.id
            result = SyncResult(source=source.name, run_id=run_id, status="running", started_at=started)
            try:
                for stream in source.streams():
                    result.streams.append(StreamResult(stream=stream.name))
                    self._sync_stream(source.name, stream, run_id, started, result.streams[-1], reread=reread)
                result.status = "succeeded"
            except ClaimbridgeError as exc:
                result.status, result.error = "failed", str(exc)
                raise
            except Exception as exc:
                result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
                raise
            finally:
                self._finish_run(run_id, result)
            return result

    def _finish_run(self, run_id: int, result: SyncResult) -> None:
        with self.store.transaction() as session:
            run = session.get(SyncRun, run_id)
            run.status = result.status if result.status != "running" else "failed"
            run.finished_at = self.now()
            run.records_read = result.total("read")
            run.records_new = result.total("new")
            run.records_changed = result.total("changed")
            run.records_quarantined = result.total("quarantined")
            run.error = result.error

    def _sync_stream(self, source: str, stream: Stream, run_id: int, until: datetime,
                     counts: StreamResult, *, reread: bool = False) -> None:
        with self.store.transaction() as session:
            mark = session.get(Bookmark, (source, stream.name))
            since = parse_cursor(mark.cursor) if mark and not reread else None
        if since is not None:
            since -= stream.lookback
        self.progress(f"{source}/{stream.name}: reading since {format_cursor(since) if since else 'the start'}")
        pending: list[Record | BadRecord] = []
        last_cursor: str | None = None
        for item in stream.read(since, until):
            cursor = item.cursor
            # Checkpoint only between two different cursor values of a sorted stream: every record at or
            # before the bookmark is then committed, and none with the same timestamp is left behind.
            if (stream.is_sorted and len(pending) >= self.checkpoint_every and cursor and last_cursor
                    and cursor != last_cursor):
                self._commit(session_records=pending, source=source, stream=stream.name, run_id=run_id,
                             bookmark=_not_after(last_cursor, until), counts=counts)
                pending = []
            pending.append(item)
            if cursor:
                last_cursor = cursor
        # the whole range up to the run start has been read: the bookmark is the run start
        self._commit(session_records=pending, source=source, stream=stream.name, run_id=run_id,
                     bookmark=format_cursor(until), counts=counts)

    def _commit(self, *, session_records: list[Record | BadRecord], source: str, stream: str, run_id: int,
                bookmark: str | None, counts: StreamResult) -> None:
        with self.store.transaction() as session:
            for item in session_records:
                counts.read += 1
                if isinstance(item, BadRecord):
                    _quarantine(session, source, stream, run_id, item)
                    counts.quarantined += 1
                    log.warning("%s/%s: record %s quarantined: %s%s", source, stream, item.key,
                                f"{item.field}: " if item.field else "", item.reason)
                elif stream == ENCOUNTERS:
                    outcome = _upsert(session, source, run_id, item)
                else:
                    outcome = _upsert_other(session, source, stream, run_id, item)
                if not isinstance(item, BadRecord):
                    setattr(counts, outcome, getattr(counts, outcome) + 1)
            counts.released += _release(session, source, stream,
                                        {item.key for item in session_records if not isinstance(item, BadRecord)})
            if bookmark is not None:
                mark = session.get(Bookmark, (source, stream))
                if mark is None:
                    session.add(Bookmark(source=source, stream=stream, cursor=bookmark))
                elif mark.cursor is None or parse_cursor(bookmark) >= parse_cursor(mark.cursor):
                    mark.cursor = bookmark
        self.progress(f"{source}/{stream}: {counts.read} read, {counts.new} new, {counts.changed} changed, "
                      f"{counts.quarantined} quarantined")


def _not_after(cursor: str, until: datetime) -> str:
    parsed = parse_cursor(cursor)
    return format_cursor(min(parsed, until)) if parsed else format_cursor(until)


def _release(session: Session, source: str, stream: str, keys: set[str]) -> int:
    """Resolve the open quarantine entries of records that have now been read cleanly (fixed in the EHR, or
    read by a fixed plugin); returns how many. One query when the stream has nothing open, which is the rule."""
    if not keys:
        return 0
    open_entries = (QuarantinedRecord.source == source, QuarantinedRecord.stream == stream,
                    QuarantinedRecord.resolved_at.is_(None))
    if session.execute(select(QuarantinedRecord.id).where(*open_entries).limit(1)).first() is None:
        return 0
    released = 0
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        released += session.execute(update(QuarantinedRecord).where(
            *open_entries, QuarantinedRecord.record_key.in_(chunk)).values(resolved_at=utcnow())).rowcount
    return released


def _quarantine(session: Session, source: str, stream: str, run_id: int, item: BadRecord) -> None:
    # a record read again (the lookback, a reread) with the same problem is quarantined once
    already = session.execute(select(QuarantinedRecord.id).where(
        QuarantinedRecord.source == source, QuarantinedRecord.stream == stream,
        QuarantinedRecord.record_key == item.key, QuarantinedRecord.reason == item.reason,
        QuarantinedRecord.resolved_at.is_(None)).limit(1)).first()
    if already is not None:
        return
    payload = item.payload
    if payload is not None and not isinstance(payload, str):
        try:
            payload = canonical_json(payload)
        except TypeError:
            payload = repr(payload)
    session.add(QuarantinedRecord(run_id=run_id, source=source, stream=stream, record_key=item.key,
                                  field=item.field, reason=item.reason, payload=payload))


def _upsert(session: Session, source: str, run_id: int, record: Record) -> str:
    payload = canonical_json(record.data)
    digest = hashlib.sha256(payload.encode()).hexdigest()
    existing = session.execute(
        select(StoredEncounter).where(StoredEncounter.source == source, StoredEncounter.key == record.key)
    ).scalar_one_or_none()
    if existing is None:
        session.add(StoredEncounter(source=source, key=record.key, cursor=record.cursor, payload=payload,
                                    payload_sha256=digest, last_run_id=run_id))
        return "new"
    if existing.payload_sha256 == digest:
        # seen by this run: a stream read whole every run (appointments) tells what is still there this way
        existing.last_run_id = run_id
        return "unchanged"
    existing.payload, existing.payload_sha256 = payload, digest
    existing.cursor, existing.updated_at, existing.last_run_id = record.cursor, utcnow(), run_id
    return "changed"


def _upsert_other(session: Session, source: str, stream: str, run_id: int, record: Record) -> str:
    payload = canonical_json(record.data)
    digest = hashlib.sha256(payload.encode()).hexdigest()
    existing = session.execute(
        select(SourceRecord).where(SourceRecord.source == source, SourceRecord.stream == stream,
                                   SourceRecord.key == record.key)
    ).scalar_one_or_none()
    if existing is None:
        session.add(SourceRecord(source=source, stream=stream, key=record.key, cursor=record.cursor,
                                 payload=payload, payload_sha256=digest, last_run_id=run_id))
        return "new"
    if existing.payload_sha256 == digest:
        # seen by this run: a stream read whole every run (appointments) tells what is still there this way
        existing.last_run_id = run_id
        return "unchanged"
    existing.payload, existing.payload_sha256 = payload, digest
    existing.cursor, existing.updated_at, existing.last_run_id = record.cursor, utcnow(), run_id
    return "changed"
