"""Who is asking: users with roles, password logins (sessions) and API tokens, CSRF for cookie-carried requests.

Roles are ordered: ``viewer`` reads, ``biller`` also works the queues (overrides, denials, releases), ``admin``
also manages connectors and users. Passwords are kept as scrypt hashes (werkzeug); API tokens as sha256 (they are
random, 256 bits: a slow hash adds nothing). A session cookie carries the user id, the login time and a CSRF
token, signed with the app's secret key; every request checks the user still exists and is not disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from claimbridge.store.db import Store
from claimbridge.store.models import ApiToken, User, utcnow

ROLES = ("viewer", "biller", "admin")
TOKEN_PREFIX = "cbt_"
#: a password shorter than this is refused
MIN_PASSWORD = 12
#: the hash of a password nobody has, checked when the user does not exist (same time either way)
_DUMMY_HASH = generate_password_hash("claimbridge-no-such-user-password")


class AuthError(ValueError):
    """A user or token operation that cannot be done (unknown user, weak password …)."""


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request (by session or token)."""

    user_id: int
    username: str
    role: str
    via: str  # "session" | "token"

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(store: Store, username: str, password: str, role: str) -> int:
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise AuthError("a username is 1–100 characters without spaces")
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    check_password_strength(password)
    with store.transaction() as session:
        if session.execute(select(User.id).where(User.username == username)).first():
            raise AuthError(f"user {username!r} already exists")
        user = User(username=username, password_hash=generate_password_hash(password), role=role)
        session.add(user)
        session.flush()
        return user.id


def set_password(store: Store, username: str, password: str) -> None:
    check_password_strength(password)
    with store.transaction() as session:
        user = _user(session, username)
        user.password_hash = generate_password_hash(password)


def set_role(store: Store, username: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"role must be one of {', '.join(ROLES)}")
    with store.transaction() as session:
        _user(session, username).role = role


def disable_user(store: Store, username: str) -> None:
    """Disable a user: their sessions and tokens stop working at once."""
    with store.transaction() as session:
        user = _user(session, username)
        user.disabled_at = user.disabled_at or utcnow()


def list_users(store: Store) -> list[dict[str, Any]]:
    with store.transaction() as session:
        return [{"username": u.username, "role": u.role, "created_at": u.created_at.isoformat(),
                 "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None,
                 "disabled": u.disabled_at is not None}
                for u in session.execute(select(User).order_by(User.username)).scalars()]


def _user(session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise AuthError(f"no user {username!r}")
    return user


def verify_password(store: Store, username: str, password: str) -> Principal | None:
    """The user, when the password is theirs and they are not disabled; records the login."""
    with store.transaction() as session:
        user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(user.password_hash, password) or user.disabled_at is not None:
            return None
        user.last_login_at = utcnow()
        return Principal(user.id, user.username, user.role, "session")


def create_token(store: Store, username: str, name: str) -> str:
    """A new API token for ``username``; the token itself is shown once, only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as session:
        user = _user(session, username)
        if user.disabled_at is not None:
            raise AuthError(f"user {username!r} is disabled")
        session.add(ApiToken(user_id=user.id, name=name.strip() or "token", prefix=token[:12],
                             token_sha256=hash_token(token)))
    return token


def revoke_token(store: Store, prefix: str) -> int:
    with store.transaction() as session:
        tokens = session.execute(select(ApiToken).where(ApiToken.prefix == prefix,
                                                        ApiToken.revoked_at.is_(None))).scalars().all()
        for token in tokens:
            token.revoked_at = utcnow()
        return len(tokens)


def principal_for_token(store: Store, token: str) -> Principal | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(token)
    with store.transaction() as session:
        row = session.execute(select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                              .where(ApiToken.token_sha256 == digest)).first()
        if row is None:
            return None
        found, user = row
        if found.revoked_at is not None or user.disabled_at is not None:
            return None
        if not hmac.compare_digest(found.token_sha256, digest):
            return None
        now = utcnow()
        if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=1):
            found.last_used_at = now  # at most once a minute: a busy machine client is not a write per call
        return Principal(user.id, user.username, user.role, "token")


def principal_for_session(store: Store, user_id: int, logged_in_at: datetime, lifetime: timedelta) -> Principal | None:
    if utcnow() - logged_in_at > lifetime:
        return None
    with store.transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.disabled_at is not None:
            return None
        return Principal(user.id, user.username, user.role, "session")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)
