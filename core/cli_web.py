"""``claimbridge web`` (the admin UI and JSON API alone), ``claimbridge users …`` and ``claimbridge tokens …``."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.option("--host", help="address to listen on (default: web.host, 127.0.0.1)")
@click.option("--port", type=int, help="TCP port (default: web.port, 8123)")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.pass_obj
def web(obj, host: str | None, port: int | None, threads: int) -> None:
    """Serve the admin UI and the JSON API (waitress, a production WSGI server)."""
    from waitress import serve

    from claimbridge.web import create_app

    with obj.runtime() as runtime:
        settings = runtime.settings.web
        host = host or settings.host
        port = port or settings.port
        app = create_app(runtime, host=host)
        click.echo(f"claimbridge web on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
        serve(app, host=host, port=port, threads=threads, ident="claimbridge")


@click.group()
def users() -> None:
    """People who sign in to the admin UI: admin, biller or viewer."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("password", hide_input=True, confirmation_prompt=True)


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "biller", "viewer"]), required=True)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (one line)")
@click.pass_obj
def users_add(obj, username: str, role: str, password_stdin: bool) -> None:
    """Add a user (the password is asked for, never an argument)."""
    from claimbridge.web.auth import AuthError, add_user

    password = _password(password_stdin)
    with obj.runtime() as runtime:
        try:
            add_user(runtime.store, username, password, role)
        except AuthError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} added ({role})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def users_list(obj, as_json: bool) -> None:
    """Every user with role, last login and whether disabled."""
    from claimbridge.web.auth import list_users

    with obj.runtime() as runtime:
        rows = list_users(runtime.store)
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        state = "disabled" if row["disabled"] else f"last login {row['last_login_at'] or 'never'}"
        click.echo(f"{row['username']:<24} {row['role']:<7} {state}")


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (one line)")
@click.pass_obj
def users_passwd(obj, username: str, password_stdin: bool) -> None:
    """Set a user's password."""
    from claimbridge.web.auth import AuthError, set_password

    password = _password(password_stdin)
    with obj.runtime() as runtime:
        try:
            set_password(runtime.store, username, password)
        except AuthError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"password of {username} changed")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(["admin", "biller", "viewer"]))
@click.pass_obj
def users_role(obj, username: str, role: str) -> None:
    """Change a user's role."""
    from claimbridge.web.auth import AuthError, set_role

    with obj.runtime() as runtime:
        try:
            set_role(runtime.store, username, role)
        except AuthError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{username} is now {role}")


@users.command("disable")
@click.argument("username")
@click.pass_obj
def users_disable(obj, username: str) -> None:
    """Disable a user: their sessions and API tokens stop working at once."""
    from claimbridge.web.auth import AuthError, disable_user

    with obj.runtime() as runtime:
        try:
            disable_user(runtime.store, username)
        except AuthError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{username} disabled")


@click.group()
def tokens() -> None:
    """API tokens for machines (each acts as its user)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="what the token is for (e.g. the billing export job)")
@click.pass_obj
def tokens_create(obj, username: str, name: str) -> None:
    """Create a token; it is printed once (only its hash is kept)."""
    from claimbridge.web.auth import AuthError, create_token

    with obj.runtime() as runtime:
        try:
            token = create_token(runtime.store, username, name)
        except AuthError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(token)
    click.echo(f"(shown once; send it as 'Authorization: Bearer …'; revoke with `claimbridge tokens revoke "
               f"{token[:12]}`)", err=True)


@tokens.command("revoke")
@click.argument("prefix")
@click.pass_obj
def tokens_revoke(obj, prefix: str) -> None:
    """Revoke the token(s) starting with PREFIX (the first 12 characters, as `create` printed)."""
    from claimbridge.web.auth import revoke_token

    with obj.runtime() as runtime:
        count = revoke_token(runtime.store, prefix)
    if not count:
        raise click.ClickException(f"no active token starts with {prefix}")
    click.echo(f"{count} token(s) revoked")
