"""Adding, changing, testing and removing connectors over the API (admins only).

Connectors written in the configuration file are listed (``origin: file``) but only changed there; the ones
added here are kept in the database (:mod:`claimbridge.connector_store`), become part of the running
configuration within seconds (``claimbridge run`` looks every 15 s) and show their secrets to nobody.
"""

from __future__ import annotations

from typing import Any

from claimbridge.connector_store import (
    KINDS,
    ConnectorInput,
    ConnectorProblem,
    field_reference,
    settings_template,
)
from claimbridge.web import audit, error_response, runtime
from claimbridge.web.api import ApiError, _body, _json, _path, operation
from claimbridge.web.api_operations import actor, plain

KIND = _path("kind", "source or clearinghouse", {"type": "string", "enum": list(KINDS)})
NAME = _path("name", "connector name")

CONNECTOR_BODY = {
    "type": "object", "required": ["kind", "name", "type"],
    "properties": {
        "kind": {"type": "string", "enum": list(KINDS)},
        "name": {"type": "string", "description": "lower-case letters, digits, - and _"},
        "type": {"type": "string", "description": "a type a plugin registers (GET /connector-types)"},
        "enabled": {"type": "boolean"},
        "settings": {"type": "object", "description": "the plugin's settings; a secret as text, or ********** "
                                                      "to keep the stored one"},
        "trading_partner": {"type": "object", "description": "clearinghouses: the envelope identifiers"},
    },
}
UPDATE_BODY = {
    "type": "object", "required": ["type", "revision"],
    "properties": {**{k: v for k, v in CONNECTOR_BODY["properties"].items() if k not in ("kind", "name")},
                   "revision": {"type": "integer", "description": "the revision you edited (GET gives it)"}},
}


def _problem(exc: ConnectorProblem):
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "invalid")
    return error_response(exc.status, code, str(exc), problems=exc.problems)


def connector_input(data: dict[str, Any], *, kind: str | None = None, name: str | None = None) -> ConnectorInput:
    """A :class:`ConnectorInput` from a JSON body (path values win over the body's)."""
    kind = kind or data.get("kind")
    if kind not in KINDS:
        raise ApiError(400, "bad_request", f"kind must be one of {', '.join(KINDS)}")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ApiError(400, "bad_request", "enabled must be true or false")
    for key, kinds, what in (("name", str, "a string"), ("type", str, "a string"),
                             ("settings", dict, "an object"), ("trading_partner", dict, "an object")):
        if data.get(key) is not None and not isinstance(data[key], kinds):
            raise ApiError(400, "bad_request", f"{key} must be {what}")
    if name is None and not data.get("name"):
        raise ApiError(400, "bad_request", "name is required")
    if not data.get("type"):
        raise ApiError(400, "bad_request", "type is required")
    return ConnectorInput(kind=kind, name=name if name is not None else data.get("name"), type=data.get("type"),
                          enabled=enabled, settings=data.get("settings") or {},
                          trading_partner=data.get("trading_partner"))


def _known(kind: str) -> None:
    if kind not in KINDS:
        raise ApiError(404, "not_found", f"no connector kind {kind!r} (source or clearinghouse)")


def connectors_overview() -> list[dict]:
    """Every connector: the file's and the database's, with what is wrong with a stored one."""
    rt = runtime()
    items = [{"kind": kind, "name": entry.name, "type": entry.type, "enabled": entry.enabled, "origin": "file"}
             for kind, entries in (("source", rt.file_settings.sources),
                                   ("clearinghouse", rt.file_settings.clearinghouses))
             for entry in entries]
    for stored in rt.connectors.list():
        item = stored.to_dict()
        item["problem"] = rt.connector_problems.get((stored.kind, stored.name))
        del item["settings"], item["trading_partner"]
        items.append(item)
    return items


def connector_types() -> dict:
    rt = runtime()

    def describe(registry: dict) -> list[dict]:
        return [{"type": name, "connector": f"{cls.__module__}.{cls.__qualname__}",
                 "description": (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " "),
                 "template": settings_template(cls.settings_model),
                 "fields": field_reference(cls.settings_model)}
                for name, cls in sorted(registry.items())]

    return {"source": describe(rt.plugins.sources), "clearinghouse": describe(rt.plugins.clearinghouses)}


def add_connector(data: ConnectorInput) -> dict:
    rt = runtime()
    stored = rt.connectors.create(data, rt.file_settings, actor())
    with rt.store.transaction() as session:
        audit(session, "connector_add", f"{data.kind} {data.name} ({data.type}) added"
              + ("" if data.enabled else ", disabled"))
    rt.refresh_connectors(force=True)
    return stored.to_dict()


def change_connector(data: ConnectorInput, revision: int) -> dict:
    rt = runtime()
    stored = rt.connectors.update(data, rt.file_settings, actor(), revision)
    with rt.store.transaction() as session:
        audit(session, "connector_change", f"{data.kind} {data.name} ({data.type}) changed to revision "
              f"{stored.revision}" + ("" if data.enabled else ", disabled"))
    rt.refresh_connectors(force=True)
    return stored.to_dict()


def remove_connector(kind: str, name: str) -> dict:
    rt = runtime()
    stored = rt.connectors.delete(kind, name)
    with rt.store.transaction() as session:
        audit(session, "connector_remove", f"{kind} {name} ({stored.type}) removed")
    rt.refresh_connectors(force=True)
    return stored.to_dict()


def test_unsaved(data: ConnectorInput) -> dict:
    """Validate ``data`` and run the connector's check() without storing anything (audited)."""
    rt = runtime()
    entry = rt.connectors.check(data, rt.file_settings)
    ok, error, seconds = rt.connectors.test(data.kind, entry)
    with rt.store.transaction() as session:
        audit(session, f"{data.kind}_test", f"{data.kind} {data.name} ({data.type}, not saved): "
              + ("ok" if ok else f"failed: {error}"))
    return {"name": data.name, "kind": data.kind, "type": data.type, "ok": ok, "error": error, "seconds": seconds}


@operation("GET", "/connectors", "Every source and clearinghouse: from the configuration file or added here",
           role="admin")
def connectors_list():
    return _json({"items": plain(connectors_overview())})


@operation("GET", "/connector-types", "Connector types the plugins register, with a settings template and "
           "field reference each", role="admin")
def connector_types_list():
    return _json(connector_types())


@operation("POST", "/connectors", "Add a source or clearinghouse (kept in the database; secrets encrypted)",
           role="admin", body=CONNECTOR_BODY, status=201)
def connector_add():
    try:
        return _json(add_connector(connector_input(_body())), status=201)
    except ConnectorProblem as exc:
        return _problem(exc)


@operation("POST", "/connectors/test", "Test a connector's settings without saving them", role="admin",
           body=CONNECTOR_BODY)
def connector_test_unsaved():
    try:
        return _json(test_unsaved(connector_input(_body())))
    except ConnectorProblem as exc:
        return _problem(exc)


@operation("GET", "/connectors/{kind}/{name}", "One connector added here: settings (secrets hidden), revision",
           role="admin", parameters=[KIND, NAME])
def connector_show(kind: str, name: str):
    _known(kind)
    stored = runtime().connectors.get(kind, name)
    if stored is None:
        raise ApiError(404, "not_found", f"no {kind} named {name!r} was added here")
    item = stored.to_dict()
    item["problem"] = runtime().connector_problems.get((kind, name))
    return _json(plain(item))


@operation("PUT", "/connectors/{kind}/{name}", "Change a connector added here (send the revision you edited)",
           role="admin", parameters=[KIND, NAME], body=UPDATE_BODY)
def connector_change(kind: str, name: str):
    _known(kind)
    data = _body()
    revision = data.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool):
        raise ApiError(400, "bad_request", "revision is required: the revision you edited (a whole number)")
    try:
        return _json(change_connector(connector_input(data, kind=kind, name=name), revision))
    except ConnectorProblem as exc:
        return _problem(exc)


@operation("DELETE", "/connectors/{kind}/{name}", "Remove a connector added here (its history stays)",
           role="admin", parameters=[KIND, NAME])
def connector_remove(kind: str, name: str):
    _known(kind)
    try:
        return _json(remove_connector(kind, name))
    except ConnectorProblem as exc:
        return _problem(exc)
