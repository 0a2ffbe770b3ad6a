"""Test kit for plugin authors: a pytest plugin with fixtures, and conformance checks to call in one line.

Enable it in a plugin's tests (a test module or the root ``conftest.py``)::

    pytest_plugins = ["claimbridge.testing"]

Fixtures:

* ``claimbridge_store`` — a :class:`~claimbridge.store.db.Store` on a temporary SQLite file, migrated to head.
* ``claimbridge_plugins`` — a :class:`~claimbridge.plugin_host.PluginHost` holding the core plugins and only the
  plugins under test: every ``claimbridge`` entry point is switched off with ``CLAIMBRIDGE_DISABLE_PLUGINS``.
  Say which plugins are under test by overriding the fixture ``claimbridge_plugins_under_test`` with a list of
  plugin modules/objects (registered in-process) and/or entry-point names (kept enabled)::

      @pytest.fixture
      def claimbridge_plugins_under_test():
          return [my_plugin.plugin]          # or ["my_plugin"], the entry-point name

  :func:`make_plugin_host` builds the same host outside a fixture.

Conformance checks (plain functions; each raises :class:`ConformanceError`, an ``AssertionError``, listing every
problem with what to fix):

* :func:`check_scrub_rule` ``(rule_class)`` — id, severity, title, fix hint, a ``check`` method; the rule passes
  its own passing examples (``passes``) and flags its failing ones (``fails``) with well-formed findings.
* :func:`check_settings_model` ``(model)`` — a pydantic model (and the models nested in it) that rejects unknown
  keys and gives every field a description.
* :func:`check_source` ``(source_factory, since=...)`` — each stream never yields records older than ``since``
  (or newer than ``until``), and reading the same window twice yields the same keys and payloads.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "ConformanceError",
    "check_scrub_rule",
    "check_settings_model",
    "check_source",
    "claimbridge_plugins",
    "claimbridge_plugins_under_test",
    "claimbridge_store",
    "make_plugin_host",
    "make_store",
]

#: a rule id: dotted, lowercase, at least two parts (``psychotherapy.time_band``)
RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class ConformanceError(AssertionError):
    """A plugin part does not meet claimbridge's contract; the message lists each problem and its fix."""

    def __init__(self, subject: str, problems: list[str]):
        self.subject = subject
        self.problems = list(problems)
        super().__init__("\n".join(f"{subject}: {problem}" for problem in problems))


# --------------------------------------------------------------------------------------------------- fixtures


def make_store(path: str | Path):
    """A store on the SQLite file ``path``, migrated to head."""
    from claimbridge.store import open_store

    return open_store(f"sqlite:///{Path(path)}")


def make_plugin_host(plugins: Iterable[Any] = ()):
    """A plugin host with the core plugins and only ``plugins``: modules or objects are registered in-process,
    strings are entry-point names left enabled; every other ``claimbridge`` entry point (and built-in plugin)
    is disabled."""
    from claimbridge.plugin_host import BUILTIN_PLUGINS, DISABLE_ENV, ENTRY_POINT_GROUP, create_plugin_host

    plugins = list(plugins)
    keep = {p for p in plugins if isinstance(p, str)}
    extra = [p for p in plugins if not isinstance(p, str)]
    known = {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)} | set(BUILTIN_PLUGINS)
    unknown = keep - known
    if unknown:
        raise ValueError(f"no claimbridge entry point named {', '.join(sorted(unknown))}; known: "
                         f"{', '.join(sorted(known)) or 'none'} (is the plugin's distribution installed?)")
    disabled = ",".join(sorted(known - keep))
    return create_plugin_host(extra_plugins=extra, env={DISABLE_ENV: disabled})


@pytest.fixture
def claimbridge_store(tmp_path: Path) -> Iterator[Any]:
    """A store on a temporary SQLite file, migrated to head; disposed of after the test."""
    store = make_store(tmp_path / "claimbridge.db")
    try:
        yield store
    finally:
        store.engine.dispose()


@pytest.fixture
def claimbridge_plugins_under_test() -> list[Any]:
    """Override in a plugin's tests: the plugin modules/objects (or entry-point names) under test."""
    return []


@pytest.fixture
def claimbridge_plugins(claimbridge_plugins_under_test: list[Any]) -> Any:
    """A plugin host with the core plugins and only ``claimbridge_plugins_under_test``."""
    return make_plugin_host(claimbridge_plugins_under_test)


# --------------------------------------------------------------------------------------------- scrub rules


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or repr(obj)


def check_scrub_rule(rule_class: Any, *, passes: Iterable[Any] | None = None, fails: Iterable[Any] | None = None,
                     profile: Any = None, context: Any = None, require_examples: bool = True) -> None:
    """Check a scrub rule class against the :class:`~claimbridge.claims.scrub.base.ScrubRule` contract.

    The rule must have a dotted lowercase id, a Severity, a one-line title, a fix hint, a ``Claim…`` path and a
    ``check`` method, be creatable without arguments, and pass and flag its examples: ``passes`` / ``fails``
    (default: the rule's own ``passes`` / ``fails`` class attributes). An example is an
    :class:`~claimbridge.claims.scrub.examples.Example` (built with ``example(...)``: the example claim with
    changes, its own context and profile) or a :class:`ClaimFacts`, checked with ``profile`` (default: the
    shipped ``default`` payer profile) and ``context`` (default: an empty ScrubContext for the example day).
    A flagged example must yield at least one finding of the rule's own (its id, a severity, a message, a fix,
    a ``Claim`` path). ``require_examples`` (default True) makes a rule without a passing and a failing example
    a problem.
    """
    from claimbridge.claims.scrub.base import ClaimFacts, Finding, ScrubRule, Severity
    from claimbridge.claims.scrub.examples import EXAMPLE_TODAY, Example

    subject = f"rule {_name(rule_class)}"
    if not (isinstance(rule_class, type) and issubclass(rule_class, ScrubRule)):
        raise ConformanceError(subject, ["is not a subclass of claimbridge.claims.scrub.base.ScrubRule; "
                                         "subclass ScrubRule and register the class (not an instance)"])
    problems: list[str] = []
    rule_id = getattr(rule_class, "id", None)
    if not isinstance(rule_id, str) or not rule_id:
        problems.append("has no id; add a class attribute id = \"yourplugin.rule_name\" (dotted, lowercase, "
                        "stable: payer profiles and overrides refer to it)")
    elif not RULE_ID.match(rule_id):
        problems.append(f"id {rule_id!r} is not dotted lowercase; use e.g. \"yourplugin.rule_name\" "
                        "(letters, digits and _, at least two parts)")
    else:
        subject = f"rule {rule_class.__name__} ({rule_id})"
    severity = getattr(rule_class, "severity", None)
    if not isinstance(severity, Severity):
        problems.append(f"severity {severity!r} is not a Severity; set severity = Severity.ERROR (holds the "
                        "claim) or Severity.WARNING")
    for attr, what in (("title", "one line for the docs and the UI"), ("fix", "the default fix hint shown with "
                                                                              "each finding")):
        value = getattr(rule_class, attr, None)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"has no {attr}; add a class attribute {attr} = \"…\" ({what})")
        elif attr == "title" and "\n" in value.strip():
            problems.append("title spans several lines; make it one line")
    path = getattr(rule_class, "path", None)
    if not isinstance(path, str) or not path.startswith("Claim"):
        problems.append(f"path {path!r} is not a FHIR path into the Claim; set path = \"Claim…\" "
                        "(e.g. \"Claim.item\")")
    if inspect.isabstract(rule_class):
        missing = ", ".join(sorted(rule_class.__abstractmethods__))
        problems.append(f"does not implement {missing}; add def check(self, facts, profile, context) that "
                        "yields a Finding (self.finding(message)) per problem")
    rule = None
    if not inspect.isabstract(rule_class):
        try:
            rule = rule_class()
        except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
            problems.append(f"cannot be created without arguments ({type(exc).__name__}: {exc}); the engine "
                            "calls rule_class(): take no constructor arguments")
    passes = list(getattr(rule_class, "passes", ()) or () if passes is None else passes)
    fails = list(getattr(rule_class, "fails", ()) or () if fails is None else fails)
    if require_examples and not (passes and fails):
        problems.append("has no examples; add at least one claim it passes and one it flags as class attributes "
                        "passes = (example(\"…\"),) and fails = (example(\"…\", field=value),) "
                        "(from claimbridge.claims.scrub import example)")
    if rule is not None and not problems and (passes or fails):
        if profile is None:
            from claimbridge.claims.scrub.profiles import builtin_profiles

            profile = builtin_profiles()["default"]
        if context is None:
            from claimbridge.claims.scrub.base import ScrubContext

            context = ScrubContext(today=EXAMPLE_TODAY)
        for kind, examples in (("passing", passes), ("failing", fails)):
            for number, given in enumerate(examples, 1):
                label = f"{kind} example #{number}"
                if isinstance(given, Example):
                    label = f"{kind} example #{number} ({given.note})"
                    try:
                        facts, used_profile, used_context = given.build()
                    except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                        problems.append(f"{label} cannot be built ({type(exc).__name__}: {exc}); change only "
                                        "ClaimFacts, Line, ScrubContext and PayerProfile fields")
                        continue
                elif isinstance(given, ClaimFacts):
                    facts, used_profile, used_context = given, profile, context
                else:
                    problems.append(f"{label} is a {type(given).__name__}, not an Example or ClaimFacts; write "
                                    "it with claimbridge.claims.scrub.example(\"what it shows\", field=value)")
                    continue
                try:
                    findings = list(rule.check(facts, used_profile, used_context) or ())
                except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
                    problems.append(f"raised {type(exc).__name__}: {exc} on its {label}; a rule must not raise "
                                    "on a claim: yield a Finding (or nothing) instead")
                    continue
                if kind == "passing" and findings:
                    said = "; ".join(getattr(f, "message", repr(f)) for f in findings)
                    problems.append(f"flagged its {label} ({said}); fix the rule or the example")
                elif kind == "failing" and not findings:
                    problems.append(f"did not flag its {label}; fix the rule or the example")
                for finding in findings:
                    problems.extend(f"{label}: {p}" for p in _finding_problems(finding, rule_id, Finding, Severity))
    if problems:
        raise ConformanceError(subject, problems)


def _finding_problems(finding: Any, rule_id: Any, finding_type: type, severity_type: type) -> list[str]:
    if not isinstance(finding, finding_type):
        return [f"yielded {finding!r}, not a Finding; yield self.finding(message)"]
    problems = []
    if finding.rule != rule_id:
        problems.append(f"finding has rule {finding.rule!r}, not the rule's id {rule_id!r}; build findings with "
                        "self.finding(message)")
    if not isinstance(finding.severity, severity_type):
        problems.append(f"finding severity {finding.severity!r} is not a Severity")
    if not isinstance(finding.message, str) or not finding.message.strip():
        problems.append("finding has no message; say what is wrong with this claim")
    if not isinstance(finding.fix, str) or not finding.fix.strip():
        problems.append("finding has no fix; set the rule's fix or pass fix=… to self.finding")
    if not isinstance(finding.path, str) or not finding.path.startswith("Claim"):
        problems.append(f"finding path {finding.path!r} is not a FHIR path into the Claim (\"Claim.item[0]\")")
    return problems


# ----------------------------------------------------------------------------------------- settings models


def _single_literal(annotation: Any) -> bool:
    """A one-value ``Literal`` — the tag of a discriminated union, which needs no description."""
    return typing.get_origin(annotation) is typing.Literal and len(typing.get_args(annotation)) == 1


def _nested_models(annotation: Any, base: type) -> Iterator[type]:
    """The pydantic models inside an annotation (``X``, ``X | None``, ``list[X]``, ``Annotated[A | B, …]`` …)."""
    if isinstance(annotation, type) and issubclass(annotation, base):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return
    for arg in typing.get_args(annotation):
        yield from _nested_models(arg, base)


def check_settings_model(model: Any) -> None:
    """Check a connector's settings model: a pydantic model that rejects unknown keys (``extra="forbid"``, as
    :class:`claimbridge.ConnectorSettings` sets) and documents every field with a description; the models nested
    in its fields are checked the same way. One-value ``Literal`` fields (a discriminated union's ``type`` tag)
    need no description."""
    from pydantic import BaseModel, ValidationError

    subject = f"settings model {_name(model)}"
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConformanceError(subject, ["is not a pydantic model; subclass claimbridge.ConnectorSettings"])
    problems: list[str] = []
    seen: set[type] = set()

    def visit(cls: type, where: str) -> None:
        if cls in seen:
            return
        seen.add(cls)
        prefix = f"{where}: " if where else ""
        if cls.model_config.get("extra") != "forbid":
            problems.append(f"{prefix}accepts unknown keys, so a misspelt setting is silently ignored; subclass "
                            "claimbridge.ConnectorSettings or set model_config = ConfigDict(extra=\"forbid\")")
        for name, info in cls.model_fields.items():
            if not (info.description and info.description.strip()) and not _single_literal(info.annotation):
                problems.append(f"{prefix}field {name!r} has no description; declare it as "
                                f"{name}: … = Field(…, description=\"what it is, its unit and default\")")
            for nested in _nested_models(info.annotation, BaseModel):
                visit(nested, f"{cls.__name__}.{name} ({nested.__name__})")

    visit(model, "")
    if not problems:
        # the config says forbid; make sure validation really refuses an unknown key
        unknown = "claimbridge_conformance_unknown_key"
        try:
            model.model_validate({unknown: 1})
        except ValidationError as exc:
            if not any(err.get("type") == "extra_forbidden" for err in exc.errors()):
                problems.append(f"did not reject the unknown key {unknown!r}; do not drop or accept extra keys "
                                "in a model_validator(mode=\"before\")")
        else:
            problems.append(f"accepted the unknown key {unknown!r}; set model_config = ConfigDict(extra=\"forbid\")")
    if problems:
        raise ConformanceError(subject, problems)


# ------------------------------------------------------------------------------------------------- sources


def _payload_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def _read_window(stream: Any, since: datetime | None, until: datetime, label: str,
                 problems: list[str]) -> dict[str, str] | None:
    """Read one window: {key: payload hash} of the records (BadRecords are allowed and left out)."""
    from claimbridge.connectors import BadRecord, Record

    seen: dict[str, str] = {}
    try:
        results = list(stream.read(since, until))
    except Exception as exc:  # noqa: BLE001 - reported as a conformance problem
        problems.append(f"{label}: read({since!r}, {until!r}) raised {type(exc).__name__}: {exc}; yield a "
                        "BadRecord for an unusable record, raise SourceError/FatalError only when nothing "
                        "can be read")
        return None
    for result in results:
        if isinstance(result, BadRecord):
            continue
        if not isinstance(result, Record):
            problems.append(f"{label}: yielded {type(result).__name__}, not a Record or BadRecord")
            continue
        if result.cursor is not None and stream.cursor_field is not None:
            try:
                cursor = datetime.fromisoformat(result.cursor)
            except (TypeError, ValueError):
                problems.append(f"{label}: record {result.key!r} has cursor {result.cursor!r}, not an ISO 8601 "
                                "timestamp; put the cursor field's value in Record.cursor as isoformat()")
                continue
            if cursor.tzinfo is None:
                problems.append(f"{label}: record {result.key!r} has a cursor without a time zone "
                                f"({result.cursor}); make it timezone-aware (UTC)")
                continue
            if since is not None and cursor <= since:
                problems.append(f"{label}: yielded record {result.key!r} with cursor {result.cursor}, not after "
                                f"since={since.isoformat()}; filter on the cursor (the runner already "
                                "subtracted the stream's lookback)")
            if cursor > until:
                problems.append(f"{label}: yielded record {result.key!r} with cursor {result.cursor}, after "
                                f"until={until.isoformat()}; stop at until so the bookmark does not skip records")
        seen[result.key] = _payload_hash(result.data)
    return seen


def check_source(source_factory: Callable[[], Any], *, since: datetime, until: datetime | None = None,
                 streams: Iterable[str] | None = None) -> None:
    """Check an EHR source: ``source_factory()`` returns a ready :class:`~claimbridge.connectors.EhrSource`
    (called once per read, so re-reading uses a fresh instance, as a new sync run would).

    For each stream (or only those named in ``streams``) with a cursor field: no record read with ``since`` is
    at or before ``since``, none is after ``until`` (default: now), cursors are timezone-aware ISO 8601; and two
    reads of the same window yield the same keys with the same payloads (the store upserts by key, so a
    re-read must not change what was stored). Its ``settings_model`` is checked with
    :func:`check_settings_model`.
    """
    from datetime import UTC

    from claimbridge.connectors import EhrSource

    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (e.g. datetime(2026, 1, 1, tzinfo=UTC))")
    until = until or datetime.now(UTC)
    first = source_factory()
    subject = f"source {type(first).__name__}"
    if not isinstance(first, EhrSource):
        raise ConformanceError(subject, ["source_factory() did not return an EhrSource; subclass "
                                         "claimbridge.EhrSource and return an instance"])
    problems: list[str] = []
    try:
        check_settings_model(type(first).settings_model)
    except ConformanceError as exc:
        problems.extend(str(exc).splitlines())
    wanted = set(streams) if streams is not None else None
    offered: set[str] = set()

    def windows(source: Any) -> dict[str, dict[str, str] | None]:
        out: dict[str, dict[str, str] | None] = {}
        with source:
            for stream in source.streams():
                offered.add(stream.name)
                if wanted is not None and stream.name not in wanted:
                    continue
                label = f"stream {stream.name!r}"
                if stream.cursor_field is None:
                    out[stream.name] = _read_window(stream, None, until, label, problems)
                else:
                    out[stream.name] = _read_window(stream, since, until, label, problems)
        return out

    once = windows(first)
    if wanted is not None and wanted - offered:
        problems.append(f"has no stream named {', '.join(sorted(wanted - offered))}; streams: "
                        f"{', '.join(sorted(offered)) or 'none'}")
    before = len(problems)
    again = windows(source_factory())
    del problems[before:]  # the second read repeats the first one's problems
    for name, first_read in once.items():
        second_read = again.get(name)
        if first_read is None or second_read is None:
            continue
        label = f"stream {name!r}"
        if set(first_read) != set(second_read):
            gone, new = sorted(set(first_read) - set(second_read)), sorted(set(second_read) - set(first_read))
            problems.append(f"{label}: re-reading the same window yielded other keys (missing {gone[:5]}, new "
                            f"{new[:5]}); derive keys from the EHR's ids, not from read order or the clock")
        changed = sorted(k for k in set(first_read) & set(second_read) if first_read[k] != second_read[k])
        if changed:
            problems.append(f"{label}: re-reading the same window changed the payload of {changed[:5]}; keep "
                            "read time, random ids and unordered collections out of Record.data")
    if problems:
        raise ConformanceError(subject, problems)
