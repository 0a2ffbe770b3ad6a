"""SMART Backend Services against a local token endpoint that checks the client assertion for real."""

from __future__ import annotations

from urllib.parse import parse_qsl

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from claimbridge import AuthError
from claimbridge.plugins.ehr_fhir.auth import CLIENT_ASSERTION_TYPE
from claimbridge.plugins.ehr_fhir.settings import FhirSourceSettings
from claimbridge.plugins.ehr_fhir.source import FhirSource

from .scripted_server import Reply, ScriptedServer, SeenRequest

CLIENT_ID = "claimbridge-test"
KEY_ID = "test-key-1"


@pytest.fixture(scope="module")
def key_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


class AuthServer:
    """Token endpoint at /token (verifies the RS384 assertion) and a FHIR endpoint at /fhir wanting its token."""

    def __init__(self, public_key, *, expires_in: int = 300):
        self.public_key = public_key
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.assertions: list[dict] = []
        self.valid: set[str] = set()
        self.refuse_client = False
        self.accept_tokens = True
        self.server = ScriptedServer(self.script)

    def script(self, request: SeenRequest) -> Reply:
        if request.path == "/token":
            return self.token(request)
        auth = request.headers.get("authorization", "")
        if not self.accept_tokens or not auth.startswith("Bearer ") or auth[7:] not in self.valid:
            return Reply(401, {"resourceType": "OperationOutcome", "issue": []})
        return Reply(body={"resourceType": "Patient", "id": request.path.rsplit("/", 1)[1]})

    def token(self, request: SeenRequest) -> Reply:
        form = dict(parse_qsl(request.body.decode()))
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert "authorization" not in request.headers
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        assert form["scope"] == "system/Encounter.read system/Patient.read"
        header = jwt.get_unverified_header(form["client_assertion"])
        claims = jwt.decode(form["client_assertion"], self.public_key, algorithms=["RS384"],
                            audience=f"{self.server.url}/token")
        assert header["alg"] == "RS384" and header["kid"] == KEY_ID and header["typ"] == "JWT"
        assert claims["iss"] == claims["sub"] == CLIENT_ID
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert claims["jti"] not in {a["jti"] for a in self.assertions}
        self.assertions.append(claims)
        if self.refuse_client:
            return Reply(401, {"error": "invalid_client"}, content_type="application/json")
        token = f"token-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        return Reply(body={"access_token": token, "token_type": "bearer", "expires_in": self.expires_in,
                           "scope": form["scope"]}, content_type="application/json")

    def __enter__(self):
        self.server.__enter__()
        return self

    def __exit__(self, *exc):
        self.server.__exit__(*exc)
        assert not self.server.errors, self.server.errors


def smart_source(auth: AuthServer, **key) -> FhirSource:
    settings = {"base_url": f"{auth.server.url}/fhir", "max_retries": 0, "auth": {
        "type": "smart_backend", "token_url": f"{auth.server.url}/token", "client_id": CLIENT_ID,
        "key_id": KEY_ID, "scope": "system/Encounter.read system/Patient.read", **key}}
    return FhirSource("epic", settings)


def test_the_token_is_fetched_once_and_reused(key_pair, tmp_path):
    pem, public = key_pair
    key_file = tmp_path / "client.pem"
    key_file.write_text(pem)
    with AuthServer(public) as auth, smart_source(auth, private_key_path=str(key_file)) as source:
        assert source.client.read("Patient", "a")["id"] == "a"
        assert source.client.read("Patient", "b")["id"] == "b"
    assert auth.issued == ["token-1"]
    fhir_calls = [r for r in auth.server.requests if r.path.startswith("/fhir/")]
    assert [r.headers["authorization"] for r in fhir_calls] == ["Bearer token-1"] * 2


def test_a_401_gets_one_new_token_and_the_request_is_repeated(key_pair):
    pem, public = key_pair
    with AuthServer(public) as auth, smart_source(auth, private_key=pem) as source:
        source.client.read("Patient", "a")
        auth.valid.clear()  # the server revoked the token early
        assert source.client.read("Patient", "b")["id"] == "b"
    assert auth.issued == ["token-1", "token-2"]


def test_a_token_that_keeps_failing_is_an_auth_error_after_one_refresh(key_pair):
    pem, public = key_pair
    with AuthServer(public) as auth, smart_source(auth, private_key=pem) as source:
        auth.accept_tokens = False
        with pytest.raises(AuthError, match="HTTP 401"):
            source.client.read("Patient", "a")
    assert len(auth.issued) == 2


def test_a_token_near_expiry_is_renewed_before_use(key_pair):
    pem, public = key_pair
    with AuthServer(public, expires_in=30) as auth, smart_source(auth, private_key=pem) as source:
        source.client.read("Patient", "a")
        source.client.tokens._expires_at = 0  # time passes
        source.client.read("Patient", "b")
    assert auth.issued == ["token-1", "token-2"]
    assert [r.path for r in auth.server.requests].count("/token") == 2


def test_a_refused_client_is_an_auth_error_naming_the_client(key_pair):
    pem, public = key_pair
    with AuthServer(public) as auth, smart_source(auth, private_key=pem) as source:
        auth.refuse_client = True
        with pytest.raises(AuthError) as caught:
            source.client.read("Patient", "a")
    assert CLIENT_ID in str(caught.value) and "invalid_client" in str(caught.value)
    assert "BEGIN PRIVATE KEY" not in str(caught.value)


def test_key_settings(key_pair, tmp_path):
    pem, _ = key_pair
    base = {"base_url": "https://ehr.example/fhir", "auth": {
        "type": "smart_backend", "token_url": "https://ehr.example/token", "client_id": "c", "key_id": "k"}}
    with pytest.raises(ValidationError, match="exactly one"):
        FhirSourceSettings.model_validate(base)
    with pytest.raises(ValidationError, match="exactly one"):
        FhirSourceSettings.model_validate({**base, "auth": {**base["auth"], "private_key": pem,
                                                            "private_key_path": "/x.pem"}})
    settings = FhirSourceSettings.model_validate({**base, "auth": {**base["auth"], "private_key": pem}})
    assert "PRIVATE" not in repr(settings) and "PRIVATE" not in settings.model_dump_json()
    with pytest.raises(AuthError, match="not an unencrypted PEM"):
        FhirSource("x", {**base, "auth": {**base["auth"], "private_key": "not a key"}})
    with pytest.raises(AuthError, match="cannot read private_key_path"):
        FhirSource("x", {**base, "auth": {**base["auth"], "private_key_path": str(tmp_path / "missing.pem")}})
