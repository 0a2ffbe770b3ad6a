"""Signing in, sessions, tokens, CSRF, roles and the security headers."""

from __future__ import annotations

import pytest
import sqlalchemy
from sqlalchemy import select

from claimbridge.store.models import AuditEntry
from claimbridge.web.auth import AuthError, add_user, disable_user, revoke_token
from tests.web.conftest import PASSWORD, csrf_of, login


def test_without_credentials_the_api_answers_401_and_pages_send_to_the_login(client):
    for path in ("/api/v1/claims", "/api/v1/me", "/api/v1/openapi.json", "/api/v1/nope"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json["error"]["status"] == 401 and response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    page = client.get("/claims")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/claims")
    assert client.get("/healthz").json == {"ok": True}


def test_sign_in_sets_a_strict_cookie_and_a_wrong_password_says_nothing_more(client):
    wrong = login(client, "biller", "not the password at all")
    assert wrong.status_code == 401 and b"Wrong username or password." in wrong.data
    unknown = login(client, "nobody")
    assert unknown.status_code == 401 and b"Wrong username or password." in unknown.data
    done = login(client, "biller")
    assert done.status_code == 302 and done.headers["Location"] == "/"
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/v1/me").json == {"username": "biller", "role": "biller", "via": "session"}


def test_the_login_form_needs_its_token_and_never_sends_elsewhere(client):
    assert client.post("/login", data={"username": "biller", "password": PASSWORD}).status_code == 400
    page = client.get("/login?next=//evil.example/x")
    token = page.data.split(b'name="csrf_token" value="')[1].split(b'"')[0].decode()
    done = client.post("/login?next=//evil.example/x",
                       data={"username": "biller", "password": PASSWORD, "csrf_token": token})
    assert done.headers["Location"] == "/"


def test_cookie_requests_that_change_something_need_the_csrf_token(as_role):
    client = as_role("biller")
    no_token = client.post("/api/v1/quarantine/1/resolve")
    assert no_token.status_code == 403 and no_token.json["error"]["code"] == "csrf"
    with_token = client.post("/api/v1/quarantine/999/resolve", headers={"X-CSRF-Token": csrf_of(client)})
    assert with_token.status_code == 404  # past the CSRF check: the record does not exist


def test_roles_decide_what_may_be_done(as_role, token_for, client):
    viewer = as_role("viewer")
    denied = viewer.post("/api/v1/claims/XX/overrides", json={"rule": "r", "reason": "x"},
                         headers={"X-CSRF-Token": csrf_of(viewer)})
    assert denied.status_code == 403 and "needs the biller role; you are viewer" in denied.json["error"]["message"]
    assert viewer.get("/api/v1/audit").status_code == 403
    assert client.get("/api/v1/audit", headers=token_for("biller")).status_code == 403
    assert client.get("/api/v1/audit", headers=token_for("admin")).status_code == 200


def test_tokens_act_as_their_user_until_revoked_or_the_user_is_disabled(client, world, token_for):
    headers = token_for("viewer")
    assert client.get("/api/v1/me", headers=headers).json == {"username": "viewer", "role": "viewer", "via": "token"}
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer cbt_forged"}).status_code == 401
    revoke_token(world.store, headers["Authorization"][7:19])
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    other = token_for("biller")
    disable_user(world.store, "biller")
    assert client.get("/api/v1/me", headers=other).status_code == 401


def test_a_disabled_user_loses_the_session_at_once(as_role, world):
    client = as_role("biller")
    assert client.get("/api/v1/me").status_code == 200
    disable_user(world.store, "biller")
    assert client.get("/api/v1/me").status_code == 401


def test_weak_passwords_and_unknown_roles_are_refused(world):
    with pytest.raises(AuthError, match="at least 12 characters"):
        add_user(world.store, "short", "tooshort", "viewer")
    with pytest.raises(AuthError, match="role must be one of viewer, biller, admin"):
        add_user(world.store, "odd", PASSWORD, "owner")
    with pytest.raises(AuthError, match="already exists"):
        add_user(world.store, "viewer", PASSWORD, "viewer")


def test_security_headers_are_on_every_response(client, as_role):
    for response in (client.get("/login"), client.get("/api/v1/claims"), as_role("viewer").get("/")):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"


def test_viewing_a_claim_is_audited_and_the_audit_log_is_append_only(as_role, world):
    pcn = world.pcn_of("enc-002")
    viewer = as_role("viewer")
    assert viewer.get(f"/api/v1/claims/{pcn}").status_code == 200
    assert viewer.get(f"/claims/{pcn}").status_code == 200
    with world.store.transaction() as session:
        rows = session.execute(select(AuditEntry).where(AuditEntry.action == "view_claim")).scalars().all()
    assert [(r.actor, r.detail) for r in rows] == [("web:viewer", f"{pcn} (api)"), ("web:viewer", f"{pcn} (ui)")]
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="append-only"), \
                world.store.transaction() as session:
            session.execute(sqlalchemy.text(statement))


def test_the_demo_login_is_new_on_every_run(client, world):
    from claimbridge.demo import demo_login

    first = demo_login(world.config_path)
    second = demo_login(world.config_path)
    assert first["username"] == second["username"] == "demo" and first["password"] != second["password"]
    assert first["url"] == "http://127.0.0.1:8123/"
    assert login(client, "demo", first["password"]).status_code == 401
    assert login(client, "demo", second["password"]).status_code == 302
    assert client.get("/api/v1/me").json["role"] == "admin"
