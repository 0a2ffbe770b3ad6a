"""Credentials for a FHIR server: static bearer tokens and SMART Backend Services (RFC 7523 client assertion)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import requests

from claimbridge import AuthError, SourceError

from .settings import BearerAuth, SmartBackendAuth

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: a client assertion lives at most five minutes (SMART Backend Services)
ASSERTION_LIFETIME = 300
#: renew a token this long before the server says it expires
EXPIRY_MARGIN = 60


class TokenAuth(requests.auth.AuthBase):
    """Adds ``Authorization: Bearer`` from a token getter; ``invalidate()`` forces a new token."""

    def __init__(self, token: Callable[[], str], invalidate: Callable[[], None] | None = None):
        self._token = token
        self._invalidate = invalidate

    @property
    def refreshable(self) -> bool:
        return self._invalidate is not None

    def invalidate(self) -> None:
        if self._invalidate:
            self._invalidate()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        return request


def bearer_auth(settings: BearerAuth) -> TokenAuth:
    return TokenAuth(settings.token.reveal)


class SmartBackendTokens:
    """Gets and caches access tokens from a SMART Backend Services token endpoint.

    ``post`` sends the form (the FHIR client's retrying POST), so timeouts, TLS settings and retries match the
    FHIR requests.
    """

    def __init__(self, source: str, settings: SmartBackendAuth,
                 post: Callable[[str, dict[str, str]], requests.Response]):
        self.source = source
        self.settings = settings
        self._post = post
        self._key = self._load_key()
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.requests_made = 0

    def _load_key(self) -> Any:
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        s = self.settings
        if s.private_key is not None:
            pem = s.private_key.reveal().encode()
            origin = "private_key"
        else:
            try:
                pem = s.private_key_path.read_bytes()
            except OSError as exc:
                raise AuthError(f"source {self.source}: cannot read private_key_path {s.private_key_path}: "
                                f"{exc.strerror}") from None
            origin = f"private_key_path {s.private_key_path}"
        try:
            return load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise AuthError(f"source {self.source}: {origin} is not an unencrypted PEM private key") from None

    def client_assertion(self) -> str:
        now = int(time.time())
        s = self.settings
        claims = {"iss": s.client_id, "sub": s.client_id, "aud": s.token_url, "jti": uuid.uuid4().hex,
                  "iat": now, "exp": now + ASSERTION_LIFETIME}
        return jwt.encode(claims, self._key, algorithm=s.algorithm, headers={"kid": s.key_id, "typ": "JWT"})

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires_at:
                self._fetch()
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        s = self.settings
        form = {"grant_type": "client_credentials", "scope": s.scope,
                "client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": self.client_assertion()}
        response = self._post(s.token_url, form)
        self.requests_made += 1
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (400, 401, 403):
            error = body.get("error") if isinstance(body, dict) else None
            raise AuthError(f"source {self.source}: token endpoint {s.token_url} refused client {s.client_id} "
                            f"(HTTP {response.status_code}{', ' + str(error) if error else ''}); check the "
                            f"client registration, key_id and the registered public key")
        if not response.ok or not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise SourceError(f"source {self.source}: token endpoint {s.token_url} gave no access_token "
                              f"(HTTP {response.status_code}, {response.headers.get('Content-Type', 'no type')})")
        lifetime = body.get("expires_in")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 300.0
        self._token = body["access_token"]
        self._expires_at = time.time() + max(lifetime - EXPIRY_MARGIN, lifetime / 2)
