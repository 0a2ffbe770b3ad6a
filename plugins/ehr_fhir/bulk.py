"""``type: fhir_bulk`` — the ndjson files of a FHIR Bulk Data ``$export``, for backfills.

Every file ``<ResourceType>.*.ndjson`` of a type the encounter bundle uses is indexed in memory (by id, by
identifier for conditional and logical references); Encounter files are then streamed one line at a time.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from claimbridge import BadRecord, EhrSource, Record, RecordError, SourceError, Stream

from .appointments import STREAM, AppointmentBundler, appointment_key, appointment_start, appointment_window
from .bundler import FOLLOWED_TYPES, EncounterBundler, encounter_key
from .codes import ProcedureCodeMap
from .index import ResourceIndex, parse_instant
from .references import FHIR_ID
from .settings import FhirBulkSourceSettings

log = logging.getLogger(__name__)

_FILE_TYPE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)(?:\.[^.]+)*\.ndjson$")


def ndjson_files(folder: Path) -> dict[str, list[Path]]:
    """``<ResourceType>[.NNN].ndjson`` files by resource type, each list sorted by name."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*.ndjson")):
        match = _FILE_TYPE.match(path.name)
        if match and path.is_file():
            found.setdefault(match["type"], []).append(path)
    return found


def read_ndjson(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line_number, resource_or_raw_text, problem)`` for each non-blank line; ``problem`` is None when the
    line is a JSON object with a ``resourceType`` and an ``id``."""
    with path.open("r", encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                yield number, text, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
                yield number, value, "not a FHIR resource (no resourceType)"
            elif not isinstance(value.get("id"), str) or not FHIR_ID.match(value["id"]):
                yield number, value, "missing or malformed id"
            else:
                yield number, value, None


class IndexLookup:
    """:class:`~.bundler.ResourceLookup` over a :class:`ResourceIndex`."""

    def __init__(self, index: ResourceIndex):
        self.index = index

    def read(self, key: str) -> dict[str, Any] | None:
        resource_type, _, resource_id = key.partition("/")
        return self.index.get(resource_type, resource_id)

    def resolve(self, reference: dict[str, Any], expected_type: str | None = None) -> str | None:
        return self.index.resolve(reference, expected_type)

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        return self.index.search(resource_type, params)


class BulkEncounterStream(Stream):
    """Encounters of the export as encounter bundles. The cursor is ``meta.lastUpdated`` when the export has
    it, else the modification time of the Encounter file."""

    name = "encounters"
    primary_key = "id"
    cursor_field = "meta.lastUpdated"
    is_sorted = False

    def __init__(self, source: FhirBulkSource):
        self.source = source
        self.settings: FhirBulkSourceSettings = source.settings
        self.lookback = timedelta(minutes=self.settings.lookback_minutes)

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        files = self.source.files()
        index = ResourceIndex()
        for resource_type, paths in files.items():
            if resource_type not in FOLLOWED_TYPES:
                continue
            for path in paths:
                for number, value, problem in read_ndjson(path):
                    if problem:
                        yield BadRecord(key=f"{path.name}:{number}", reason=f"{path.name} line {number}: {problem}",
                                        field=None, payload=value)
                    else:
                        index.add(value)
        bundler = EncounterBundler(IndexLookup(index), ProcedureCodeMap(self.settings.procedure_code_map))
        statuses = set(self.settings.encounter_statuses)
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        since = since if since is None or since.tzinfo else since.replace(tzinfo=UTC)
        for path in files.get("Encounter", []):
            file_cursor = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
            for number, value, problem in read_ndjson(path):
                where = f"{path.name} line {number}"
                if problem is None and value.get("resourceType") != "Encounter":
                    problem = f"a {value['resourceType']} in an Encounter file"
                if problem:
                    yield BadRecord(key=f"{path.name}:{number}", reason=f"{where}: {problem}", field=None,
                                    payload=value)
                    continue
                stamp = (value.get("meta") or {}).get("lastUpdated") if isinstance(value.get("meta"), dict) \
                    else None
                cursor = stamp if parse_instant(stamp) else file_cursor
                moment = parse_instant(cursor)
                if (since and moment <= since) or moment > until or value.get("status") not in statuses:
                    continue
                key = encounter_key(value)
                try:
                    bundle = bundler.build(value)
                except RecordError as exc:
                    yield BadRecord(key=key, reason=f"{where}: {exc.reason}", field=exc.field, cursor=cursor,
                                    payload=value)
                    continue
                yield Record(key=key, cursor=cursor, data=bundle)


class BulkAppointmentStream(Stream):
    """The export's Appointments in the window (today through ``appointments.days_ahead`` days later) as
    appointment bundles; no ``Appointment.*.ndjson``, no records. Read whole every run (no cursor)."""

    name = STREAM
    primary_key = "id"
    cursor_field = None
    is_sorted = False

    def __init__(self, source: FhirBulkSource):
        self.source = source
        self.settings: FhirBulkSourceSettings = source.settings

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        files = self.source.files()
        if not files.get("Appointment"):
            return
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        window = appointment_window(until, self.settings.appointments)
        index = ResourceIndex()
        for resource_type, paths in files.items():
            if resource_type not in FOLLOWED_TYPES:
                continue
            for path in paths:
                for _, value, problem in read_ndjson(path):
                    if not problem:
                        index.add(value)  # the encounters stream quarantines the lines it cannot use
        bundler = AppointmentBundler(IndexLookup(index))
        for path in files["Appointment"]:
            for number, value, problem in read_ndjson(path):
                where = f"{path.name} line {number}"
                if problem is None and value.get("resourceType") != "Appointment":
                    problem = f"a {value['resourceType']} in an Appointment file"
                if problem:
                    yield BadRecord(key=f"{path.name}:{number}", reason=f"{where}: {problem}", field=None,
                                    payload=value)
                    continue
                start = appointment_start(value)
                if start is not None and not window.holds(start):
                    continue
                key = appointment_key(value)
                try:
                    bundle = bundler.build(value)
                except RecordError as exc:
                    yield BadRecord(key=key, reason=f"{where}: {exc.reason}", field=exc.field, payload=value)
                    continue
                yield Record(key=key, cursor=None, data=bundle)


class FhirBulkSource(EhrSource):
    """A folder of Bulk Data ndjson files."""

    type_name = "fhir_bulk"
    settings_model = FhirBulkSourceSettings

    def __init__(self, name: str, settings: FhirBulkSourceSettings | dict[str, Any]):
        if not isinstance(settings, FhirBulkSourceSettings):
            settings = FhirBulkSourceSettings.model_validate(settings)
        super().__init__(name, settings)

    def files(self) -> dict[str, list[Path]]:
        folder = self.settings.folder
        if not folder.is_dir():
            raise SourceError(f"source {self.name}: folder {folder} does not exist; check settings.folder")
        return ndjson_files(folder)

    def streams(self) -> list[Stream]:
        streams: list[Stream] = [BulkEncounterStream(self)]
        if self.settings.appointments.enabled:
            streams.append(BulkAppointmentStream(self))
        return streams

    def check(self) -> None:
        if "Encounter" not in self.files():
            raise SourceError(f"source {self.name}: no Encounter.*.ndjson in {self.settings.folder}; point "
                              f"settings.folder at the output of a $export")
