"""The admin UI and JSON API (Flask): ``create_app(runtime)``.

Every request is authenticated — a session cookie from ``/login`` or ``Authorization: Bearer cbt_…`` (API
tokens, for machines) — except ``/login``, ``/healthz`` and static files; the API answers 401 without
credentials. Requests that change something and carry a session cookie must carry the session's CSRF token (a
form field ``csrf_token`` or the ``X-CSRF-Token`` header). Responses carry a strict Content-Security-Policy,
``frame-ancestors 'none'``, ``nosniff``, no referrer and ``no-store``. Nothing identifying a patient goes into a URL
(claims are addressed by PCN) or a log line; every view of a claim writes an audit entry.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, redirect, request, session, url_for
from werkzeug.exceptions import HTTPException

from claimbridge.store.models import AuditEntry
from claimbridge.web.auth import Principal, new_csrf_token, principal_for_session, principal_for_token

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_OPEN = {"ui.login", "ui.healthz", "ui.favicon", "static"}


def secret_key(path: Path) -> bytes:
    """The key that signs session cookies: read from ``path``, made (random, mode 600) the first time."""
    try:
        key = path.read_bytes().strip()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(runtime, *, host: str | None = None, secure_cookies: bool | None = None) -> Flask:
    """The Flask app over ``runtime`` (a :class:`claimbridge.pipeline.Runtime`: settings, store, plugins);
    ``host`` is the address it will be served on (default ``web.host``): cookies are Secure unless it is
    loopback (or ``web.secure_cookies`` says otherwise)."""
    web = runtime.settings.web
    host = host or web.host
    app = Flask(__name__, static_folder="static", template_folder="templates")
    key_file = web.secret_key_file or (runtime.settings.workdir / ".web-secret")
    if not key_file.is_absolute():
        key_file = runtime.config_path.parent / key_file
    if secure_cookies is None:
        secure_cookies = web.secure_cookies if web.secure_cookies is not None else not is_loopback(host)
    app.config.update(
        SECRET_KEY=secret_key(key_file),
        SESSION_COOKIE_NAME="claimbridge_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_hours),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.extensions["claimbridge"] = runtime
    from claimbridge.web.cache import ReportCache

    app.extensions["claimbridge_reports"] = ReportCache(web.report_cache_seconds)

    import claimbridge.web.api_connectors  # noqa: F401 - registers its operations
    import claimbridge.web.api_eligibility  # noqa: F401 - registers its operations
    import claimbridge.web.api_operations  # noqa: F401 - registers its operations
    import claimbridge.web.api_reports  # noqa: F401 - registers its operations
    import claimbridge.web.api_users  # noqa: F401 - registers its operations
    from claimbridge.web.api import api
    from claimbridge.web.ui import ui
    from claimbridge.web.ui_connectors import conn
    from claimbridge.web.ui_eligibility import elig
    from claimbridge.web.ui_operations import ops
    from claimbridge.web.ui_users import users

    app.register_blueprint(api)
    app.register_blueprint(ui)
    app.register_blueprint(ops)
    app.register_blueprint(conn)
    app.register_blueprint(elig)
    app.register_blueprint(users)

    @app.before_request
    def authenticate():
        g.principal = None
        if any("\x00" in value for values in request.args.listvalues() for value in values):
            return error_response(400, "bad_request", "a query parameter holds a NUL character")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            g.principal = principal_for_token(runtime.store, header[7:].strip())
            if g.principal is None:
                return _unauthorized("the API token is unknown, revoked, or its user is disabled")
        elif "user_id" in session:
            logged_in = datetime.fromtimestamp(session.get("at", 0), UTC)
            g.principal = principal_for_session(runtime.store, session["user_id"], logged_in,
                                                app.permanent_session_lifetime)
            if g.principal is None:
                session.clear()
        if request.endpoint in _OPEN:
            return None
        if g.principal is None:
            return _unauthorized("sign in first (or send an API token)")
        if g.principal.via == "session" and request.method in _UNSAFE:
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
            if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
                return error_response(403, "csrf", "the form is stale or was not sent by this site; reload the page "
                                                   "and try again")
        return None

    @app.after_request
    def headers(response):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        if secure_cookies:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                              exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal_error", "something went wrong on the server; the log has details")

    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {"principal": g.get("principal"), "csrf_token": csrf_token}

    return app


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = new_csrf_token()
    return session["csrf"]


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def error_response(status: int, code: str, message: str, **extra: Any):
    """The one error shape: ``{"error": {"status", "code", "message", …}}`` for the API, a page for the UI."""
    if wants_json():
        body = {"error": {"status": status, "code": code, "message": message, **extra}}
        return jsonify(body), status
    from flask import render_template

    return render_template("error.html", status=status, code=code, message=message), status


def _unauthorized(message: str):
    if wants_json():
        response, status = error_response(401, "unauthorized", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="claimbridge"'
        return response, status
    return redirect(url_for("ui.login", next=request.path if request.method == "GET" else None))


def runtime():
    """The application's :class:`~claimbridge.pipeline.Runtime`, with the connectors another process added or
    changed in the database taken in (looked for at most every two seconds)."""
    from flask import current_app

    rt = current_app.extensions["claimbridge"]
    rt.refresh_connectors()
    return rt


def principal() -> Principal:
    return g.principal


def audit(session_, action: str, detail: str, claim_id: int | None = None) -> None:
    """Write an audit entry for the signed-in user (append-only)."""
    who = g.principal.username if g.get("principal") else "anonymous"
    session_.add(AuditEntry(actor=f"web:{who}", action=action, claim_id=claim_id, detail=detail))
