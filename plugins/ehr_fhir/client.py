"""The HTTP side of the FHIR source: one requests.Session, retries with backoff, errors mapped to claimbridge's.

Nothing here logs a resource body or a query value (search values can carry identifiers): URLs are logged as
their path plus the names of the query parameters.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from claimbridge import AuthError, ConfigError, SourceError, TransientSourceError, __version__
from claimbridge.claims.money import claim_to_json

from .auth import SmartBackendTokens, TokenAuth, bearer_auth
from .settings import BearerAuth, FhirSourceSettings, SmartBackendAuth

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
#: query parameters: a mapping, or (name, value) pairs when a name repeats (``_lastUpdated=gt…&_lastUpdated=le…``)
Params = Mapping[str, Any] | Sequence[tuple[str, str]] | None
RETRY_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600)) - {501}
#: answers to a conditional update from a server that does not do them
CONDITIONAL_UNSUPPORTED = (405, 501)
_SEARCH_SPECIALS = str.maketrans({"\\": "\\\\", "|": "\\|", ",": "\\,", "$": "\\$"})


def search_escape(value: str) -> str:
    """``value`` with FHIR search's special characters (``\\ | , $``) escaped, for a token parameter."""
    return value.translate(_SEARCH_SPECIALS)


def redact(url: str, params: Params = None) -> str:
    """``scheme://host/path?name=…&other=…``: the URL without query values."""
    parts = urlsplit(url)
    given = params.items() if isinstance(params, Mapping) else (params or ())
    names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)] + [k for k, _ in given]
    query = "&".join(f"{name}=…" for name in dict.fromkeys(names))
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else "")


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a ``Retry-After`` header asks for (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class FhirClient:
    """GETs and PUTs FHIR JSON with the source's retry, timeout, TLS and auth settings."""

    def __init__(self, source: str, settings: FhirSourceSettings, *,
                 sleep: Callable[[float], None] = time.sleep):
        self.source = source
        self.settings = settings
        self.base_url = settings.base_url
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers.update({"Accept": FHIR_JSON, "User-Agent": f"claimbridge/{__version__}"})
        if settings.ca_bundle and not settings.ca_bundle.is_file():
            raise ConfigError([f"settings.ca_bundle: {settings.ca_bundle} is not a file; give a PEM bundle of CAs"],
                              source=f"source {source}")
        # passed with each request: a session-level verify loses to REQUESTS_CA_BUNDLE in the environment
        self._verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else settings.verify_tls
        #: False once the server answered a conditional update with 405/501 (see :meth:`upsert`)
        self.conditional_update = True
        self.tokens: SmartBackendTokens | None = None
        self.auth: TokenAuth | None = None
        if isinstance(settings.auth, BearerAuth):
            self.auth = bearer_auth(settings.auth)
        elif isinstance(settings.auth, SmartBackendAuth):
            self.tokens = SmartBackendTokens(source, settings.auth, self._post_form)
            self.auth = TokenAuth(self.tokens.token, self.tokens.invalidate)

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    # -- the FHIR interactions ------------------------------------------------------------------------------

    def get_json(self, path: str, params: Params = None, *,
                 tolerate: tuple[int, ...] = ()) -> dict[str, Any] | None:
        """GET FHIR JSON; None for a status in ``tolerate``. Other 4xx raise SourceError."""
        url = self.url(path)
        response = self._request("GET", url, params=params)
        if response.status_code in tolerate:
            return None
        if response.status_code >= 400:
            raise SourceError(f"source {self.source}: {redact(url, params)} answered HTTP "
                              f"{response.status_code} ({response.headers.get('Content-Type') or 'no Content-Type'})"
                              f"{_outcome_text(response)}")
        return self._json(response, url, params)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self.get_json(f"{resource_type}/{resource_id}", tolerate=(404, 410))

    def search(self, path: str, params: Params = None) -> dict[str, Any]:
        """One page of a search: a ``Bundle`` of type ``searchset``, or SourceError naming the URL."""
        url = self.url(path)
        bundle = self.get_json(url, params)
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            kind = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
            raise SourceError(f"source {self.source}: {redact(url, params)} answered a {kind}, not a Bundle; "
                              f"check base_url points at the FHIR base")
        return bundle

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        """PUT ``resource`` to ``Type/id``; what the server stored (see :meth:`_stored`)."""
        url = self.url(f"{resource['resourceType']}/{resource['id']}")
        return self._stored(self._request("PUT", url, json_body=resource), "PUT", url, None, resource)

    def post(self, resource: dict[str, Any], *, if_none_exist: str | None = None) -> dict[str, Any]:
        """POST (create) ``resource``; with ``if_none_exist`` (a search query such as ``identifier=s|v``) the
        server creates it only when nothing matches (conditional create)."""
        url = self.url(resource["resourceType"])
        headers = {"If-None-Exist": if_none_exist} if if_none_exist else None
        return self._stored(self._request("POST", url, json_body=resource, headers=headers), "POST", url, None,
                            resource)

    def upsert(self, resource: dict[str, Any], *, system: str, value: str) -> dict[str, Any]:
        """Create or update the one resource of ``resource``'s type whose identifier is ``system|value``.

        A conditional update (``PUT Type?identifier=system|value``); a server that answers 405/501 to that is
        asked by search instead, then ``PUT Type/id`` (one match) or a conditional create (none), for the rest
        of this client's life. More than one match is a SourceError: the duplicates must go first.
        Returns what the server stored (with its ``id``).
        """
        resource_type = resource["resourceType"]
        params = [("identifier", f"{search_escape(system)}|{search_escape(value)}")]
        url = self.url(resource_type)
        if self.conditional_update:
            body = {k: v for k, v in resource.items() if k != "id"}
            response = self._request("PUT", url, params=params, json_body=body)
            if response.status_code not in CONDITIONAL_UNSUPPORTED:
                return self._stored(response, "PUT", url, params, resource)
            log.info("source %s: no conditional update (HTTP %d for PUT %s); searching first from now on",
                     self.source, response.status_code, redact(url, params))
            self.conditional_update = False
        bundle = self.search(resource_type, params)
        matches = [e.get("resource") for e in bundle.get("entry") or []
                   if isinstance(e, dict) and isinstance(e.get("resource"), dict)
                   and e["resource"].get("resourceType") == resource_type]
        if len(matches) > 1:
            raise SourceError(f"source {self.source}: {len(matches)} {resource_type} resources carry the identifier "
                              f"{system}|…; delete all but one on the server so write-back can update it")
        if matches:
            return self.put({**resource, "id": matches[0]["id"]})
        return self.post(resource, if_none_exist=urlencode(params))

    def check(self) -> None:
        """Read the CapabilityStatement: reachability, credentials and FHIR-ness in one request."""
        meta = self.get_json("metadata")
        if not isinstance(meta, dict) or meta.get("resourceType") != "CapabilityStatement":
            raise SourceError(f"source {self.source}: {self.base_url}/metadata is not a CapabilityStatement; "
                              f"check base_url")

    # -- transport ------------------------------------------------------------------------------------------

    def _json(self, response: requests.Response, url: str, params: Params) -> Any:
        content_type = response.headers.get("Content-Type", "")
        where = f"source {self.source}: {redact(url, params)}"
        if "html" in content_type.lower():
            raise SourceError(f"{where} answered HTML ({content_type}), not FHIR JSON; check base_url and "
                              f"that no login page or proxy sits in front of the FHIR endpoint")
        try:
            return json.loads(response.content)
        except ValueError:
            raise SourceError(f"{where} answered something that is not JSON "
                              f"({content_type or 'no Content-Type'}); check base_url") from None

    def _stored(self, response: requests.Response, method: str, url: str, params: Params,
                sent: dict[str, Any]) -> dict[str, Any]:
        """The resource a write answered; a server that answers no body gets ``sent`` with the id and version
        from its ``Location`` header. An error status is a SourceError with the server's OperationOutcome."""
        if response.status_code >= 400:
            raise SourceError(f"source {self.source}: {method} {redact(url, params)} answered HTTP "
                              f"{response.status_code}{_outcome_text(response)}")
        if response.content.strip():
            body = self._json(response, url, params)
            if isinstance(body, dict) and body.get("resourceType") == sent["resourceType"]:
                return body
        location = urlsplit(response.headers.get("Location") or response.headers.get("Content-Location") or "")
        parts = location.path.split("/")
        if sent["resourceType"] in parts[:-1]:
            index = parts.index(sent["resourceType"])
            return {**sent, "id": parts[index + 1]}
        raise SourceError(f"source {self.source}: {method} {redact(url, params)} answered HTTP "
                          f"{response.status_code} without the stored {sent['resourceType']} or its Location")

    def _request(self, method: str, url: str, *, params: Params = None, json_body: Any = None,
                 headers: dict[str, str] | None = None) -> requests.Response:
        refreshed = False
        if json_body is not None:
            headers = {**(headers or {}), "Content-Type": FHIR_JSON}
        # claim_to_json: the results hold Decimals, written with exactly their digits
        data = claim_to_json(json_body).encode("utf-8") if json_body is not None else None
        while True:
            response = self._send(method, url, params=params, data=data, headers=headers, auth=self.auth)
            if response.status_code == 401 and self.auth and self.auth.refreshable and not refreshed:
                refreshed = True
                self.auth.invalidate()
                log.info("source %s: HTTP 401 from %s; getting a new access token", self.source, redact(url))
                continue
            if response.status_code in (401, 403):
                hint = ("check the access token" if not isinstance(self.settings.auth, SmartBackendAuth)
                        else "check the client's scopes and registration")
                if self.auth is None:
                    hint = "the server wants credentials: configure auth"
                raise AuthError(f"source {self.source}: {redact(url, params)} refused our credentials "
                                f"(HTTP {response.status_code}); {hint}")
            return response

    def _post_form(self, url: str, form: dict[str, str]) -> requests.Response:
        return self._send("POST", url, data=form, auth=None, headers={"Accept": "application/json"})

    def _send(self, method: str, url: str, *, auth: TokenAuth | None, **kwargs: Any) -> requests.Response:
        """Send with retries on 408/429/5xx and network errors; return the first other response."""
        s = self.settings
        shown = redact(url, kwargs.get("params"))
        attempt = 0
        while True:
            try:
                log.debug("source %s: %s %s", self.source, method, shown)
                response = self.session.request(method, url, timeout=s.timeout, auth=auth, verify=self._verify,
                                                **kwargs)
            except requests.exceptions.SSLError as exc:
                raise SourceError(f"source {self.source}: TLS failed for {shown}: {exc.__class__.__name__}; "
                                  f"check ca_bundle / verify_tls") from None
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
                problem, wait = f"{exc.__class__.__name__}", None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                response.close()
            if attempt >= s.max_retries:
                raise TransientSourceError(f"source {self.source}: {method} {shown} failed with {problem} "
                                           f"after {attempt + 1} attempts; try again later")
            if wait is None:
                wait = min(s.backoff * (2 ** attempt), s.backoff_max)
            elif wait > s.backoff_max:
                raise TransientSourceError(f"source {self.source}: {shown} asks to retry after {wait:.0f} s "
                                           f"({problem}), longer than backoff_max; try again later")
            attempt += 1
            log.warning("source %s: %s %s: %s; retry %d/%d in %.1f s", self.source, method, shown, problem,
                        attempt, s.max_retries, wait)
            self._sleep(wait)


def _outcome_text(response: requests.Response) -> str:
    """The diagnostics of an OperationOutcome answer, if any (servers put no PHI there for errors of ours)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ""
    texts = []
    for issue in body.get("issue") or []:
        if isinstance(issue, dict):
            text = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
            if isinstance(text, str):
                texts.append(text[:200])
    return f": {'; '.join(texts)}" if texts else ""
