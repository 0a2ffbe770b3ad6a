"""Configuration: YAML → ``${ENV_VAR}`` substitution → pydantic models (unknown keys are errors).

Every problem is reported at once, each with its key path (``sources[0].settings.base_url: …``). Values written
as ``${NAME}`` come from the environment; fields typed :class:`~claimbridge.secrets.Secret` never show their
value in output, logs or reprs.
"""

from __future__ import annotations

import os
import re
import typing
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from claimbridge.errors import ConfigError

if TYPE_CHECKING:
    from claimbridge.plugin_host import PluginHost

CONFIG_ENV = "CLAIMBRIDGE_CONFIG"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(Strict):
    line: list[str] = Field(min_length=1, description="street lines (no PO box for a billing provider)")
    city: str
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^\d{9}$",
                             description="ZIP+4 as nine digits (the 837P requires it for the billing provider)")


class Contact(Strict):
    name: str
    phone: str | None = Field(None, pattern=r"^\d{10}$")
    email: str | None = None


class PracticeSettings(Strict):
    """The billing provider used when an encounter's serviceProvider has no NPI."""

    name: str
    npi: str = Field(pattern=r"^\d{10}$")
    tax_id: str = Field(pattern=r"^\d{9}$", description="EIN, nine digits, no dash")
    taxonomy: str | None = Field(None, pattern=r"^[0-9A-Z]{9}X$")
    address: Address
    contact: Contact


class SubmitterSettings(Strict):
    """Loop 1000A: who sends the 837 (often the practice or its billing company)."""

    id: str = Field(description="submitter id assigned by the clearinghouse")
    name: str
    contact: Contact


class TradingPartner(Strict):
    """Envelope identifiers agreed with one clearinghouse."""

    sender_qualifier: str = Field("ZZ", pattern=r"^[0-9A-Z]{2}$")
    sender_id: str = Field(max_length=15)
    receiver_qualifier: str = Field("ZZ", pattern=r"^[0-9A-Z]{2}$")
    receiver_id: str = Field(max_length=15)
    gs_sender: str | None = Field(None, max_length=15, description="GS02; defaults to sender_id")
    gs_receiver: str | None = Field(None, max_length=15, description="GS03; defaults to receiver_id")
    receiver_name: str = Field(description="loop 1000B NM103")
    usage: Literal["T", "P"] = Field("T", description="ISA15: T while testing, P in production")
    max_claims_per_file: int = Field(5000, ge=1, le=5000)


class ConnectorEntry(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    type: str
    enabled: bool = True
    settings: dict[str, Any] = Field(default_factory=dict)


class ClearinghouseEntry(ConnectorEntry):
    trading_partner: TradingPartner


class PayerSettings(Strict):
    """Per-payer facts the claim needs (full payer profiles come with the scrubber)."""

    name: str | None = None
    claim_filing_indicator: str = Field("CI", pattern=r"^[0-9A-Z]{1,2}$", description="SBR09")
    telehealth_modifier: Literal["95", "GT", "93", "none"] = "95"
    audio_only_modifier: Literal["93", "FQ", "none"] = "93"
    telehealth_pos: Literal["02", "10"] = "10"


class Authorization(Strict):
    """A prior authorization the payer granted, tracked by the scrubber (visits left, date range)."""

    payer_id: str
    member_id: str
    birth_date: date = Field(description="with member_id, identifies the patient (never logged)")
    number: str = Field(description="the authorization number (REF*G1)")
    codes: list[str] = Field(default_factory=list, description="codes it covers; empty: any")
    start: date
    end: date
    visits: int = Field(ge=0, description="visits authorized in the range")


class ClaimSettings(Strict):
    pcn_prefix: str = Field("CB", pattern=r"^[A-Z0-9]{0,3}$", description="first characters of every PCN")
    fee_schedule: dict[str, Decimal] = Field(default_factory=dict, description="CPT/HCPCS → charge per unit")
    default_payer: PayerSettings = PayerSettings()
    payers: dict[str, PayerSettings] = Field(default_factory=dict, description="by payer id (NIIP)")
    authorizations: list[Authorization] = Field(default_factory=list)

    @field_validator("fee_schedule")
    @classmethod
    def _positive_fees(cls, fees: dict[str, Decimal]) -> dict[str, Decimal]:
        bad = [code for code, fee in fees.items() if fee <= 0]
        if bad:
            raise ValueError(f"fees must be positive: {', '.join(bad)}")
        return {code.strip(): fee.quantize(Decimal("0.01")) for code, fee in fees.items()}

    def payer(self, payer_id: str | None) -> PayerSettings:
        return self.payers.get(payer_id or "", self.default_payer)


class DatabaseSettings(Strict):
    url: str = Field("sqlite:///claimbridge.db",
                     description="SQLAlchemy URL; a relative SQLite path is relative to the config file")


class Settings(Strict):
    """The whole configuration file."""

    database: DatabaseSettings = DatabaseSettings()
    practice: PracticeSettings
    submitter: SubmitterSettings
    claims: ClaimSettings = ClaimSettings()
    sources: list[ConnectorEntry] = Field(default_factory=list)
    clearinghouses: list[ClearinghouseEntry] = Field(default_factory=list)
    workdir: Path = Field(Path("."), description="folder for outbound files; relative to the config file")

    def source(self, name: str) -> ConnectorEntry:
        for entry in self.sources:
            if entry.name == name:
                return entry
        raise ConfigError([f"sources: no source named {name!r}"])

    def clearinghouse(self, name: str | None = None) -> ClearinghouseEntry:
        enabled = [c for c in self.clearinghouses if c.enabled]
        if name is None:
            if not enabled:
                raise ConfigError(["clearinghouses: no enabled clearinghouse"])
            return enabled[0]
        for entry in self.clearinghouses:
            if entry.name == name:
                return entry
        raise ConfigError([f"clearinghouses: no clearinghouse named {name!r}"])


def substitute_env(node: Any, path: str, env: dict[str, str], problems: list[str]) -> Any:
    """Replace ``${NAME}`` in every string with the environment's value; a missing variable is a problem."""
    if isinstance(node, dict):
        return {k: substitute_env(v, f"{path}.{k}" if path else str(k), env, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute_env(v, f"{path}[{i}]", env, problems) for i, v in enumerate(node)]
    if isinstance(node, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in env:
                problems.append(f"{path}: environment variable {name} is not set")
                return ""
            return env[name]
        return _ENV_REF.sub(replace, node)
    return node


def _format_location(prefix: str, loc: tuple) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validation_problems(error: ValidationError, prefix: str = "") -> list[str]:
    problems = []
    for item in error.errors():
        loc = _format_location(prefix, item["loc"])
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling)"
        elif item["type"] == "missing":
            msg = "required key is missing"
        problems.append(f"{loc}: {msg}")
    return problems


def load_config(path: str | os.PathLike, plugins: PluginHost | None = None,
                env: dict[str, str] | None = None) -> Settings:
    """Read, substitute and validate a configuration file.

    With ``plugins``, each connector entry's ``settings`` is also validated against its plugin's settings
    model. Raises :class:`ConfigError` listing every problem.
    """
    path = Path(path)
    label = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(["file not found; create one from config/claimbridge.example.yaml"], label) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}not valid YAML ({getattr(exc, 'problem', exc)})"], label) from None
    if not isinstance(raw, dict):
        raise ConfigError(["(top level): must be a mapping of keys"], label)
    problems: list[str] = []
    for key in ("payers", "default_payer"):
        if isinstance(raw.get("claims"), dict) and key in raw["claims"]:
            problems.append(f"claims.{key}: per-payer settings live in payer profiles now (a `payers` folder "
                            "beside this file, one YAML file per profile; see config/payers/README.md)")
    raw = substitute_env(raw, "", dict(os.environ) if env is None else env, problems)
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems.extend(validation_problems(exc))
    if plugins is not None:
        problems.extend(_connector_problems(raw, plugins, path.parent.resolve()))
    if problems:
        raise ConfigError(problems, label)
    assert settings is not None
    return _resolve_paths(settings, path.parent)


def absolutize_paths(raw: dict, model: type[BaseModel], base: Path) -> dict:
    """``raw`` with every relative string given for a ``Path``-typed field of ``model`` (nested models and
    unions of models included) made absolute under ``base``. Other strings, remote folders among them, are
    left alone."""
    out = dict(raw)
    for name, field in model.model_fields.items():
        key = field.alias or name
        for kind in _annotation_types(field.annotation):
            value = out.get(key)
            if kind is Path and isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                out[key] = str(base / value)
            elif isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(value, dict):
                out[key] = absolutize_paths(value, kind, base)
    return out


def _annotation_types(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if not args:
        return [annotation]
    if typing.get_origin(annotation) is typing.Annotated:
        return _annotation_types(args[0])
    return [t for arg in args for t in _annotation_types(arg)]


def _connector_problems(raw: dict, plugins: PluginHost, base: Path | None = None) -> list[str]:
    problems = []
    for key, registry in (("sources", plugins.sources), ("clearinghouses", plugins.clearinghouses)):
        entries = raw.get(key) or []
        if not isinstance(entries, list):
            continue
        names = [e.get("name") for e in entries if isinstance(e, dict)]
        for dup in sorted({n for n in names if n and names.count(n) > 1}):
            problems.append(f"{key}: name {dup!r} is used more than once")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict) or "type" not in entry:
                continue
            cls = registry.get(entry["type"])
            if cls is None:
                problems.append(f"{key}[{i}].type: no plugin provides {entry['type']!r} "
                                f"(known: {', '.join(sorted(registry)) or 'none'})")
                continue
            settings = entry.get("settings") or {}
            if base is not None and isinstance(settings, dict):
                settings = absolutize_paths(settings, cls.settings_model, base)
            try:
                cls.settings_model.model_validate(settings)
            except ValidationError as exc:
                problems.extend(validation_problems(exc, f"{key}[{i}].settings"))
    return problems


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    url = settings.database.url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        url = "sqlite:///" + str((base / url[len("sqlite:///"):]).resolve())
    workdir = settings.workdir if settings.workdir.is_absolute() else (base / settings.workdir).resolve()
    return settings.model_copy(update={"database": DatabaseSettings(url=url), "workdir": workdir})


def connector_settings(entry: ConnectorEntry, model: type[BaseModel], base: Path | None = None) -> BaseModel:
    """Validate one connector entry's settings with its plugin's model (errors carry the key path).

    With ``base`` (the config file's folder), relative paths in fields typed ``Path`` are taken from there,
    not from wherever the command happens to run.
    """
    try:
        return model.model_validate(absolutize_paths(entry.settings, model, base) if base else entry.settings)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc, f"{entry.name}.settings")) from None


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV, "claimbridge.yaml"))
