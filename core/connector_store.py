"""Connectors kept in the database: the EHR sources and clearinghouses an admin adds in the web UI or API.

They stand beside the ones written in the YAML file (which the UI shows but never edits) and become part of
:attr:`Runtime.settings <claimbridge.pipeline.Runtime.settings>` exactly as if they had been written there: the
same plugin settings models validate them, relative paths are taken from the configuration file's folder, and
``${NAME}`` is read from the environment. A name is unique per kind across the file and the database.

Every value of a field its plugin types :class:`~claimbridge.secrets.Secret` (a password, a token, a private
key — nested models, unions and mappings of models included) is encrypted before it is stored (Fernet: AES-128-CBC
with HMAC-SHA256) with a key kept in ``WORKDIR/.connector-key`` (made once, mode 600), and shown to nobody:
reads give ``**********`` in its place, and an update that sends ``**********`` back keeps the stored value.

A stored connector that no longer validates (its plugin was removed, the key file changed, the file now names a
connector the same) is left out of the running configuration with the reason, which the connectors page shows;
it never stops the rest from running.
"""

from __future__ import annotations

import json
import os
import re
import secrets as _secrets
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select

from claimbridge.config import (
    ClearinghouseEntry,
    ConnectorEntry,
    Settings,
    TradingPartner,
    absolutize_paths,
    substitute_env,
    validation_problems,
)
from claimbridge.errors import ClaimbridgeError
from claimbridge.secrets import Secret
from claimbridge.store.models import ConnectorRow, utcnow

if TYPE_CHECKING:
    from claimbridge.plugin_host import PluginHost
    from claimbridge.store.db import Store

__all__ = ["KINDS", "REDACTED", "ConnectorInput", "ConnectorKey", "ConnectorProblem", "ConnectorStore",
           "StoredConnector", "field_reference", "settings_template"]

KINDS = ("source", "clearinghouse")
REDACTED = "**********"
KEY_FILE = ".connector-key"
_SECRET = "$secret"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class ConnectorProblem(ClaimbridgeError):
    """A connector that cannot be stored as given: every problem, each with its key path."""

    def __init__(self, problems: list[str], status: int = 422):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.status = status


# -- the key --------------------------------------------------------------------------------------------------


class ConnectorKey:
    """The Fernet key that encrypts stored secrets, read from ``path`` or made there (mode 600) the first time.
    Two processes making it at once agree: the file is linked into place only if absent, then read back."""

    def __init__(self, path: Path):
        self.path = path
        self._fernet = None

    def _load(self):
        if self._fernet is None:
            from cryptography.fernet import Fernet

            if not self.path.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
                temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.{_secrets.token_hex(4)}")
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key() + b"\n")
                try:
                    os.link(temporary, self.path)
                except FileExistsError:
                    pass
                finally:
                    temporary.unlink()
            try:
                self._fernet = Fernet(self.path.read_bytes().strip())
            except ValueError:
                raise ClaimbridgeError(f"{self.path}: not a connector key (32 url-safe base64 bytes); restore "
                                       "the original file") from None
        return self._fernet

    def encrypt(self, value: str) -> str:
        return self._load().encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._load().decrypt(token.encode()).decode()
        except InvalidToken:
            raise ClaimbridgeError(f"a stored secret cannot be decrypted with {self.path} (was the key file "
                                   "replaced?); enter the secret again") from None


# -- secrets inside plugin settings ---------------------------------------------------------------------------


def _types(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    if typing.get_origin(annotation) is typing.Annotated:
        return _types(args[0])
    return [annotation, *(t for arg in args for t in _types(arg))]


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def map_secrets(data: Any, model: type[BaseModel], change: Callable[[Any, tuple], Any],
                path: tuple = (), _seen: set | None = None) -> Any:
    """``data`` (plain settings for ``model``) with ``change(value, path)`` applied to the value of every field
    typed Secret, walking nested models, unions of models (every member's secret fields count), and lists and
    mappings of models. Keys the model does not know are left as they are (validation reports them)."""
    if not isinstance(data, dict):
        return data
    if _seen is None:  # a field in several members of a union is still changed once
        seen: set = set()
        inner_change = change

        def change(value, where):
            if where in seen:
                return value
            seen.add(where)
            return inner_change(value, where)

        _seen = seen
    out = dict(data)
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in out or out[key] is None:
            continue
        kinds = _types(info.annotation)
        value = out[key]
        if Secret in kinds and (isinstance(value, str) or _is_stored_secret(value)):
            out[key] = change(value, (*path, key))
            continue
        models = [k for k in kinds if _is_model(k)]
        for sub in models:
            value = map_secrets(value, sub, change, (*path, key), _seen)
        for origin in kinds:
            parts = typing.get_args(origin)
            container = typing.get_origin(origin)
            inner = [k for p in parts for k in _types(p) if _is_model(k)]
            if not inner:
                continue
            if container in (list, tuple) and isinstance(value, list):
                value = [_map_each(item, inner, change, (*path, key, i), _seen) for i, item in enumerate(value)]
            elif container is dict and isinstance(value, dict):
                value = {k: _map_each(item, inner, change, (*path, key, k), _seen) for k, item in value.items()}
        out[key] = value
    return out


def _map_each(item: Any, models: list[type[BaseModel]], change, path: tuple, seen: set) -> Any:
    for sub in models:
        item = map_secrets(item, sub, change, path, seen)
    return item


def _is_stored_secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_SECRET}


def redact(data: dict, model: type[BaseModel]) -> dict:
    """``data`` with every secret value shown as ``**********``."""
    return map_secrets(data, model, lambda value, path: REDACTED)


# -- what an admin sees while writing settings ------------------------------------------------------------------


def _type_name(annotation: Any) -> str:
    kinds = [k for k in _types(annotation) if k is not type(None)]
    names = []
    for kind in kinds:
        if typing.get_origin(kind) is typing.Literal:
            names.append(" | ".join(repr(v) for v in typing.get_args(kind)))
        elif kind is Secret:
            names.append("secret")
        elif _is_model(kind):
            names.append("mapping")
        elif typing.get_origin(kind) in (list, tuple):
            names.append("list")
        elif typing.get_origin(kind) is dict:
            names.append("mapping")
        elif isinstance(kind, type) and not typing.get_args(kind):
            names.append({"str": "text", "int": "whole number", "float": "number", "bool": "true / false",
                          "Path": "path", "PosixPath": "path", "timedelta": "duration"}.get(kind.__name__,
                                                                                          kind.__name__))
    unique = list(dict.fromkeys(names))
    return " or ".join(unique) or "any"


def _default_text(info) -> str | None:
    if info.is_required():
        return None
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif isinstance(value, Path):
        value = str(value)
    elif isinstance(value, tuple):
        value = list(value)
    if value is None:
        return "none"
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def field_reference(model: type[BaseModel], prefix: str = "") -> list[dict]:
    """One row per setting (nested models flattened with dotted keys): key, type, required, default,
    description, secret — the table beside the settings editor."""
    rows = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        kinds = _types(info.annotation)
        rows.append({"key": key, "type": _type_name(info.annotation), "required": info.is_required(),
                     "default": _default_text(info), "description": info.description or "",
                     "secret": Secret in kinds})
        models = [k for k in kinds if _is_model(k)]
        if len(models) == 1:
            rows.extend(field_reference(models[0], f"{key}."))
        elif len(models) > 1:
            for sub in models:
                variant = sub.model_fields.get("type")
                label = (repr(typing.get_args(variant.annotation)[0])
                         if variant is not None and typing.get_args(variant.annotation) else sub.__name__)
                rows.extend({**row, "key": row["key"], "variant": label}
                            for row in field_reference(sub, f"{key}.") if row["key"] != f"{key}.type")
    return rows


def _placeholder(info) -> Any:
    kinds = _types(info.annotation)
    if any(_is_model(k) for k in kinds) or any(typing.get_origin(k) is dict for k in kinds):
        return {}
    if any(typing.get_origin(k) in (list, tuple) for k in kinds):
        return []
    if bool in kinds:
        return False
    if int in kinds or float in kinds:
        return 0
    return ""


def settings_template(model: type[BaseModel]) -> str:
    """YAML to start from: every required setting with an empty value, every optional one commented out with
    its default, each under its description."""
    lines = []
    fields = sorted(model.model_fields.items(), key=lambda item: not item[1].is_required())
    for name, info in fields:
        key = info.alias or name
        if info.description:
            lines.append(f"# {info.description}")
        if info.is_required():
            value = yaml.safe_dump({key: _placeholder(info)}, default_flow_style=True, width=10_000)
            lines.append(value.strip()[1:-1].strip())
        else:
            lines.append(f"# {key}: {_default_text(info)}")
    return "\n".join(lines) + "\n"


# -- stored connectors ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectorInput:
    """What an admin submits: settings and trading partner as plain data (secrets as text, or ``**********`` to
    keep the stored one)."""

    kind: str
    name: str
    type: str
    enabled: bool = True
    settings: dict = field(default_factory=dict)
    trading_partner: dict | None = None


@dataclass(frozen=True)
class StoredConnector:
    """A connector row as shown to people: secrets redacted."""

    id: int
    kind: str
    name: str
    type: str
    enabled: bool
    settings: dict
    trading_partner: dict | None
    revision: int
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    problem: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "type": self.type, "enabled": self.enabled,
                "origin": "database", "settings": self.settings, "trading_partner": self.trading_partner,
                "revision": self.revision, "created_by": self.created_by, "created_at": self.created_at.isoformat(),
                "updated_by": self.updated_by, "updated_at": self.updated_at.isoformat(), "problem": self.problem}


class ConnectorStore:
    """Reads and writes the ``connectors`` table for one configuration (its plugins, its folder, its key)."""

    def __init__(self, store: Store, plugins: PluginHost, *, base: Path, key: ConnectorKey,
                 env: dict[str, str] | None = None):
        self.store = store
        self.plugins = plugins
        self.base = base
        self.key = key
        self.env = env

    # -- reading -------------------------------------------------------------------------------------------
    def signature(self) -> tuple:
        """Changes whenever a connector is added, changed or removed (cheap: one aggregate)."""
        with self.store.transaction() as session:
            return tuple(session.execute(select(func.count(ConnectorRow.id), func.max(ConnectorRow.id),
                                                func.sum(ConnectorRow.revision),
                                                func.max(ConnectorRow.updated_at))).one())

    def registry(self, kind: str) -> dict:
        return self.plugins.sources if kind == "source" else self.plugins.clearinghouses

    def model_for(self, kind: str, type_name: str) -> type[BaseModel] | None:
        cls = self.registry(kind).get(type_name)
        return None if cls is None else cls.settings_model

    def list(self) -> list[StoredConnector]:
        with self.store.transaction() as session:
            rows = session.execute(select(ConnectorRow).order_by(ConnectorRow.kind, ConnectorRow.name)).scalars()
            return [self._shown(row) for row in rows]

    def get(self, kind: str, name: str) -> StoredConnector | None:
        with self.store.transaction() as session:
            row = self._row(session, kind, name)
            return None if row is None else self._shown(row)

    def _row(self, session, kind: str, name: str) -> ConnectorRow | None:
        return session.execute(select(ConnectorRow).where(ConnectorRow.kind == kind, ConnectorRow.name == name)
                               ).scalar_one_or_none()

    def _shown(self, row: ConnectorRow) -> StoredConnector:
        settings = map_secrets_stored(json.loads(row.settings), lambda value: REDACTED)
        return StoredConnector(
            id=row.id, kind=row.kind, name=row.name, type=row.type, enabled=row.enabled, settings=settings,
            trading_partner=json.loads(row.trading_partner) if row.trading_partner else None,
            revision=row.revision, created_by=row.created_by, created_at=row.created_at,
            updated_by=row.updated_by, updated_at=row.updated_at)

    def entries(self, settings: Settings) -> tuple[list[ConnectorEntry], list[ClearinghouseEntry], dict]:
        """The stored connectors that validate, as configuration entries (secrets decrypted, ``${NAME}``
        substituted), and ``{(kind, name): reason}`` for those left out."""
        sources: list[ConnectorEntry] = []
        clearinghouses: list[ClearinghouseEntry] = []
        problems: dict[tuple[str, str], str] = {}
        taken = {"source": {s.name for s in settings.sources},
                 "clearinghouse": {c.name for c in settings.clearinghouses}}
        with self.store.transaction() as session:
            rows = list(session.execute(select(ConnectorRow).order_by(ConnectorRow.id)).scalars())
        for row in rows:
            where = (row.kind, row.name)
            if row.name in taken.get(row.kind, {row.name}):
                problems[where] = (f"the configuration file also has a {row.kind} named {row.name!r}; the file's "
                                   "is used (rename or remove one of them)")
                continue
            try:
                entry = self._entry(row)
            except ConnectorProblem as exc:
                problems[where] = "; ".join(exc.problems)
                continue
            except ClaimbridgeError as exc:
                problems[where] = str(exc)
                continue
            (sources if row.kind == "source" else clearinghouses).append(entry)
        return sources, clearinghouses, problems

    def _entry(self, row: ConnectorRow) -> ConnectorEntry:
        model = self.model_for(row.kind, row.type)
        if model is None:
            known = ", ".join(sorted(self.registry(row.kind))) or "none"
            raise ConnectorProblem([f"type: no plugin provides {row.type!r} (known: {known})"])
        stored = json.loads(row.settings)
        plain = map_secrets(stored, model, lambda value, path: self.key.decrypt(value[_SECRET])
                            if _is_stored_secret(value) else value)
        partner = json.loads(row.trading_partner) if row.trading_partner else None
        return self._validated(ConnectorInput(row.kind, row.name, row.type, row.enabled, plain, partner), model)

    def _validated(self, data: ConnectorInput, model: type[BaseModel]) -> ConnectorEntry:
        problems: list[str] = []
        settings = substitute_env(data.settings, "settings", dict(os.environ) if self.env is None else self.env,
                                  problems)
        try:
            model.model_validate(absolutize_paths(settings, model, self.base))
        except ValidationError as exc:
            problems.extend(validation_problems(exc, "settings"))
        partner = None
        if data.kind == "clearinghouse":
            try:
                partner = TradingPartner.model_validate(data.trading_partner or {})
            except ValidationError as exc:
                problems.extend(validation_problems(exc, "trading_partner"))
        if problems:
            raise ConnectorProblem(problems)
        if data.kind == "clearinghouse":
            return ClearinghouseEntry(name=data.name, type=data.type, enabled=data.enabled, settings=settings,
                                      trading_partner=partner)
        return ConnectorEntry(name=data.name, type=data.type, enabled=data.enabled, settings=settings)

    # -- checking and writing ------------------------------------------------------------------------------
    def test(self, kind: str, entry: ConnectorEntry) -> tuple[bool, str | None, float]:
        """Open the connector ``entry`` describes and run its ``check()``: (worked, why not, seconds)."""
        from claimbridge.config import connector_settings

        started = time.monotonic()
        try:
            cls = self.registry(kind).get(entry.type)
            if cls is None:
                raise ClaimbridgeError(f"no plugin provides {entry.type!r}")
            with cls(entry.name, connector_settings(entry, cls.settings_model, self.base)) as connector:
                connector.check()
            ok, error = True, None
        except ClaimbridgeError as exc:
            ok, error = False, str(exc)
        except OSError as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        return ok, error, round(time.monotonic() - started, 3)

    def check(self, data: ConnectorInput, file_settings: Settings) -> ConnectorEntry:
        """The configuration entry ``data`` makes (stored secrets filled in for ``**********``), or
        :class:`ConnectorProblem` listing everything wrong with it. ``file_settings`` is what the configuration
        file alone says (its names are taken)."""
        problems = []
        if data.kind not in KINDS:
            raise ConnectorProblem([f"kind: must be one of {', '.join(KINDS)}"])
        if not isinstance(data.name, str) or not _NAME.match(data.name) or len(data.name) > 100:
            problems.append("name: lower-case letters, digits, - and _, starting with a letter or digit "
                            "(at most 100)")
        in_file = file_settings.sources if data.kind == "source" else file_settings.clearinghouses
        if isinstance(data.name, str) and data.name in {e.name for e in in_file}:
            problems.append(f"name: the configuration file already has a {data.kind} named {data.name!r}")
        model = self.model_for(data.kind, data.type) if isinstance(data.type, str) else None
        if model is None:
            known = ", ".join(sorted(self.registry(data.kind))) or "none"
            problems.append(f"type: no plugin provides {data.type!r} (known: {known})")
        if not isinstance(data.settings, dict):
            problems.append("settings: must be a mapping of keys")
        if data.kind == "clearinghouse" and not isinstance(data.trading_partner, dict | None):
            problems.append("trading_partner: must be a mapping of keys")
        if model is None or not isinstance(data.settings, dict):
            raise ConnectorProblem(problems)
        try:  # every problem at once: the settings' too
            entry = self._validated(self._keep_secrets(data, model), model)
        except ConnectorProblem as exc:
            raise ConnectorProblem(problems + exc.problems) from None
        if problems:
            raise ConnectorProblem(problems)
        return entry

    def _keep_secrets(self, data: ConnectorInput, model: type[BaseModel]) -> ConnectorInput:
        """``data`` with each ``**********`` replaced by the secret stored at the same place."""
        with self.store.transaction() as session:
            row = self._row(session, data.kind, data.name)
            stored = json.loads(row.settings) if row is not None and row.type == data.type else {}
        missing = []

        def fill(value, path):
            if value != REDACTED:
                return value
            old = _at(stored, path)
            if not _is_stored_secret(old):
                missing.append(".".join(str(p) for p in ("settings", *path)))
                return value
            return self.key.decrypt(old[_SECRET])

        settings = map_secrets(data.settings, model, fill)
        if missing:
            raise ConnectorProblem([f"{where}: no stored secret to keep here; enter it" for where in missing])
        return ConnectorInput(data.kind, data.name, data.type, data.enabled, settings, data.trading_partner)

    def _encrypted(self, data: ConnectorInput, model: type[BaseModel]) -> str:
        settings = map_secrets(data.settings, model, lambda value, path: {_SECRET: self.key.encrypt(value)})
        return json.dumps(settings, sort_keys=True, default=str)

    def create(self, data: ConnectorInput, file_settings: Settings, actor: str) -> StoredConnector:
        self.check(data, file_settings)
        model = self.model_for(data.kind, data.type)
        now = utcnow()
        with self.store.transaction() as session:
            if self._row(session, data.kind, data.name) is not None:
                raise ConnectorProblem([f"name: a {data.kind} named {data.name!r} exists already"], 409)
            row = ConnectorRow(kind=data.kind, name=data.name, type=data.type, enabled=data.enabled,
                               settings=self._encrypted(data, model),
                               trading_partner=json.dumps(data.trading_partner) if data.kind == "clearinghouse"
                               else None, revision=1, created_by=actor, created_at=now, updated_by=actor,
                               updated_at=now)
            session.add(row)
            session.flush()
            return self._shown(row)

    def update(self, data: ConnectorInput, file_settings: Settings, actor: str, revision: int) -> StoredConnector:
        """Replace a stored connector's type, settings, trading partner and enabled flag; ``revision`` must be the
        one the admin edited (else someone changed it meanwhile: 409)."""
        if self.get(data.kind, data.name) is None:
            raise ConnectorProblem([f"no {data.kind} named {data.name!r} was added here"], 404)
        self.check(data, file_settings)
        model = self.model_for(data.kind, data.type)
        data = self._keep_secrets(data, model)
        with self.store.transaction() as session:
            row = self._row(session, data.kind, data.name)
            if row is None:
                raise ConnectorProblem([f"no {data.kind} named {data.name!r} was added here"], 404)
            if row.revision != revision:
                raise ConnectorProblem([f"revision: {data.kind} {data.name} was changed by {row.updated_by} at "
                                        f"{row.updated_at:%Y-%m-%d %H:%M} UTC (now revision {row.revision}); "
                                        "reload it and make your change again"], 409)
            row.type, row.enabled = data.type, data.enabled
            row.settings = self._encrypted(data, model)
            row.trading_partner = json.dumps(data.trading_partner) if data.kind == "clearinghouse" else None
            row.revision += 1
            row.updated_by, row.updated_at = actor, utcnow()
            session.flush()
            return self._shown(row)

    def delete(self, kind: str, name: str) -> StoredConnector:
        with self.store.transaction() as session:
            row = self._row(session, kind, name)
            if row is None:
                raise ConnectorProblem([f"no {kind} named {name!r} was added here (connectors in the "
                                        "configuration file are removed there)"], 404)
            shown = self._shown(row)
            session.delete(row)
        return shown


def map_secrets_stored(data: Any, change: Callable[[Any], Any]) -> Any:
    """Every encrypted value anywhere in ``data`` changed (for rows whose plugin is gone: no model to walk)."""
    if _is_stored_secret(data):
        return change(data)
    if isinstance(data, dict):
        return {k: map_secrets_stored(v, change) for k, v in data.items()}
    if isinstance(data, list):
        return [map_secrets_stored(v, change) for v in data]
    return data


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return None
    return data
