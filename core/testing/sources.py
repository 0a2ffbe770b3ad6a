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


def _read_window(stream: Any, since: datetime | None, until: datetime, label: str,
                 problems: list[str]) -> dict[str, str] | None:
    """Read one window: {key: payload hash} of the records (BadRecords are allowed and left out)."""
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
        seen[result.key] = _payload_hash(result.data)
    return seen


def check_source(source_factory: Callable[[], Any], *, since: datetime, until: datetime | None = None,
                 streams: Iterable[str] | None = None) -> None:
    """Check an EHR source: ``source_factory()`` returns a ready :class:`~claimbridge.connectors.EhrSource`
    (called once per read, so re-reading uses a fresh instance, as a new sync run would).

    For each stream (or only those named in ``streams``) with a cursor field: no record read with ``since`` is
    at or before ``since``, none is after ``until`` (default: now), cursors are timezone-aware ISO 8601; and two
    reads of the same window yield the same keys with the same payloads (the store upserts by key, so a
    re-read must not change what was stored). Its ``settings_model`` is checked with
    :func:`check_settings_model`.
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
                    out[stream.name] = _read_window(stream, since, until, label, problems)
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
    if problems:
        raise ConformanceError(subject, problems)
