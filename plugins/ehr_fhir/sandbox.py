"""A small FHIR R4 server in-process, for ``claimbridge demo`` and tests.

It holds resources in memory and answers what the ``fhir`` source asks: read, create, update, and searches
with ``status``, ``_lastUpdated`` (gt/ge/lt/le), ``_sort=_lastUpdated``, ``_count``, ``_offset``, ``identifier``,
``date`` (Appointment.start), ``_include`` (:data:`INCLUDES`) and the reference parameters ``beneficiary``
(several, comma separated, OR), ``practitioner``, ``context``, ``encounter``, ``patient``, ``actor``. Search
results page with ``Bundle.link[next]`` (Medplum's router, used in the other tests, pages without links, so
both styles get exercised). Loopback only; nothing is logged.

    with FhirSandbox(resources) as sandbox:
        settings = {"base_url": sandbox.base_url}
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .index import ResourceIndex, parse_instant
from .references import FHIR_ID, iter_references

BASE_PATH = "/fhir/R4"
#: ``_include`` values the sandbox understands → (the field holding the references, the target type)
INCLUDES = {"Appointment:patient": ("participant", "Patient"),
            "Appointment:practitioner": ("participant", "Practitioner"),
            "Appointment:actor": ("participant", None)}
DEFAULT_COUNT = 50
MAX_COUNT = 1000
FHIR_JSON = "application/fhir+json; charset=utf-8"


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


class FhirSandbox:
    """An in-memory FHIR R4 server on ``127.0.0.1`` (``port=0``: any free port)."""

    def __init__(self, resources: list[dict[str, Any]] | None = None, *, host: str = "127.0.0.1",
                 port: int = 0):
        self.host = host
        self.port = port
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last_stamp = datetime(1970, 1, 1, tzinfo=UTC)
        self.index = ResourceIndex()
        self.requests: list[str] = []  # "METHOD path?query" of each request, for tests
        if resources:
            self.load(resources)

    # -- lifecycle ------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self._server.server_address[1]}{BASE_PATH}"

    def start(self) -> FhirSandbox:
        if self._server is None:
            self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
            self._server.daemon_threads = True
            self.index.base_url = self.base_url
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="fhir-sandbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None
            self._thread = None

    def __enter__(self) -> FhirSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- data -----------------------------------------------------------------------------------------------

    def load(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Import resources; return the stored copies.

        Unlike a PUT, an import keeps a ``meta.lastUpdated`` the resource already has (a data set saved by one
        demo run reads the same on the next); resources without one get the current time.
        """
        return [self.put(resource, keep_last_updated=True)[0] for resource in resources]

    def put(self, resource: dict[str, Any], *, keep_last_updated: bool = False) -> tuple[dict[str, Any], bool]:
        """Create or update; ``(stored copy, created)``. Assigns ``meta.versionId`` and ``meta.lastUpdated``."""
        stored = copy.deepcopy(resource)
        meta = stored.get("meta") if isinstance(stored.get("meta"), dict) else {}
        with self._lock:
            old = self.index.get(stored["resourceType"], stored["id"])
            version = int(old["meta"]["versionId"]) + 1 if old else 1
            stamp = meta.get("lastUpdated") if keep_last_updated else None
            if not (isinstance(stamp, str) and parse_instant(stamp)):
                stamp = self._next_stamp()
            stored["meta"] = {**meta, "versionId": str(version), "lastUpdated": stamp}
            self.index.add(stored)
        return copy.deepcopy(stored), old is None

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self.index.get(resource_type, resource_id)
            return copy.deepcopy(found) if found else None

    def _next_stamp(self) -> str:
        """Now, in milliseconds, never before the previous stamp (several resources may share one)."""
        now = datetime.now(UTC)
        now = max(now.replace(microsecond=now.microsecond // 1000 * 1000), self._last_stamp)
        self._last_stamp = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    def search(self, resource_type: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        """A searchset Bundle for one page, with ``self`` and ``next`` links."""
        paging = {k: v for k, v in query if k in ("_count", "_offset")}
        includes = [v for k, v in query if k == "_include"]
        count = min(max(int(paging.get("_count", DEFAULT_COUNT)), 0), MAX_COUNT)
        offset = max(int(paging.get("_offset", 0)), 0)
        criteria = [(k, v) for k, v in query if k not in ("_count", "_offset")]
        with self._lock:
            matches = [copy.deepcopy(r) for r in self.index.search(resource_type, criteria)]
        page = matches[offset:offset + count]
        url = f"{self.base_url}/{resource_type}"
        links = [{"relation": "self", "url": f"{url}?{urlencode(query)}"}]
        if count and offset + count < len(matches):
            links.append({"relation": "next",
                          "url": f"{url}?{urlencode([*criteria, ('_count', count), ('_offset', offset + count)])}"})
        entries = [{"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                    "search": {"mode": "match"}} for r in page]
        for r in self._included(page, includes):
            entries.append({"fullUrl": f"{self.base_url}/{r['resourceType']}/{r['id']}", "resource": r,
                            "search": {"mode": "include"}})
        return {"resourceType": "Bundle", "id": uuid.uuid4().hex, "type": "searchset", "total": len(matches),
                "link": links, "entry": entries}

    def _included(self, page: list[dict[str, Any]], includes: list[str]) -> list[dict[str, Any]]:
        """What ``_include`` adds to a page (the targets of :data:`INCLUDES`), each once."""
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for include in includes:
                if include not in INCLUDES:
                    continue
                field, wanted = INCLUDES[include]
                for resource in page:
                    if resource["resourceType"] != include.partition(":")[0]:
                        continue
                    for _, reference in iter_references(resource.get(field)):
                        target = self.index.resolve(reference, wanted)
                        if target and (wanted is None or target.startswith(f"{wanted}/")) and target not in found:
                            kind, _, rid = target.partition("/")
                            found[target] = copy.deepcopy(self.index.get(kind, rid))
        return list(found.values())


def _handler_for(sandbox: FhirSandbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "claimbridge-fhir-sandbox"

        def setup(self) -> None:
            super().setup()
            # headers and body go out in separate writes: without this, Nagle + delayed ACK add 40 ms a request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", FHIR_JSON)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _route(self) -> tuple[list[str], list[tuple[str, str]]] | None:
            parts = urlsplit(self.path)
            sandbox.requests.append(f"{self.command} {self.path}")
            if not parts.path.startswith(BASE_PATH):
                self._send(404, _outcome("not-found", f"the FHIR base is {BASE_PATH}"))
                return None
            segments = [s for s in parts.path[len(BASE_PATH):].split("/") if s]
            return segments, parse_qsl(parts.query, keep_blank_values=True)

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                body = None
            if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
                self._send(400, _outcome("invalid", "the body is not a FHIR resource"))
                return None
            return body

        def do_GET(self) -> None:
            routed = self._route()
            if routed is None:
                return
            segments, query = routed
            if segments == ["metadata"]:
                self._send(200, {"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                                 "fhirVersion": "4.0.1", "format": ["json"],
                                 "date": datetime.now(UTC).date().isoformat()})
            elif len(segments) == 1:
                try:
                    self._send(200, sandbox.search(segments[0], query))
                except ValueError:
                    self._send(400, _outcome("invalid", "_count and _offset must be integers"))
            elif len(segments) == 2:
                found = sandbox.get(*segments)
                if found:
                    self._send(200, found, {"ETag": f'W/"{found["meta"]["versionId"]}"'})
                else:
                    self._send(404, _outcome("not-found", f"{segments[0]}/{segments[1]} is not known"))
            else:
                self._send(404, _outcome("not-supported", "unsupported interaction"))

        def do_PUT(self) -> None:
            routed = self._route()
            if routed is None:
                return
            segments, _ = routed
            body = self._body()
            if body is None:
                return
            if len(segments) != 2 or body["resourceType"] != segments[0] or body.get("id") != segments[1] \
                    or not FHIR_ID.match(segments[1]):
                self._send(400, _outcome("invalid", "PUT Type/id with a body of that type and id"))
                return
            stored, created = sandbox.put(body)
            self._send(HTTPStatus.CREATED if created else HTTPStatus.OK, stored,
                       {"ETag": f'W/"{stored["meta"]["versionId"]}"'})

        def do_POST(self) -> None:
            routed = self._route()
            if routed is None:
                return
            segments, _ = routed
            body = self._body()
            if body is None:
                return
            if len(segments) != 1 or body["resourceType"] != segments[0]:
                self._send(400, _outcome("invalid", "POST Type with a body of that type"))
                return
            body["id"] = uuid.uuid4().hex
            stored, _ = sandbox.put(body)
            self._send(HTTPStatus.CREATED, stored,
                       {"Location": f"{sandbox.base_url}/{segments[0]}/{body['id']}/_history/1"})

    return Handler
