"""User and API-token management under ``/api/v1/users`` and ``/api/v1/tokens`` (admins), and changing one's own
password (anyone, with the current password).

Every change writes an audit entry naming the user (and a token by its prefix), never a password or a token.
The last active admin cannot be disabled or lose the admin role (409): someone must be able to manage users.
The functions below raise :class:`ApiError`; the pages (:mod:`claimbridge.web.ui_users`) call them too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from claimbridge.store.models import ApiToken, User, utcnow
from claimbridge.web import audit, principal, runtime
from claimbridge.web.api import ApiError, _body, _json, _path, _required_text, operation
from claimbridge.web.auth import (
    ROLES,
    AuthError,
    add_user,
    check_password_strength,
    create_token,
    list_users,
    revoke_token,
    set_password,
)

_TIME = {"type": "string", "format": "date-time"}
_MAYBE_TIME = {"type": "string", "format": "date-time", "nullable": True}
USER_ROW = {"type": "object", "properties": {
    "username": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)}, "created_at": _TIME,
    "last_login_at": _MAYBE_TIME, "disabled": {"type": "boolean"}}}
TOKEN_ROW = {"type": "object", "properties": {
    "username": {"type": "string"}, "name": {"type": "string"}, "prefix": {"type": "string"}, "created_at": _TIME,
    "last_used_at": _MAYBE_TIME, "revoked_at": _MAYBE_TIME}}
_USERNAME = _path("username", "the user's name")
_DONE = {"type": "object", "properties": {"username": {"type": "string"}, "role": {"type": "string"},
                                          "disabled": {"type": "boolean"}}}


# -- what the API and the pages do -----------------------------------------------------------------------------


def _clean(text: str, key: str) -> str:
    if "\x00" in text:
        raise ApiError(400, "bad_request", f"{key} holds a NUL character")
    return text


def _user(session, username: str) -> User:
    _clean(username, "username")
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise ApiError(404, "not_found", f"no user {username!r}")
    return user


def _last_active_admin(session, user: User) -> bool:
    if user.role != "admin" or user.disabled_at is not None:
        return False
    admins = session.execute(select(func.count(User.id)).where(User.role == "admin",
                                                                User.disabled_at.is_(None))).scalar_one()
    return admins <= 1


def _strong(password: Any, key: str = "password") -> str:
    if not isinstance(password, str) or not password:
        raise ApiError(400, "bad_request", f"{key} is required (a non-empty string)")
    try:
        check_password_strength(password)
    except AuthError as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    return password


def users() -> list[dict[str, Any]]:
    return list_users(runtime().store)


def tokens() -> list[dict[str, Any]]:
    """Every token with its user — prefix, name and times; never the hash."""
    with runtime().store.transaction() as session:
        rows = session.execute(select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                               .order_by(ApiToken.id.desc())).all()
        return [{"username": username, "name": t.name, "prefix": t.prefix, "created_at": t.created_at.isoformat(),
                 "last_used_at": t.last_used_at.isoformat() if t.last_used_at else None,
                 "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None} for t, username in rows]


def new_user(username: str, role: str, password: str) -> dict[str, Any]:
    store = runtime().store
    _clean(username, "username")
    if role not in ROLES:
        raise ApiError(400, "bad_request", f"role must be one of {', '.join(ROLES)}")
    _strong(password)
    try:
        add_user(store, username, password, role)
    except AuthError as exc:
        raise ApiError(409 if "already exists" in str(exc) else 400,
                       "conflict" if "already exists" in str(exc) else "bad_request", str(exc)) from None
    username = username.strip()
    with store.transaction() as session:
        audit(session, "user_add", f"{username} as {role}")
    return {"username": username, "role": role, "disabled": False}


def change_role(username: str, role: str) -> dict[str, Any]:
    if role not in ROLES:
        raise ApiError(400, "bad_request", f"role must be one of {', '.join(ROLES)}")
    with runtime().store.transaction() as session:
        user = _user(session, username)
        if role != "admin" and _last_active_admin(session, user):
            raise ApiError(409, "conflict", f"{username} is the last active admin; make another user admin first")
        if user.role != role:
            audit(session, "user_role", f"{username}: {user.role} -> {role}")
            user.role = role
        return {"username": user.username, "role": user.role, "disabled": user.disabled_at is not None}


def disable(username: str) -> dict[str, Any]:
    with runtime().store.transaction() as session:
        user = _user(session, username)
        if _last_active_admin(session, user):
            raise ApiError(409, "conflict", f"{username} is the last active admin and cannot be disabled; make "
                                            "another user admin first")
        if user.disabled_at is None:
            user.disabled_at = utcnow()
            audit(session, "user_disable", username)
        return {"username": user.username, "role": user.role, "disabled": True}


def change_password(username: str, password: Any, current: Any = None) -> dict[str, Any]:
    """An admin sets anyone else's password; a user (admins too) changes their own with the current one."""
    who = principal()
    own = who.username == username
    if not own and not who.can("admin"):
        raise ApiError(403, "forbidden", "only an admin can set another user's password")
    _strong(password)
    store = runtime().store
    with store.transaction() as session:
        user = _user(session, username)
        if own and not (isinstance(current, str) and check_password_hash(user.password_hash, current)):
            raise ApiError(403, "forbidden", "the current password is wrong (send it as current)")
    set_password(store, username, password)
    with store.transaction() as session:
        audit(session, "user_password", f"{username} (own)" if own else f"{username} (reset by admin)")
    return {"username": username}


def new_token(username: str, name: str) -> dict[str, Any]:
    store = runtime().store
    with store.transaction() as session:
        _user(session, username)
    try:
        token = create_token(store, username, name)
    except AuthError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    prefix = token[:12]
    with store.transaction() as session:
        audit(session, "token_create", f"{prefix}… for {username} ({name.strip() or 'token'})")
    return {"username": username, "name": name.strip() or "token", "prefix": prefix, "token": token}


def revoke(prefix: str) -> dict[str, Any]:
    store = runtime().store
    count = revoke_token(store, _clean(prefix, "prefix"))
    if not count:
        raise ApiError(404, "not_found", f"no active token starting {prefix!r}")
    with store.transaction() as session:
        audit(session, "token_revoke", f"{prefix}… ({count} token{'s' if count > 1 else ''})")
    return {"prefix": prefix, "revoked": count}


# -- the operations ----------------------------------------------------------------------------------------------


@operation("GET", "/users", "Users with role, last login and whether disabled", role="admin",
           response={"type": "object", "properties": {"items": {"type": "array", "items": USER_ROW}}})
def users_list():
    return _json({"items": users()})


@operation("POST", "/users", "Add a user (the password needs 12+ characters)", role="admin",
           body={"type": "object", "required": ["username", "role", "password"],
                 "properties": {"username": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
                                "password": {"type": "string", "minLength": 12}}}, response=_DONE)
def user_add():
    data = _body()
    username = _clean(_required_text(data, "username"), "username")
    return _json(new_user(username, _required_text(data, "role"), data.get("password")))


@operation("POST", "/users/{username}/role", "Change a user's role (not the last active admin's)", role="admin",
           parameters=[_USERNAME], body={"type": "object", "required": ["role"],
                                         "properties": {"role": {"type": "string", "enum": list(ROLES)}}},
           response=_DONE)
def user_role(username: str):
    return _json(change_role(username, _required_text(_body(), "role")))


@operation("POST", "/users/{username}/disable", "Disable a user: their sessions and tokens stop working at once "
                                                "(not the last active admin)", role="admin",
           parameters=[_USERNAME], response=_DONE)
def user_disable(username: str):
    return _json(disable(username))


@operation("POST", "/users/{username}/password", "Set a password: admins for anyone else, anyone for themself "
                                                 "with the current password", parameters=[_USERNAME],
           body={"type": "object", "required": ["password"],
                 "properties": {"password": {"type": "string", "minLength": 12},
                                "current": {"type": "string", "description": "needed to change your own"}}},
           response={"type": "object", "properties": {"username": {"type": "string"}}})
def user_password(username: str):
    data = _body()
    return _json(change_password(username, data.get("password"), data.get("current")))


@operation("GET", "/tokens", "Every API token: user, name, prefix, created, last used, revoked", role="admin",
           response={"type": "object", "properties": {"items": {"type": "array", "items": TOKEN_ROW}}})
def tokens_list():
    return _json({"items": tokens()})


@operation("POST", "/tokens", "Create an API token for a user; the token is in this answer only", role="admin",
           body={"type": "object", "required": ["username"],
                 "properties": {"username": {"type": "string"}, "name": {"type": "string"}}},
           response={"type": "object", "properties": {
               "username": {"type": "string"}, "name": {"type": "string"}, "prefix": {"type": "string"},
               "token": {"type": "string"}}})
def token_create():
    data = _body()
    name = data.get("name", "")
    if not isinstance(name, str) or len(name) > 100:
        raise ApiError(400, "bad_request", "name must be a string of at most 100 characters")
    return _json(new_token(_required_text(data, "username"), _clean(name, "name")))


@operation("POST", "/tokens/{prefix}/revoke", "Revoke the API tokens starting with this prefix", role="admin",
           parameters=[_path("prefix", "the token's prefix as the token list shows it (cbt_ and 8 characters)")],
           response={"type": "object", "properties": {"prefix": {"type": "string"}, "revoked": {"type": "integer"}}})
def token_revoke(prefix: str):
    return _json(revoke(prefix))
