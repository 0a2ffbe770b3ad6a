"""The user pages: ``/users`` (admins: users with role, last login and state — add, change role, disable, reset a
password; API tokens — create, shown once on the page that answers, and revoke) and ``/account`` (anyone signed
in: change their own password with the current one).

The actions are forms carrying the session's CSRF token; they do what :mod:`claimbridge.web.api_users` does (the
same checks, the same audit entries), flash the result and go back to the page. A new token is rendered on the
answering page only — never put in a flash, which would ride in the session cookie.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from claimbridge.web import api_users
from claimbridge.web.api import ApiError
from claimbridge.web.auth import ROLES

users = Blueprint("users", __name__)


def _forbidden(what: str):
    return render_template("error.html", status=403, code="forbidden",
                           message=f"{what} needs the admin role; you are {g.principal.role}."), 403


def _page(new_token: dict | None = None, status: int = 200):
    return render_template("users.html", users=api_users.users(), tokens=api_users.tokens(), roles=ROLES,
                           new_token=new_token), status


def _back():
    return redirect(url_for("users.users_page"))


def _run(action, message: str):
    """Run an admin action; flash what happened (or why not) and go back to /users."""
    if not g.principal.can("admin"):
        return _forbidden("Managing users")
    try:
        action()
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash(message, "info")
    return _back()


@users.get("/users")
def users_page():
    if not g.principal.can("admin"):
        return _forbidden("Managing users")
    return _page()


@users.post("/users")
def user_add():
    form = request.form
    username, role = form.get("username", "").strip(), form.get("role", "")
    return _run(lambda: api_users.new_user(username, role, form.get("password", "")),
                f"User {username} added as {role}.")


@users.post("/users/<username>/role")
def user_role(username: str):
    role = request.form.get("role", "")
    return _run(lambda: api_users.change_role(username, role), f"{username} is now {role}.")


@users.post("/users/<username>/disable")
def user_disable(username: str):
    return _run(lambda: api_users.disable(username), f"{username} is disabled; their sessions and tokens stopped.")


@users.post("/users/<username>/password")
def user_password(username: str):
    if username == g.principal.username:
        flash("Change your own password on your account page.", "error")
        return redirect(url_for("users.account"))
    return _run(lambda: api_users.change_password(username, request.form.get("password", "")),
                f"The password of {username} is set.")


@users.post("/tokens")
def token_create():
    if not g.principal.can("admin"):
        return _forbidden("Managing API tokens")
    name = request.form.get("name", "")[:100]
    try:
        made = api_users.new_token(request.form.get("username", "").strip(), name)
    except ApiError as exc:
        flash(exc.message, "error")
        return _back()
    return _page(new_token=made)


@users.post("/tokens/<prefix>/revoke")
def token_revoke(prefix: str):
    return _run(lambda: api_users.revoke(prefix), f"Token {prefix}… revoked.")


@users.route("/account", methods=["GET", "POST"])
def account():
    if request.method == "POST":
        form = request.form
        if form.get("password", "") != form.get("confirm", ""):
            flash("The new password and its confirmation differ.", "error")
        else:
            try:
                api_users.change_password(g.principal.username, form.get("password", ""), form.get("current", ""))
            except ApiError as exc:
                flash(exc.message, "error")
            else:
                flash("Your password is changed.", "info")
        return redirect(url_for("users.account"))
    return render_template("account.html")
