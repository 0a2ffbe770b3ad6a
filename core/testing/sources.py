"""Conformance of EHR sources: the cursor window, idempotent re-reads, resuming, unusable records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from claimbridge.testing.problems import ConformanceError
from claimbridge.testing.settings import check_settings_model


def _payload_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _read_window(stream: Any, since: datetime | None, until: datetime, label: str, problems: list[str],
                 order: list[tuple[str, datetime]] | None = None) -> dict[str, str] | None:
    """Read one window: {key: payload hash} of the records (BadRecords are allowed and left out); ``order``
    gets (key, cursor) of each record with a usable cursor, in the order read."""
    from claimbridge.connectors import BadRecord, Record

    seen: dict[str, str] = {}
    try:
        results = list(stream.read(since, until))
    except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
        problems.append(f"{label}: read({since!r}, {until!r}) raised {type(exc).__name__}: {exc}; yield a "
                        "BadRecord for an unusable record, raise SourceError/FatalError only when nothing "
                        "can be read")
        return None
    for result in results:
        if isinstance(result, BadRecord):
            continue
        if not isinstance(result, Record):
            problems.append(f"{label}: yielded {type(result).__name__}, not a Record or BadRecord")
            continue
        if result.cursor is not None and stream.cursor_field is not None:
            try:
                cursor = datetime.fromisoformat(result.cursor)
            except (TypeError, ValueError):
                problems.append(f"{label}: record {result.key!r} has cursor {result.cursor!r}, not an ISO 8601 "
                                "timestamp; put the cursor field's value in Record.cursor as isoformat()")
                continue
            if cursor.tzinfo is None:
                problems.append(f"{label}: record {result.key!r} has a cursor without a time zone "
                                f"({result.cursor}); make it timezone-aware (UTC)")
                continue
            if since is not None and cursor <= since:
                problems.append(f"{label}: yielded record {result.key!r} with cursor {result.cursor}, not after "
                                f"since={since.isoformat()}; filter on the cursor (the runner already "
                                "subtracted the stream's lookback)")
            if cursor > until:
                problems.append(f"{label}: yielded record {result.key!r} with cursor {result.cursor}, after "
                                f"until={until.isoformat()}; stop at until so the bookmark does not skip records")
            if order is not None:
                order.append((result.key, cursor))
        seen[result.key] = _payload_hash(result.data)
    return seen


def check_source(source_factory: Callable[[], Any], *, since: datetime, until: datetime | None = None,
                 streams: Iterable[str] | None = None,
                 bad_records_factory: Callable[[], Any] | None = None) -> None:
    """Check an EHR source: ``source_factory()`` returns a ready :class:`~claimbridge.connectors.EhrSource`
    (called once per read, so re-reading uses a fresh instance, as a new sync run would).

    For each stream (or only those named in ``streams``) with a cursor field: no record read with ``since`` is
    at or before ``since``, none is after ``until`` (default: now), cursors are timezone-aware ISO 8601; and two
    reads of the same window yield the same keys with the same payloads (the store upserts by key, so a
    re-read must not change what was stored).

    Resuming after an interruption: a stream that declares ``is_sorted`` must yield cursors in ascending order
    (the sync runner commits a bookmark mid-stream, between two cursor values); the check stops the first read
    half-way, as a crash would, and reads again from that bookmark (minus the stream's ``lookback``) with a new
    source: every record after the bookmark must come again. (An unsorted stream only moves its bookmark at its
    end, so resuming is re-reading the window: covered above.)

    ``bad_records_factory()`` (optional, recommended) returns a source whose data holds unusable records (a
    session without a patient, an unparsable date): reading it must not raise, and the unusable records must come
    as :class:`~claimbridge.connectors.BadRecord` with a key and a reason, so the runner quarantines them and
    goes on. Its ``settings_model`` is checked with :func:`check_settings_model`.
    """
    from datetime import UTC

    from claimbridge.connectors import EhrSource

    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (e.g. datetime(2026, 1, 1, tzinfo=UTC))")
    until = until or datetime.now(UTC)
    first = source_factory()
    subject = f"source {type(first).__name__}"
    if not isinstance(first, EhrSource):
        raise ConformanceError(subject, ["source_factory() did not return an EhrSource; subclass "
                                         "claimbridge.EhrSource and return an instance"])
    problems: list[str] = []
    try:
        check_settings_model(type(first).settings_model)
    except ConformanceError as exc:
        problems.extend(str(exc).splitlines())
    wanted = set(streams) if streams is not None else None
    offered: set[str] = set()

    orders: dict[str, list[tuple[str, datetime]]] = {}
    kinds: dict[str, tuple[bool, Any]] = {}  # stream name → (is_sorted, lookback)

    def windows(source: Any) -> dict[str, dict[str, str] | None]:
        out: dict[str, dict[str, str] | None] = {}
        with source:
            for stream in source.streams():
                offered.add(stream.name)
                if wanted is not None and stream.name not in wanted:
                    continue
                label = f"stream {stream.name!r}"
                if stream.cursor_field is None:
                    out[stream.name] = _read_window(stream, None, until, label, problems)
                else:
                    order: list[tuple[str, datetime]] = []
                    out[stream.name] = _read_window(stream, since, until, label, problems, order)
                    orders.setdefault(stream.name, order)
                    kinds[stream.name] = (bool(stream.is_sorted), stream.lookback)
        return out

    once = windows(first)
    if wanted is not None and wanted - offered:
        problems.append(f"has no stream named {', '.join(sorted(wanted - offered))}; streams: "
                        f"{', '.join(sorted(offered)) or 'none'}")
    before = len(problems)
    again = windows(source_factory())
    del problems[before:]  # the second read repeats the first one's problems
    for name, first_read in once.items():
        second_read = again.get(name)
        if first_read is None or second_read is None:
            continue
        label = f"stream {name!r}"
        if set(first_read) != set(second_read):
            gone, new = sorted(set(first_read) - set(second_read)), sorted(set(second_read) - set(first_read))
            problems.append(f"{label}: re-reading the same window yielded other keys (missing {gone[:5]}, new "
                            f"{new[:5]}); derive keys from the EHR's ids, not from read order or the clock")
        changed = sorted(k for k in set(first_read) & set(second_read) if first_read[k] != second_read[k])
        if changed:
            problems.append(f"{label}: re-reading the same window changed the payload of {changed[:5]}; keep "
                            "read time, random ids and unordered collections out of Record.data")
    for name, order in orders.items():
        is_sorted, lookback = kinds[name]
        if is_sorted:
            problems.extend(_resume_problems(source_factory, name, order, lookback, until))
    if bad_records_factory is not None:
        problems.extend(_bad_record_problems(bad_records_factory, since, until, wanted))
    if problems:
        raise ConformanceError(subject, problems)


def _stream_named(source: Any, name: str) -> Any:
    return next((stream for stream in source.streams() if stream.name == name), None)


def _resume_problems(source_factory: Callable[[], Any], name: str, order: list[tuple[str, datetime]],
                     lookback: Any, until: datetime) -> list[str]:
    """A sorted stream: ascending cursors, and a read resumed from a mid-stream bookmark loses nothing."""
    label = f"stream {name!r}"
    for (key_a, a), (key_b, b) in zip(order, order[1:], strict=False):
        if b < a:
            return [f"{label}: declares is_sorted but yielded {key_b!r} (cursor {b.isoformat()}) after {key_a!r} "
                    f"({a.isoformat()}); the runner commits bookmarks mid-stream, so a crash would skip "
                    "records: sort by the cursor (e.g. _sort=_lastUpdated) or set is_sorted = False"]
    # where the runner could have committed a bookmark: between two different cursor values, near the middle
    cut = next((i for i in range(len(order) // 2, len(order)) if i and order[i][1] != order[i - 1][1]), None)
    if cut is None:
        cut = next((i for i in range(len(order) // 2, 0, -1) if order[i][1] != order[i - 1][1]), None)
    if cut is None:
        return []  # fewer than two distinct cursors: nothing to resume between
    bookmark = order[cut - 1][1]
    expected = {key for key, cursor in order[cut:] if cursor > bookmark}
    resumed: dict[str, str] | None
    problems: list[str] = []
    with source_factory() as source:
        stream = _stream_named(source, name)
        if stream is None:
            return [f"{label}: a new source instance has no such stream"]
        resumed = _read_window(stream, bookmark - lookback, until, f"{label} (resumed)", problems)
    if resumed is None:
        return problems
    lost = sorted(expected - set(resumed))
    if lost:
        problems.append(f"{label}: stopped after {cut} of {len(order)} records and resumed from the bookmark "
                        f"{bookmark.isoformat()}: {len(lost)} record(s) after it did not come again ({lost[:5]}); "
                        "read everything with a cursor after since, whatever page the crash was on")
    return problems


def _bad_record_problems(bad_records_factory: Callable[[], Any], since: datetime, until: datetime,
                         wanted: set[str] | None) -> list[str]:
    from claimbridge.connectors import BadRecord

    problems: list[str] = []
    bad: list[Any] = []
    with bad_records_factory() as source:
        for stream in source.streams():
            if wanted is not None and stream.name not in wanted:
                continue
            label = f"stream {stream.name!r} (unusable records)"
            try:
                results = list(stream.read(since if stream.cursor_field else None, until))
            except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                problems.append(f"{label}: read raised {type(exc).__name__}: {exc}; yield a BadRecord(key, "
                                "reason, field=…) for the unusable record so the rest is still read")
                continue
            for result in results:
                if isinstance(result, BadRecord):
                    bad.append(result)
                    if not (isinstance(result.key, str) and result.key.strip()):
                        problems.append(f"{label}: a BadRecord has no key; give the EHR's id (or the file and "
                                        "line) so the quarantine says which record it was")
                    if not (isinstance(result.reason, str) and result.reason.strip()):
                        problems.append(f"{label}: BadRecord {result.key!r} has no reason; say what is wrong and "
                                        "which field")
    if not problems and not bad:
        problems.append("the source with unusable records yielded no BadRecord; yield BadRecord(key, reason, "
                        "field=…) for a record that cannot be used instead of dropping it silently")
    return problems
