"""``claimbridge connectors …``: the sources and clearinghouses of the configuration file and those kept in the
database (added in the web UI, or here) — list, show, add, change, test, remove.

Settings are given as a YAML file (the same keys as under ``settings:`` in the configuration file); secrets in it
are encrypted before they are stored and never printed. Changes are written to the audit log as ``cli:$USER``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from claimbridge.connector_store import KINDS, ConnectorInput, ConnectorProblem
from claimbridge.store.models import AuditEntry

_kind = click.argument("kind", type=click.Choice(KINDS))
_actor = click.option("--actor", envvar="USER", default="admin", show_default="$USER",
                      help="who is making the change (the audit log says cli:ACTOR)")


@click.group()
def connectors() -> None:
    """EHR sources and clearinghouses: those of the configuration file and those added in the UI."""


def _mapping(path: Path | None, label: str) -> dict | None:
    if path is None:
        return None
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(f"{path}: {label} cannot be read ({exc})") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise click.ClickException(f"{path}: {label} must be a mapping of keys")
    return value


def _problems(exc: ConnectorProblem) -> click.ClickException:
    return click.ClickException("not saved:\n  " + "\n  ".join(exc.problems))


def _audit(runtime, actor: str, action: str, detail: str) -> None:
    with runtime.store.transaction() as session:
        session.add(AuditEntry(actor=f"cli:{actor}", action=action, detail=detail))


@connectors.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON document")
@click.pass_obj
def connectors_list(obj, as_json: bool) -> None:
    """Every connector: kind, name, type, enabled, where it is defined, and why a stored one is not running."""
    with obj.runtime() as runtime:
        items = [{"kind": kind, "name": e.name, "type": e.type, "enabled": e.enabled, "origin": "file",
                  "problem": None}
                 for kind, entries in (("source", runtime.file_settings.sources),
                                       ("clearinghouse", runtime.file_settings.clearinghouses))
                 for e in entries]
        for stored in runtime.connectors.list():
            items.append({"kind": stored.kind, "name": stored.name, "type": stored.type, "enabled": stored.enabled,
                          "origin": "database", "revision": stored.revision, "updated_by": stored.updated_by,
                          "updated_at": stored.updated_at.isoformat(),
                          "problem": runtime.connector_problems.get((stored.kind, stored.name))})
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    for item in items:
        where = "file" if item["origin"] == "file" else f"database r{item['revision']}"
        state = "enabled" if item["enabled"] else "disabled"
        line = f"{item['kind']:<13} {item['name']:<24} {item['type']:<16} {state:<9} {where}"
        click.echo(line + (f"  NOT RUNNING: {item['problem']}" if item["problem"] else ""))


@connectors.command("show")
@_kind
@click.argument("name")
@click.pass_obj
def connectors_show(obj, kind: str, name: str) -> None:
    """One connector kept in the database, as YAML (secrets as **********)."""
    with obj.runtime() as runtime:
        stored = runtime.connectors.get(kind, name)
        if stored is None:
            raise click.ClickException(f"no {kind} named {name!r} is kept in the database")
        data = stored.to_dict()
        data["problem"] = runtime.connector_problems.get((kind, name))
    click.echo(yaml.safe_dump(data, sort_keys=False), nl=False)


def _input(kind: str, name: str, type_name: str, settings: Path, partner: Path | None, disabled: bool):
    return ConnectorInput(kind=kind, name=name, type=type_name, enabled=not disabled,
                          settings=_mapping(settings, "settings") or {},
                          trading_partner=_mapping(partner, "trading partner"))


_settings = click.option("--settings", "settings", type=click.Path(path_type=Path, dir_okay=False), required=True,
                         help="YAML file with the connector's settings")
_partner = click.option("--trading-partner", "partner", type=click.Path(path_type=Path, dir_okay=False),
                        help="YAML file with the clearinghouse's envelope identifiers")
_disabled = click.option("--disabled", is_flag=True, help="store it but do not schedule it")


@connectors.command("add")
@_kind
@click.argument("name")
@click.option("--type", "type_name", required=True, help="a type a plugin registers (claimbridge plugins list)")
@_settings
@_partner
@_disabled
@click.option("--test/--no-test", default=True, show_default=True, help="run the connector's check() first")
@_actor
@click.pass_obj
def connectors_add(obj, kind, name, type_name, settings, partner, disabled, test, actor) -> None:
    """Store a new connector in the database (its connection tested first, unless --no-test)."""
    data = _input(kind, name, type_name, settings, partner, disabled)
    with obj.runtime() as runtime:
        try:
            entry = runtime.connectors.check(data, runtime.file_settings)
            if test:
                ok, error, seconds = runtime.connectors.test(kind, entry)
                if not ok:
                    raise click.ClickException(f"not saved: the connection failed: {error} (--no-test saves it "
                                               "anyway)")
                click.echo(f"{kind} {name}: the connection works ({seconds} s)")
            stored = runtime.connectors.create(data, runtime.file_settings, f"cli:{actor}")
        except ConnectorProblem as exc:
            raise _problems(exc) from None
        _audit(runtime, actor, "connector_add", f"{kind} {name} ({type_name}) added"
               + (", disabled" if disabled else ""))
    click.echo(f"{kind} {name} added (revision {stored.revision}); a running `claimbridge run` schedules it "
               "within 15 seconds")


@connectors.command("change")
@_kind
@click.argument("name")
@click.option("--type", "type_name", help="a new type (default: keep)")
@_settings
@_partner
@_disabled
@_actor
@click.pass_obj
def connectors_change(obj, kind, name, type_name, settings, partner, disabled, actor) -> None:
    """Replace a stored connector's settings (********** keeps a stored secret)."""
    with obj.runtime() as runtime:
        stored = runtime.connectors.get(kind, name)
        if stored is None:
            raise click.ClickException(f"no {kind} named {name!r} is kept in the database")
        data = _input(kind, name, type_name or stored.type, settings, partner, disabled)
        if kind == "clearinghouse" and partner is None:
            data = ConnectorInput(**{**data.__dict__, "trading_partner": stored.trading_partner})
        try:
            changed = runtime.connectors.update(data, runtime.file_settings, f"cli:{actor}", stored.revision)
        except ConnectorProblem as exc:
            raise _problems(exc) from None
        _audit(runtime, actor, "connector_change", f"{kind} {name} ({data.type}) changed to revision "
               f"{changed.revision}" + (", disabled" if disabled else ""))
    click.echo(f"{kind} {name} changed (revision {changed.revision})")


@connectors.command("test")
@_kind
@click.argument("name")
@click.pass_obj
def connectors_test(obj, kind: str, name: str) -> None:
    """Run a connector's check() (file or database); exit status 1 when the connection fails."""
    with obj.runtime() as runtime:
        entries = runtime.settings.sources if kind == "source" else runtime.settings.clearinghouses
        entry = next((e for e in entries if e.name == name), None)
        if entry is None:
            problem = runtime.connector_problems.get((kind, name))
            raise click.ClickException(f"{kind} {name}: " + (f"not running: {problem}" if problem
                                                               else "not configured"))
        ok, error, seconds = runtime.connectors.test(kind, entry)
    if not ok:
        raise click.ClickException(f"{kind} {name}: the connection failed: {error}")
    click.echo(f"{kind} {name}: the connection works ({seconds} s)")


@connectors.command("remove")
@_kind
@click.argument("name")
@_actor
@click.pass_obj
def connectors_remove(obj, kind: str, name: str, actor: str) -> None:
    """Remove a connector kept in the database (its runs, files and claims stay)."""
    with obj.runtime() as runtime:
        try:
            removed = runtime.connectors.delete(kind, name)
        except ConnectorProblem as exc:
            raise _problems(exc) from None
        _audit(runtime, actor, "connector_remove", f"{kind} {name} ({removed.type}) removed")
    click.echo(f"{kind} {name} removed")
