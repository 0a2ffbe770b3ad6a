"""The connectors pages: every EHR source and clearinghouse with its latest activity and scheduled jobs; admins
test a connection, pull a source now, and add, edit or remove the connectors kept in the database.
"""

from __future__ import annotations

import yaml
from flask import Blueprint, flash, g, render_template, request

from claimbridge.config import TradingPartner
from claimbridge.connector_store import (
    KINDS,
    ConnectorInput,
    ConnectorProblem,
    field_reference,
    settings_template,
)
from claimbridge.errors import ClaimbridgeError
from claimbridge.web import api_connectors, runtime
from claimbridge.web import api_operations as ops_api
from claimbridge.web.api import ApiError
from claimbridge.web.ui_operations import _done, csv_response, forbidden, list_helpers, wants_csv

conn = Blueprint("conn", __name__)
conn.context_processor(list_helpers)

JOB_COLUMNS = ["job", "trigger", "next_run", "last_status", "last_started_at", "last_error", "backoff_until"]


@conn.get("/connectors")
def connectors():
    view = ops_api.connectors_view()
    if wants_csv():
        rows = [{**job, "last_status": (job["last_run"] or {}).get("status"),
                 "last_started_at": (job["last_run"] or {}).get("started_at"),
                 "last_error": (job["last_run"] or {}).get("error")} for job in view["jobs"]]
        return csv_response(rows, JOB_COLUMNS, "jobs.csv")
    rt = runtime()
    stored = {(c.kind, c.name): c for c in rt.connectors.list()}
    broken = [{"kind": kind, "name": name, "type": stored[(kind, name)].type if (kind, name) in stored else "",
               "problem": reason} for (kind, name), reason in sorted(rt.connector_problems.items())]
    return render_template("connectors.html", **view, stored=stored, broken=broken)


@conn.post("/connectors/<kind>/<name>/test")
def connector_test(kind: str, name: str):
    if not g.principal.can("admin"):
        return forbidden("admin", "Testing a connection")
    if kind not in ("source", "clearinghouse"):
        return render_template("error.html", status=404, code="not_found", message="No such connector."), 404
    try:
        done = ops_api.test_connector(kind, name)
    except ApiError as exc:
        flash(exc.message, "error")
        return _done("conn.connectors")
    if done["ok"]:
        flash(f"{kind.capitalize()} {name}: the connection works ({done['seconds']} s).", "info")
    else:
        flash(f"{kind.capitalize()} {name}: the connection failed: {done['error']}", "error")
    return _done("conn.connectors")


@conn.post("/connectors/source/<name>/run")
def source_run(name: str):
    if not g.principal.can("admin"):
        return forbidden("admin", "Running a source now")
    try:
        done = ops_api.run_source_now(name)
    except (ClaimbridgeError, ApiError) as exc:
        flash(str(exc), "error")
        return _done("conn.connectors")
    pulled = done["pulled"] or {}
    claims = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in done["claims"].items() if v) or "no new claims"
    text = (f"Source {name}: {done['status']}; read {pulled.get('read', 0)}, new {pulled.get('new', 0)}, "
            f"changed {pulled.get('changed', 0)}, quarantined {pulled.get('quarantined', 0)}; {claims}")
    if done["errors"]:
        text += "; " + "; ".join(done["errors"])
    flash(text, "info" if done["ok"] else "error")
    return _done("conn.connectors")


# -- adding, changing and removing the connectors kept in the database ------------------------------------------


def _kind_or_404(kind: str):
    if kind not in KINDS:
        return render_template("error.html", status=404, code="not_found", message="No such connector kind."), 404
    return None


def _yaml_mapping(text: str, label: str, problems: list[str]) -> dict:
    """The mapping a form's YAML box holds (empty: {}); a problem naming the box, line and column otherwise."""
    try:
        value = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.append(f"{label}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})")
        return {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{label}: must be a mapping of keys (key: value on each line)")
        return {}
    return value


def _yaml_text(value: dict | None) -> str:
    return "" if not value else yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def _types_of(kind: str) -> dict:
    registry = runtime().plugins.sources if kind == "source" else runtime().plugins.clearinghouses
    return dict(sorted(registry.items()))


def _form(kind: str, *, stored=None, problems=(), result=None, status: int = 200):
    """The add/edit form: the values posted (or stored, or the chosen type's template) and the reference of the
    chosen type's settings."""
    types = _types_of(kind)
    posted = request.form if request.method == "POST" else {}
    chosen = posted.get("type") or request.args.get("type") or (stored.type if stored else None) \
        or next(iter(types), None)
    cls = types.get(chosen)
    if "settings" in posted:
        settings_text = posted["settings"]
    elif stored is not None and stored.type == chosen:
        settings_text = _yaml_text(stored.settings)
    else:
        settings_text = settings_template(cls.settings_model) if cls else ""
    if "trading_partner" in posted:
        partner_text = posted["trading_partner"]
    elif stored is not None and stored.trading_partner:
        partner_text = _yaml_text(stored.trading_partner)
    else:
        partner_text = settings_template(TradingPartner)
    enabled = ("enabled" in posted) if posted else (stored.enabled if stored else True)
    response = render_template(
        "connector_form.html", kind=kind, stored=stored, types=types, chosen=chosen,
        description=(cls.__doc__ or "").strip().split("\n\n")[0] if cls else "",
        fields=field_reference(cls.settings_model) if cls else [],
        partner_fields=field_reference(TradingPartner) if kind == "clearinghouse" else [],
        name=posted.get("name", stored.name if stored else ""), enabled=enabled, settings_text=settings_text,
        partner_text=partner_text, problems=list(problems), result=result,
        revision=posted.get("revision", stored.revision if stored else None))
    return response, status


def _submitted(kind: str, name: str | None = None) -> tuple[ConnectorInput | None, list[str]]:
    problems: list[str] = []
    settings = _yaml_mapping(request.form.get("settings", ""), "settings", problems)
    partner = (_yaml_mapping(request.form.get("trading_partner", ""), "trading_partner", problems)
               if kind == "clearinghouse" else None)
    data = ConnectorInput(kind=kind, name=name if name is not None else request.form.get("name", "").strip(),
                          type=request.form.get("type", ""), enabled="enabled" in request.form,
                          settings=settings, trading_partner=partner)
    return (None if problems else data), problems


def _test_or_save(kind: str, save, stored=None):
    data, problems = _submitted(kind, stored.name if stored else None)
    if data is None:
        return _form(kind, stored=stored, problems=problems, status=422)
    try:
        if request.form.get("action") == "test":
            return _form(kind, stored=stored, result=api_connectors.test_unsaved(data))
        saved = save(data)
    except ConnectorProblem as exc:
        return _form(kind, stored=stored, problems=exc.problems, status=exc.status)
    except ClaimbridgeError as exc:
        return _form(kind, stored=stored, problems=[str(exc)], status=422)
    flash(f"{kind.capitalize()} {saved['name']} saved (revision {saved['revision']}); `claimbridge run` schedules "
          "it within 15 seconds.", "info")
    return _done("conn.connectors")


@conn.route("/connectors/new/<kind>", methods=["GET", "POST"])
def connector_new(kind: str):
    if (missing := _kind_or_404(kind)) is not None:
        return missing
    if not g.principal.can("admin"):
        return forbidden("admin", "Adding a connector")
    if request.method == "GET":
        return _form(kind)
    return _test_or_save(kind, api_connectors.add_connector)


@conn.route("/connectors/<kind>/<name>/edit", methods=["GET", "POST"])
def connector_edit(kind: str, name: str):
    if (missing := _kind_or_404(kind)) is not None:
        return missing
    if not g.principal.can("admin"):
        return forbidden("admin", "Changing a connector")
    stored = runtime().connectors.get(kind, name)
    if stored is None:
        return render_template("error.html", status=404, code="not_found",
                               message=f"No {kind} named {name} was added here; connectors in the configuration "
                                       "file are changed there."), 404
    if request.method == "GET":
        return _form(kind, stored=stored)
    try:
        revision = int(request.form.get("revision", ""))
    except ValueError:
        return _form(kind, stored=stored, problems=["revision: reload the page"], status=422)
    return _test_or_save(kind, lambda data: api_connectors.change_connector(data, revision), stored)


@conn.post("/connectors/<kind>/<name>/remove")
def connector_remove(kind: str, name: str):
    if (missing := _kind_or_404(kind)) is not None:
        return missing
    if not g.principal.can("admin"):
        return forbidden("admin", "Removing a connector")
    try:
        removed = api_connectors.remove_connector(kind, name)
    except ConnectorProblem as exc:
        flash(str(exc), "error")
        return _done("conn.connectors")
    flash(f"{kind.capitalize()} {removed['name']} removed; its sync history and claims stay.", "info")
    return _done("conn.connectors")
