"""``type: fhir`` — a FHIR R4 REST server read with searches; the ``encounters`` and ``appointments`` streams."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from claimbridge import BadRecord, EhrSource, Record, RecordError, SourceError, Stream

from .appointments import (
    STREAM,
    AppointmentBundler,
    AppointmentWindow,
    appointment_key,
    appointment_start,
    appointment_window,
)
from .bundler import EncounterBundler, encounter_key
from .client import FhirClient, redact
from .codes import ProcedureCodeMap
from .index import last_updated, parse_instant
from .references import identifier_token, parse_reference
from .settings import FhirSourceSettings

log = logging.getLogger(__name__)

#: how many pages a search for related resources may take before we stop following it
MAX_RELATED_PAGES = 50
#: HTTP statuses meaning "this server cannot do that search" (skipped for the rest of the run; 401/403 stay
#: AuthErrors: a missing scope is for a person to fix)
UNSUPPORTED_SEARCH = (400, 404, 405, 422, 501)


def fhir_instant(moment: datetime) -> str:
    """``2026-11-27T05:29:32.747Z``: UTC with milliseconds, truncated (so ``gt`` never skips a record)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return link["url"]
    return None


def _same_origin(url: str, base_url: str) -> bool:
    """True when ``url`` is on the server of ``base_url`` (credentials are never sent anywhere else)."""
    return urlsplit(url)[:2] == urlsplit(base_url)[:2]


def _included_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a search page carries because of ``_include`` (``search.mode`` include)."""
    return [entry["resource"] for entry in bundle.get("entry") or []
            if isinstance(entry, dict) and (entry.get("search") or {}).get("mode") == "include"
            and isinstance(entry.get("resource"), dict)]


def _page_resources(bundle: dict[str, Any], where: str) -> list[Any]:
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise SourceError(f"{where}: Bundle.entry is not a list")
    resources = []
    for entry in entries:
        if isinstance(entry, dict) and (entry.get("search") or {}).get("mode") in ("include", "outcome"):
            continue
        resources.append(entry.get("resource") if isinstance(entry, dict) else entry)
    return resources


class RestLookup:
    """Reads, resolves and searches on the server, caching everything for one run."""

    def __init__(self, client: FhirClient, page_size: int):
        self.client = client
        self.page_size = page_size
        self._resources: dict[str, dict[str, Any] | None] = {}
        self._searches: dict[tuple[str, tuple[tuple[str, str], ...]], list[dict[str, Any]]] = {}
        self._unsupported: set[tuple[str, ...]] = set()

    def _remember(self, resource: Any) -> None:
        if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str) \
                and isinstance(resource.get("id"), str):
            self._resources[f"{resource['resourceType']}/{resource['id']}"] = resource

    def read(self, key: str) -> dict[str, Any] | None:
        if key not in self._resources:
            resource_type, _, resource_id = key.partition("/")
            resource = self.client.read(resource_type, resource_id)
            self._resources[key] = resource if isinstance(resource, dict) else None
        return self._resources[key]

    def resolve(self, reference: dict[str, Any], expected_type: str | None = None) -> str | None:
        text = reference.get("reference")
        if isinstance(text, str):
            parsed = parse_reference(text)
            if parsed is None:
                return None
            if parsed.id:
                if parsed.base and parsed.base.rstrip("/") != self.client.base_url:
                    return None  # another server: we have no credentials for it
                return parsed.key
            matches = self.search(parsed.type, list(parsed.query))
        else:
            token = identifier_token(reference.get("identifier"))
            wanted = reference.get("type") if isinstance(reference.get("type"), str) else expected_type
            if not token or not wanted:
                return None
            matches = self.search(wanted, [("identifier", token)])
        if len(matches) != 1:
            return None
        return f"{matches[0]['resourceType']}/{matches[0]['id']}"

    def can_search(self, resource_type: str, names: list[str]) -> bool:
        """False once the server refused a search of ``resource_type`` with exactly these parameter names."""
        return (resource_type, *sorted(set(names))) not in self._unsupported

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        cache_key = (resource_type, tuple(params))
        if cache_key in self._searches:
            return self._searches[cache_key]
        kind = (resource_type, *sorted({name for name, _ in params}))
        if kind in self._unsupported:
            return []
        found: list[dict[str, Any]] = []
        url, query = resource_type, [*params, ("_count", str(self.page_size))]
        offset, linked = 0, False
        for _ in range(MAX_RELATED_PAGES):
            bundle = self.client.get_json(url, query, tolerate=UNSUPPORTED_SEARCH)
            if bundle is None:
                log.warning("source %s: the server cannot search %s (%s); those resources are left out",
                            self.client.source, resource_type, ", ".join(k for k, _ in params))
                self._unsupported.add(kind)
                return []
            if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
                raise SourceError(f"source {self.client.source}: {redact(self.client.url(url), query)} "
                                  f"did not answer a Bundle")
            matches = _page_resources(bundle, url)
            found.extend(r for r in matches if isinstance(r, dict) and r.get("resourceType") == resource_type)
            for included in _included_resources(bundle):
                self._remember(included)  # _include'd resources: later reads come from the cache
            next_link = _next_link(bundle)
            if next_link and not _same_origin(next_link, self.client.base_url):
                raise SourceError(f"source {self.client.source}: a {resource_type} search's next-page link points "
                                  f"at another server ({urlsplit(next_link).netloc}); fix the server's base URL")
            if next_link:
                url, query, linked = next_link, None, True
                continue
            if linked:
                break  # a server that pages with links gives one on every page but the last
            total = bundle.get("total")
            offset += len(matches)
            if len(matches) < self.page_size or (isinstance(total, int) and offset >= total):
                break
            url, query = resource_type, [*params, ("_count", str(self.page_size)), ("_offset", str(offset))]
        found = list({f"{r.get('resourceType')}/{r.get('id')}": r for r in found}.values())
        for resource in found:
            self._remember(resource)
        self._searches[cache_key] = found
        return found

    def search_by_reference(self, resource_type: str, param: str, field_name: str, targets: list[str],
                            *, chunk: int = 50) -> None:
        """One search for many targets (``Coverage?beneficiary=Patient/a,Patient/b``, OR), remembered per target
        as if each had been searched alone, so the bundlers' per-patient searches need no request.

        Resources are assigned to a target by resolving their ``field_name`` reference; a server that cannot
        do the search leaves the per-target searches to fail (or succeed) on their own."""
        wanted = [t for t in dict.fromkeys(targets) if (resource_type, ((param, t),)) not in self._searches]
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            if len(part) == 1:
                self.search(resource_type, [(param, part[0])])
                continue
            found = self.search(resource_type, [(param, ",".join(part))])
            if (resource_type, param) in self._unsupported:
                return
            by_target: dict[str, list[dict[str, Any]]] = {t: [] for t in part}
            for resource in found:
                reference = resource.get(field_name)
                target = (self.resolve(reference, part[0].partition("/")[0]) if isinstance(reference, dict)
                          else None)
                if target in by_target:
                    by_target[target].append(resource)
            for target, resources in by_target.items():
                self._searches[(resource_type, ((param, target),))] = resources


class EncounterStream(Stream):
    """Finished encounters, oldest change first, each as an encounter bundle."""

    name = "encounters"
    primary_key = "id"
    cursor_field = "meta.lastUpdated"
    is_sorted = True

    def __init__(self, source: FhirSource):
        self.source = source
        self.settings: FhirSourceSettings = source.settings
        self.lookback = timedelta(minutes=self.settings.lookback_minutes)

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        lookup = RestLookup(self.source.client, self.settings.page_size)
        bundler = EncounterBundler(lookup, ProcedureCodeMap(self.settings.procedure_code_map),
                                   base_url=self.settings.base_url)
        for encounter in self.encounters(since, until):
            key = encounter_key(encounter)
            cursor = ((encounter.get("meta") or {}).get("lastUpdated") if isinstance(encounter, dict) else None)
            cursor = cursor if isinstance(cursor, str) else None
            try:
                bundle = bundler.build(encounter)
            except RecordError as exc:
                log.warning("source %s: %s quarantined: %s (%s)", self.source.name, key, exc.reason, exc.field)
                yield BadRecord(key=key, reason=exc.reason, field=exc.field, cursor=cursor, payload=encounter)
                continue
            yield Record(key=key, cursor=cursor, data=bundle)

    def encounters(self, since: datetime | None, until: datetime) -> Iterator[Any]:
        """The Encounters changed in (since, until], following ``link[next]`` or, without links, ``_offset``.

        Offset paging restarts each page at the last timestamp seen (``_lastUpdated=ge…`` and an offset
        counting the records already read at that timestamp), so an encounter updated while we page, which
        leaves the result set, cannot shift a later one past us.
        """
        s = self.settings
        client = self.source.client
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        low, high = (fhir_instant(since) if since else None), fhir_instant(until)
        low_at, high_at = (parse_instant(low) if low else None), until
        count = s.page_size
        statuses = set(s.encounter_statuses)
        fixed = [("status", ",".join(s.encounter_statuses)), ("_sort", "_lastUpdated"), ("_count", str(count))]

        def query(lower: str | None, offset: int) -> list[tuple[str, str]]:
            q = list(fixed)
            if lower:
                q.append(("_lastUpdated", lower))
            q.append(("_lastUpdated", f"le{high}"))
            if offset:
                q.append(("_offset", str(offset)))
            return q

        url: str = "Encounter"
        params: list[tuple[str, str]] | None = query(f"gt{low}" if low else None, 0)
        page_offset, consumed, keyset = 0, 0, True
        seen: set[str] = set()
        previous: datetime | None = None
        self.is_sorted = type(self).is_sorted
        while True:
            bundle = client.search(url, params)
            where = f"source {self.source.name}: {redact(client.url(url), params)}"
            resources = _page_resources(bundle, where)
            stamps = [last_updated(r) if isinstance(r, dict) else None for r in resources]
            fresh = 0
            for resource, stamp in zip(resources, stamps, strict=True):
                key = encounter_key(resource)
                if key in seen:
                    continue
                seen.add(key)
                fresh += 1
                if stamp is not None and ((low_at and stamp <= low_at) or stamp > high_at):
                    continue  # a server that ignores _lastUpdated
                if isinstance(resource, dict) and isinstance(resource.get("status"), str) \
                        and resource["status"] not in statuses:
                    continue  # a server that ignores status
                if stamp is not None and previous is not None and stamp < previous and self.is_sorted:
                    # the runner checks is_sorted before each checkpoint: stop checkpointing mid-stream
                    log.warning("%s: results are not sorted by _lastUpdated; no checkpoints this run", where)
                    self.is_sorted = False
                previous = stamp or previous
                yield resource
            next_link = _next_link(bundle)
            if next_link:
                if not _same_origin(next_link, client.base_url):
                    raise SourceError(f"{where}: the next-page link points at another server "
                                      f"({urlsplit(next_link).netloc}); fix the server's base URL setting")
                url, params = next_link, None
                continue
            entries = len(bundle.get("entry") or [])
            consumed += entries
            total = bundle.get("total")
            if entries < count or (isinstance(total, int) and page_offset + entries >= total):
                return
            if not fresh and page_offset:
                raise SourceError(f"{where}: a full page with nothing new; the server seems to ignore _offset "
                                  f"(use a server that returns Bundle.link next, or a larger page_size)")
            known = [st for st in stamps if st is not None]
            if keyset and (len(known) != len(stamps) or known != sorted(known)):
                log.warning("%s: results are not sorted by _lastUpdated; paging by plain _offset", where)
                keyset = False
            if keyset:
                last = resources[-1]["meta"]["lastUpdated"]
                ties = sum(1 for st in stamps if st == stamps[-1])
                page_offset = ties + (page_offset if params and ("_lastUpdated", f"ge{last}") in params else 0)
                url, params = "Encounter", query(f"ge{last}", page_offset)
            else:
                page_offset = consumed
                url, params = "Encounter", query(f"gt{low}" if low else None, page_offset)


class AppointmentStream(Stream):
    """Upcoming appointments (today through ``appointments.days_ahead`` days later), each as an appointment
    bundle. No cursor: every run reads its whole window, so a cancellation or a move replaces the record."""

    name = STREAM
    primary_key = "id"
    cursor_field = None
    is_sorted = False

    def __init__(self, source: FhirSource):
        self.source = source
        self.settings: FhirSourceSettings = source.settings

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        until = until if until.tzinfo else until.replace(tzinfo=UTC)
        window = appointment_window(until, self.settings.appointments)
        lookup = RestLookup(self.source.client, self.settings.page_size)
        appointments = self.appointments(lookup, window)
        patients = [_patient_key(a) for a in appointments]
        lookup.search_by_reference("Coverage", "beneficiary", "beneficiary", [p for p in patients if p])
        bundler = AppointmentBundler(lookup, base_url=self.settings.base_url)
        for appointment in appointments:
            key = appointment_key(appointment)
            try:
                bundle = bundler.build(appointment)
            except RecordError as exc:
                log.warning("source %s: %s quarantined: %s (%s)", self.source.name, key, exc.reason, exc.field)
                yield BadRecord(key=key, reason=exc.reason, field=exc.field, payload=appointment)
                continue
            yield Record(key=key, cursor=None, data=bundle)

    def appointments(self, lookup: RestLookup, window: AppointmentWindow) -> list[Any]:
        """The window's Appointments (every status), with their patients and practitioners ``_include``d where
        the server can; all pages, each appointment once."""
        dates = [("date", f"ge{fhir_instant(window.start)}"), ("date", f"lt{fhir_instant(window.end)}")]
        included = [*dates, ("_include", "Appointment:patient"), ("_include", "Appointment:practitioner")]
        found = lookup.search("Appointment", included)
        if not found and not lookup.can_search("Appointment", [k for k, _ in included]):
            found = lookup.search("Appointment", dates)
            if not lookup.can_search("Appointment", [k for k, _ in dates]):
                raise SourceError(f"source {self.source.name}: the server cannot search Appointment by date; "
                                  "set appointments.enabled: false in the source's settings if it keeps no "
                                  "appointments")
        unique: dict[str, Any] = {}
        for appointment in found:
            start = appointment_start(appointment)
            if start is not None and not window.holds(start):
                continue  # a server that ignores the date parameters
            unique.setdefault(appointment_key(appointment), appointment)
        return list(unique.values())


def _patient_key(appointment: Any) -> str | None:
    """``Patient/<id>`` of an appointment's patient participant, when it is a literal reference."""
    for participant in appointment.get("participant") or [] if isinstance(appointment, dict) else []:
        actor = participant.get("actor") if isinstance(participant, dict) else None
        text = actor.get("reference") if isinstance(actor, dict) else None
        parsed = parse_reference(text) if isinstance(text, str) else None
        if parsed is not None and parsed.id and parsed.type == "Patient":
            return parsed.key
    return None


class FhirSource(EhrSource):
    """A FHIR R4 server: Encounters and what they refer to, as encounter bundles."""

    type_name = "fhir"
    settings_model = FhirSourceSettings

    def __init__(self, name: str, settings: FhirSourceSettings | dict[str, Any], *,
                 sleep: Callable[[float], None] = time.sleep):
        if not isinstance(settings, FhirSourceSettings):
            settings = FhirSourceSettings.model_validate(settings)
        super().__init__(name, settings)
        self.client = FhirClient(name, settings, sleep=sleep)

    def streams(self) -> list[Stream]:
        streams: list[Stream] = [EncounterStream(self)]
        if self.settings.appointments.enabled:
            streams.append(AppointmentStream(self))
        return streams

    def check(self) -> None:
        self.client.check()

    def close(self) -> None:
        self.client.close()
