"""User and API-token management: the /users and /tokens operations (admins), changing one's own password,
the last-admin guard, the audit trail (never a password or a token), and the /users and /account pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from claimbridge.store.models import AuditEntry
from tests.web.conftest import PASSWORD, login

NEW_PASSWORD = "a much longer passphrase"


def _audit(world) -> list[tuple[str, str, str]]:
    with world.store.transaction() as session:
        return [(a.actor, a.action, a.detail) for a in session.execute(select(AuditEntry)
                                                                       .order_by(AuditEntry.id)).scalars()]


def _csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def test_admins_list_add_change_role_reset_and_disable_users(client, token_for, world, app):
    admin = token_for("admin")
    listed = client.get("/api/v1/users", headers=admin).json["items"]
    assert {(u["username"], u["role"], u["disabled"]) for u in listed} == {
        ("admin", "admin", False), ("biller", "biller", False), ("viewer", "viewer", False)}
    assert client.post("/api/v1/users", headers=admin,
                       json={"username": "dana", "role": "viewer", "password": PASSWORD}).json == {
        "username": "dana", "role": "viewer", "disabled": False}
    assert client.post("/api/v1/users", headers=admin,
                       json={"username": "dana", "role": "viewer", "password": PASSWORD}).status_code == 409
    weak = client.post("/api/v1/users", headers=admin, json={"username": "erin", "role": "viewer", "password": "short"})
    assert weak.status_code == 400 and "12 characters" in weak.json["error"]["message"]
    assert client.post("/api/v1/users", headers=admin,
                       json={"username": "erin", "role": "boss", "password": PASSWORD}).status_code == 400

    # the new user signs in
    assert login(app.test_client(), "dana").status_code == 302
    assert client.post("/api/v1/users/dana/role", headers=admin, json={"role": "biller"}).json["role"] == "biller"
    assert client.post("/api/v1/users/nobody/role", headers=admin, json={"role": "biller"}).status_code == 404
    assert client.post("/api/v1/users/dana/password", headers=admin, json={"password": NEW_PASSWORD}).status_code == 200
    assert login(app.test_client(), "dana").status_code != 302
    assert login(app.test_client(), "dana", NEW_PASSWORD).status_code == 302

    signed_in = app.test_client()
    login(signed_in, "dana", NEW_PASSWORD)
    assert signed_in.get("/held").status_code == 200
    assert client.post("/api/v1/users/dana/disable", headers=admin).json["disabled"] is True
    assert signed_in.get("/held").status_code == 302  # the session ended at once
    assert login(app.test_client(), "dana", NEW_PASSWORD).status_code != 302
    dana = next(u for u in client.get("/api/v1/users", headers=admin).json["items"] if u["username"] == "dana")
    assert dana["disabled"] and dana["role"] == "biller" and dana["last_login_at"]

    entries = _audit(world)
    assert [(actor, action) for actor, action, _ in entries] == [
        ("web:admin", "user_add"), ("web:admin", "user_role"), ("web:admin", "user_password"),
        ("web:admin", "user_disable")]
    assert entries[0][2] == "dana as viewer" and entries[1][2] == "dana: viewer -> biller"
    text = repr(entries)
    assert PASSWORD not in text and NEW_PASSWORD not in text


@pytest.mark.parametrize("role", ["biller", "viewer"])
def test_billers_and_viewers_cannot_manage_users_or_tokens(client, token_for, world, role):
    headers = token_for(role)
    for method, path, body in (("GET", "/users", None), ("GET", "/tokens", None),
                               ("POST", "/users", {"username": "x", "role": "admin", "password": PASSWORD}),
                               ("POST", "/users/viewer/role", {"role": "admin"}),
                               ("POST", "/users/admin/disable", None),
                               ("POST", "/users/admin/password", {"password": NEW_PASSWORD}),
                               ("POST", "/tokens", {"username": role, "name": "mine"}),
                               ("POST", "/tokens/cbt_abcdefgh/revoke", None)):
        response = client.open("/api/v1" + path, method=method, headers=headers, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json["error"]["code"] == "forbidden"
    assert _audit(world) == []


def test_a_user_changes_their_own_password_with_the_current_one(client, token_for, world, app):
    headers = token_for("viewer")
    wrong = client.post("/api/v1/users/viewer/password", headers=headers,
                        json={"current": "not my password", "password": NEW_PASSWORD})
    assert wrong.status_code == 403 and "current password" in wrong.json["error"]["message"]
    assert client.post("/api/v1/users/viewer/password", headers=headers,
                       json={"password": NEW_PASSWORD}).status_code == 403
    assert client.post("/api/v1/users/viewer/password", headers=headers,
                       json={"current": PASSWORD, "password": "short"}).status_code == 400
    assert client.post("/api/v1/users/viewer/password", headers=headers,
                       json={"current": PASSWORD, "password": NEW_PASSWORD}).json == {"username": "viewer"}
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 302
    assert _audit(world) == [("web:viewer", "user_password", "viewer (own)")]
    # an admin changing their own needs the current one too
    assert client.post("/api/v1/users/admin/password", headers=token_for("admin"),
                       json={"password": NEW_PASSWORD}).status_code == 403


def test_the_last_active_admin_cannot_be_disabled_or_demoted(client, token_for, world):
    admin = token_for("admin")
    for path, body in (("/users/admin/disable", None), ("/users/admin/role", {"role": "biller"})):
        response = client.post("/api/v1" + path, headers=admin, json=body)
        assert response.status_code == 409
        assert "last active admin" in response.json["error"]["message"]
    assert client.post("/api/v1/users/admin/role", headers=admin, json={"role": "admin"}).status_code == 200
    # with a second admin, the first may step down (and the second is then the last)
    assert client.post("/api/v1/users/biller/role", headers=admin, json={"role": "admin"}).status_code == 200
    assert client.post("/api/v1/users/admin/role", headers=admin, json={"role": "viewer"}).status_code == 200
    other = token_for("biller")
    assert client.post("/api/v1/users/biller/disable", headers=other).status_code == 409
    assert client.post("/api/v1/users/admin/role", headers=other, json={"role": "admin"}).status_code == 200
    assert client.post("/api/v1/users/biller/disable", headers=other).json["disabled"] is True
    assert [a for _, a, _ in _audit(world)] == ["user_role", "user_role", "user_role", "user_disable"]


def test_a_created_token_works_is_listed_without_its_hash_and_is_revoked(client, token_for, world):
    admin = token_for("admin")
    made = client.post("/api/v1/tokens", headers=admin, json={"username": "biller", "name": "export job"}).json
    token, prefix = made["token"], made["prefix"]
    assert token.startswith("cbt_") and token.startswith(prefix) and made["name"] == "export job"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json
    assert me == {"username": "biller", "role": "biller", "via": "token"}

    listed = client.get("/api/v1/tokens", headers=admin).json["items"]
    mine = next(t for t in listed if t["prefix"] == prefix)
    assert mine["username"] == "biller" and mine["name"] == "export job" and mine["last_used_at"]
    assert mine["revoked_at"] is None and mine["created_at"]
    assert all(set(t) == {"username", "name", "prefix", "created_at", "last_used_at", "revoked_at"} for t in listed)

    assert client.post(f"/api/v1/tokens/{prefix}/revoke", headers=admin).json == {"prefix": prefix, "revoked": 1}
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.post(f"/api/v1/tokens/{prefix}/revoke", headers=admin).status_code == 404
    revoked = next(t for t in client.get("/api/v1/tokens", headers=admin).json["items"] if t["prefix"] == prefix)
    assert revoked["revoked_at"]
    assert client.post("/api/v1/tokens", headers=admin, json={"username": "nobody"}).status_code == 404

    entries = _audit(world)
    assert [a for _, a, _ in entries] == ["token_create", "token_revoke"]
    assert prefix in entries[0][2] and "biller" in entries[0][2] and token not in repr(entries)


def test_the_operations_are_in_the_openapi_document(client, token_for):
    paths = client.get("/api/v1/openapi.json", headers=token_for("viewer")).json["paths"]
    assert set(paths["/users"]) == {"get", "post"} and set(paths["/tokens"]) == {"get", "post"}
    for path in ("/users/{username}/role", "/users/{username}/disable", "/users/{username}/password",
                 "/tokens/{prefix}/revoke"):
        assert "post" in paths[path]
    assert paths["/users/{username}/password"]["post"]["description"] == "Needs the viewer role."


# -- pages ---------------------------------------------------------------------------------------------------


def test_the_users_page_is_for_admins_and_the_nav_links_by_role(as_role):
    admin = as_role("admin")
    page = admin.get("/users").get_data(as_text=True)
    assert 'id="users"' in page and 'id="tokens"' in page and 'id="add-user"' in page and 'id="create-token"' in page
    assert 'href="/users"' in page and 'href="/account"' in page
    for role in ("biller", "viewer"):
        client = as_role(role)
        assert client.get("/users").status_code == 403
        held = client.get("/held").get_data(as_text=True)
        assert 'href="/users"' not in held and 'href="/account"' in held
        assert client.post("/users", data={"username": "x", "role": "admin", "password": PASSWORD,
                                           "csrf_token": _csrf(held.encode())}).status_code == 403


def test_an_admin_manages_users_from_the_page(as_role, app, world):
    admin = as_role("admin")
    token = _csrf(admin.get("/users").data)
    stale = admin.post("/users", data={"username": "dana", "role": "viewer", "password": PASSWORD})
    assert stale.status_code == 403  # no CSRF token
    added = admin.post("/users", data={"username": "dana", "role": "viewer", "password": PASSWORD,
                                       "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "User dana added as viewer." in added and 'id="user-dana"' in added
    assert login(app.test_client(), "dana").status_code == 302
    page = admin.post("/users/dana/role", data={"role": "biller", "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "dana is now biller." in page
    page = admin.post("/users/dana/password", data={"password": NEW_PASSWORD, "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "The password of dana is set." in page
    assert login(app.test_client(), "dana", NEW_PASSWORD).status_code == 302
    page = admin.post("/users/dana/disable", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "dana is disabled" in page
    assert login(app.test_client(), "dana", NEW_PASSWORD).status_code != 302
    page = admin.post("/users/admin/disable", data={"csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "last active admin" in page
    weak = admin.post("/users", data={"username": "erin", "role": "viewer", "password": "short", "csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert "at least 12 characters" in weak
    assert [a for _, a, _ in _audit(world)] == ["user_add", "user_role", "user_password", "user_disable"]


def test_an_admin_creates_a_token_once_and_revokes_it_from_the_page(as_role, client, world):
    admin = as_role("admin")
    token = _csrf(admin.get("/users").data)
    page = admin.post("/tokens", data={"username": "viewer", "name": "report job", "csrf_token": token})
    assert page.status_code == 200
    shown = re.search(r"<code>(cbt_[^<]+)</code>", page.get_data(as_text=True)).group(1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {shown}"}).json["username"] == "viewer"
    again = admin.get("/users").get_data(as_text=True)
    assert shown not in again and shown[:12] in again  # listed by its prefix, never shown again
    page = admin.post(f"/tokens/{shown[:12]}/revoke", data={"csrf_token": token},
                      follow_redirects=True).get_data(as_text=True)
    assert f"Token {shown[:12]}… revoked." in page
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {shown}"}).status_code == 401
    assert shown not in repr(_audit(world))


def test_anyone_changes_their_own_password_on_the_account_page(as_role, app, world):
    viewer = as_role("viewer")
    page = viewer.get("/account")
    assert page.status_code == 200 and 'id="change-password"' in page.get_data(as_text=True)
    token = _csrf(page.data)
    assert viewer.post("/account", data={"current": PASSWORD, "password": NEW_PASSWORD,
                                         "confirm": NEW_PASSWORD}).status_code == 403  # no CSRF token
    wrong = viewer.post("/account", data={"current": "nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                          "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "current password is wrong" in wrong
    differ = viewer.post("/account", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": "other",
                                           "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "differ" in differ
    done = viewer.post("/account", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                         "csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Your password is changed." in done
    assert login(app.test_client(), "viewer", NEW_PASSWORD).status_code == 302
    assert login(app.test_client(), "viewer").status_code != 302
    assert _audit(world) == [("web:viewer", "user_password", "viewer (own)")]
