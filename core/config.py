"""Configuration: YAML → ``${ENV_VAR}`` substitution → pydantic models (unknown keys are errors).

Every problem is reported at once, each with its key path (``sources[0].settings.base_url: …``). Values written
as ``${NAME}`` come from the environment; fields typed :class:`~claimbridge.secrets.Secret` never show their
value in output, logs or reprs.
"""

from __future__ import annotations

import os
import re
import typing
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

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


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _parse_duration(value: Any) -> Any:
    """``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"1d"``; ISO 8601 (``PT15M``) and ``HH:MM:SS`` are left to
    pydantic's timedelta."""
    if not isinstance(value, str):
        return value
    text = value.strip().replace(" ", "")
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if text and match:
        days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if text.upper().startswith("P") or ":" in text:
        return text
    raise ValueError(f"{value!r} is not a length of time; write e.g. 90s, 15m, 1h30m or 1d")


def format_duration(value: timedelta) -> str:
    """The short form the configuration accepts: ``15m``, ``1h30m``, ``45s``."""
    seconds = int(value.total_seconds())
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


#: a length of time: seconds as a number, or ``90s``, ``15m``, ``1h30m``, ``1d``
Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


def check_cron(expression: str, timezone: str = "UTC") -> str:
    """``expression`` if it is a five-field crontab expression APScheduler accepts, else ValueError."""
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        raise ValueError(f"{expression!r} is not a cron expression ({exc}); write five fields: minute hour "
                         "day-of-month month day-of-week, e.g. '0 */2 * * *' (every two hours)") from None
    return expression


class JobTiming(Strict):
    """When a scheduled job runs: ``every`` (an interval) or ``cron`` (five fields), never both."""

    enabled: bool = Field(True, description="false: this job is not scheduled")
    every: Duration | None = Field(None, description="interval between runs (at least 1s)")
    cron: str | None = Field(None, description="crontab expression, in schedule.timezone")

    @field_validator("every")
    @classmethod
    def _positive_interval(cls, every: timedelta | None) -> timedelta | None:
        if every is not None and every < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return every

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str | None) -> str | None:
        return None if cron is None else check_cron(cron)

    @model_validator(mode="after")
    def _one_trigger(self) -> JobTiming:
        if self.every is not None and self.cron is not None:
            raise ValueError("give either every or cron, not both")
        return self

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        return f"every {format_duration(self.every)}" if self.every is not None else "inherited"


def _timing_default(every: str | None = None, cron: str | None = None):
    """A before-validator giving a job its default trigger when the file names neither ``every`` nor ``cron``
    (so a file that sets ``cron`` does not also inherit the default ``every``)."""

    def fill(data: Any) -> Any:
        if isinstance(data, dict) and "every" not in data and "cron" not in data:
            return {**data, **({"every": every} if every else {"cron": cron})}
        return data

    return fill


class PullTiming(JobTiming):
    """Pull each enabled source (sync, then build and scrub claims)."""

    sources: dict[str, JobTiming] = Field(
        default_factory=dict,
        description="per source name: its own every/cron, or enabled: false (unset keys come from pull)")

    _default = model_validator(mode="before")(_timing_default(every="15m"))

    def for_source(self, name: str) -> JobTiming:
        """The timing of one source's pull job: its override where it has one, else the pull timing."""
        own = self.sources.get(name)
        if own is None or (own.every is None and own.cron is None):
            return JobTiming(enabled=self.enabled and (own.enabled if own else True), every=self.every,
                             cron=self.cron)
        return JobTiming(enabled=self.enabled and own.enabled, every=own.every, cron=own.cron)


class SubmitTiming(JobTiming):
    """Batch ready claims, write the 837s and send them to the first enabled clearinghouse."""

    _default = model_validator(mode="before")(_timing_default(cron="0 */2 * * *"))


class ResponsesTiming(JobTiming):
    """Fetch acknowledgments and remittances from each enabled clearinghouse."""

    _default = model_validator(mode="before")(_timing_default(every="30m"))


class EligibilityTiming(JobTiming):
    """Ask about the upcoming appointments (270s) the pulls brought in."""

    _default = model_validator(mode="before")(_timing_default(every="1h"))


class RetrySettings(Strict):
    """Backoff after failures: n failed runs in a row wait min(max, base·2^(n-1)) after the last one."""

    base: Duration = Field(timedelta(seconds=60), description="wait after the first failure")
    max: Duration = Field(timedelta(hours=1), description="longest wait")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.base < timedelta(seconds=1):
            raise ValueError("base must be at least 1s")
        if self.max < self.base:
            raise ValueError("max must be at least base")
        return self


class ScheduleSettings(Strict):
    """What ``claimbridge run`` does, and when (see docs/scheduling.md)."""

    timezone: str = Field("UTC", description="IANA time zone the cron expressions are read in")
    pull: PullTiming = Field(default_factory=PullTiming)
    submit: SubmitTiming = Field(default_factory=SubmitTiming)
    responses: ResponsesTiming = Field(default_factory=ResponsesTiming)
    eligibility: EligibilityTiming = Field(default_factory=EligibilityTiming)
    retry: RetrySettings = RetrySettings()
    misfire_grace: Duration = Field(
        timedelta(hours=1),
        description="a run missed while no `claimbridge run` was up still happens, once, if at most this late")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{zone!r} is not an IANA time zone (e.g. UTC, America/Chicago)") from None
        return zone

    @field_validator("misfire_grace")
    @classmethod
    def _grace(cls, grace: timedelta) -> timedelta:
        if grace < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return grace


class WebSettings(Strict):
    """``claimbridge web`` / the web server ``claimbridge run`` starts: the admin UI and the JSON API."""

    enabled: bool = Field(True, description="whether `claimbridge run` also serves the UI and API")
    host: str = Field("127.0.0.1", description="address to listen on; loopback unless a proxy fronts it")
    port: int = Field(8123, ge=1, le=65535, description="TCP port")
    session_hours: float = Field(8, gt=0, le=24 * 14, description="a login lasts this long")
    secure_cookies: bool | None = Field(
        None, description="mark cookies Secure (HTTPS only); default: on unless the host is loopback")
    secret_key_file: Path | None = Field(
        None, description="file holding the key that signs sessions (made once, mode 600); default: "
                          "WORKDIR/.web-secret")
    report_cache_seconds: float = Field(
        60, ge=0, le=3600, description="the dashboard's totals are recomputed at most this often (served from the "
                                       "last snapshot meanwhile, with its time); 0 computes on every request")


class EligibilitySettings(Strict):
    """Insurance verification before each session: 270 inquiries for upcoming appointments, 271 answers, and the
    sessions at risk (docs/eligibility.md)."""

    enabled: bool = Field(True, description="ask about upcoming appointments on a schedule (the `eligibility` job)")
    days_ahead: int = Field(3, ge=0, le=30, description="appointments from today through this many days ahead")
    service_types: list[str] = Field(
        default_factory=lambda: ["MH"], max_length=99,
        description="EQ01 service types to ask about: MH (mental health), A4 (psychiatric), A6 "
                    "(psychotherapy), A7 (psychiatric inpatient), A8 (psychiatric outpatient); none: 30")
    payer_service_types: dict[str, list[str]] = Field(
        default_factory=dict, description="per payer id: its own service types (some answer only A6 or 30)")
    recheck_after: Duration = Field(timedelta(hours=24),
                                    description="an answer older than this is asked again while the session is "
                                                "still ahead")
    answer_timeout: Duration = Field(timedelta(hours=24),
                                     description="an inquiry sent this long ago without an answer is sent again")
    responsibility_threshold: Decimal = Field(
        Decimal("250.00"), ge=0,
        description="flag a session when the patient's share (copay, or the deductible still to meet) is above "
                    "this many dollars")
    clearinghouse: str | None = Field(None, description="clearinghouse the 270s go to (default: the first "
                                                        "enabled one)")

    @field_validator("service_types")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        bad = [c for c in codes if not re.fullmatch(r"[0-9A-Z]{1,2}", c.strip().upper())]
        if bad:
            raise ValueError(f"not service type codes: {', '.join(bad)} (one or two letters/digits, e.g. MH, A6, 30)")
        return [c.strip().upper() for c in codes]

    def service_types_for(self, payer_id: str | None) -> tuple[str, ...]:
        from claimbridge.x12.eligibility.model import inquiry_service_types

        return inquiry_service_types(self.payer_service_types.get(payer_id or "", self.service_types))


class Settings(Strict):
    """The whole configuration file."""

    database: DatabaseSettings = DatabaseSettings()
    practice: PracticeSettings
    submitter: SubmitterSettings
    claims: ClaimSettings = ClaimSettings()
    sources: list[ConnectorEntry] = Field(default_factory=list)
    clearinghouses: list[ClearinghouseEntry] = Field(default_factory=list)
    workdir: Path = Field(Path("."), description="folder for outbound files; relative to the config file")
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    eligibility: EligibilitySettings = Field(default_factory=EligibilitySettings)

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
    if settings is not None:
        problems.extend(_schedule_problems(settings))
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


def _schedule_problems(settings: Settings) -> list[str]:
    """Per-source pull timings must name a configured source."""
    known = [s.name for s in settings.sources]
    return [f"schedule.pull.sources.{name}: no source named {name!r} (sources: {', '.join(known) or 'none'})"
            for name in settings.schedule.pull.sources if name not in known]


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
