"""The plugin host: built-in plugins and third-party ones load the same way, through entry points."""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any, NamedTuple

import pluggy

from claimbridge import hookspecs
from claimbridge.connectors import Clearinghouse, EhrSource, EligibilityTransport
from claimbridge.errors import FatalError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "claimbridge"
DISABLE_ENV = "CLAIMBRIDGE_DISABLE_PLUGINS"
#: the distribution whose own entry points count as built-in
OWN_DISTRIBUTION = "claimbridge"

#: built-in plugins that are part of the core and always registered (not subject to ``CLAIMBRIDGE_DISABLE_PLUGINS``:
#: a practice turns off single scrub rules with a payer profile's ``disabled_rules``, never the whole scrubber)
CORE_PLUGINS = {
    "scrub_builtin": "claimbridge.claims.scrub.builtin",
}

#: built-in plugins, by entry-point name; used when the package metadata is unavailable (running from a
#: source tree without ``pip install``)
BUILTIN_PLUGINS = {
    "ehr_fhir": "claimbridge.plugins.ehr_fhir.plugin",
    "clearinghouse_sftp": "claimbridge.plugins.clearinghouse_sftp.plugin",
    "ehr_simplepractice": "claimbridge.plugins.ehr_simplepractice.plugin",
}


#: the origin of the core plugins and of the project's own entry points
BUILTIN_ORIGIN = "built-in"
#: the origin of plugins passed to :func:`create_plugin_host` as ``extra_plugins``
IN_PROCESS_ORIGIN = "in-process"


class FailedPlugin(NamedTuple):
    """An entry-point plugin that could not be loaded: skipped, the rest of claimbridge runs without it."""

    name: str
    origin: str
    reason: str  # ``ErrorType: message``


class DisabledPlugin(NamedTuple):
    """An entry-point plugin switched off by ``CLAIMBRIDGE_DISABLE_PLUGINS``."""

    name: str
    origin: str


class HookFailure(NamedTuple):
    """An event hook implementation that raised: the plugin's name and the exception."""

    plugin: str
    error: Exception

    def describe(self) -> str:
        """``plugin: ErrorType: message`` (plugin errors must not carry PHI: claimbridge's never do)."""
        return f"{self.plugin}: {type(self.error).__name__}: {self.error}"

    __str__ = describe


@dataclass
class PluginInfo:
    """What ``claimbridge plugins list`` shows about one plugin.

    ``origin`` is ``built-in`` (the core and the project's own entry points), ``DIST VERSION`` for the installed
    distribution that declared the entry point, or ``in-process`` for plugins handed to :func:`create_plugin_host`.
    """

    name: str
    module: str
    version: str
    origin: str = BUILTIN_ORIGIN
    hooks: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    clearinghouses: list[str] = field(default_factory=list)
    scrub_rules: list[str] = field(default_factory=list)
    payer_profiles: list[str] = field(default_factory=list)


class PluginHost:
    """A pluggy manager plus the registries its registration hooks fill."""

    def __init__(self, manager: pluggy.PluginManager, versions: dict[str, str],
                 origins: dict[str, str] | None = None, failed: Iterable[FailedPlugin] = (),
                 disabled: Iterable[DisabledPlugin] = ()):
        self.pm = manager
        self.hook = manager.hook
        self._versions = versions
        self._origins = origins or {}
        #: entry-point plugins that failed to load (import error, invalid hook implementation), in load order
        self.failed: list[FailedPlugin] = list(failed)
        #: entry-point plugins switched off by ``CLAIMBRIDGE_DISABLE_PLUGINS``
        self.disabled: list[DisabledPlugin] = list(disabled)
        self.sources: dict[str, type[EhrSource]] = {}
        self.clearinghouses: dict[str, type[Clearinghouse]] = {}
        #: real-time eligibility transports by the clearinghouse type they serve
        self.eligibility_transports: dict[str, type[EligibilityTransport]] = {}
        #: scrub rule classes by rule id, payer profiles by name (``register_scrub_rules``,
        #: ``register_payer_profiles``), in registration order
        self.scrub_rules: dict[str, type] = {}
        self.payer_profiles: dict[str, Any] = {}
        self._registered_by: dict[tuple[str, str], str] = {}
        self._collect()

    def _collect(self) -> None:
        for impl in self.pm.hook.register_sources.get_hookimpls():
            impl.function(register=self._registrar(self.sources, EhrSource, "source", impl.plugin_name))
        for impl in self.pm.hook.register_clearinghouses.get_hookimpls():
            impl.function(register=self._registrar(self.clearinghouses, Clearinghouse, "clearinghouse",
                                                   impl.plugin_name))
        for impl in self.pm.hook.register_eligibility_transports.get_hookimpls():
            impl.function(register=self._registrar(self.eligibility_transports, EligibilityTransport,
                                                   "eligibility transport", impl.plugin_name))
        rule_impls = self.pm.hook.register_scrub_rules.get_hookimpls()
        profile_impls = self.pm.hook.register_payer_profiles.get_hookimpls()
        if rule_impls or profile_impls:
            from claimbridge.claims.scrub.base import ScrubRule
            from claimbridge.claims.scrub.profiles import PayerProfile

            # get_hookimpls() is in registration order: the built-in rules come first in reports
            for impl in rule_impls:
                impl.function(register=self._keyed_registrar(self.scrub_rules, ScrubRule, "scrub rule", "id",
                                                              impl.plugin_name, is_class=True))
            for impl in profile_impls:
                impl.function(register=self._keyed_registrar(self.payer_profiles, PayerProfile, "payer profile",
                                                              "name", impl.plugin_name, is_class=False))

    def _registrar(self, registry: dict, base: type, kind: str, plugin: str):
        def register(cls: type) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise FatalError(f"plugin {plugin} registered {cls!r} as a {kind}, "
                                 f"but it is not a subclass of {base.__name__}")
            name = cls.type_name
            if name in registry and registry[name] is not cls:
                other = self._registered_by[(kind, name)]
                raise FatalError(f"{kind} type {name!r} is registered by both {other} and {plugin}; "
                                 f"disable one with {DISABLE_ENV}")
            registry[name] = cls
            self._registered_by[(kind, name)] = plugin
        return register

    def _keyed_registrar(self, registry: dict, base: type, kind: str, key: str, plugin: str, *, is_class: bool):
        def register(obj: Any) -> None:
            ok = issubclass(obj, base) if is_class and isinstance(obj, type) else (
                not is_class and isinstance(obj, base))
            if not ok:
                what = f"a subclass of {base.__name__}" if is_class else f"a {base.__name__} instance"
                raise FatalError(f"plugin {plugin} registered {obj!r} as a {kind}, but it is not {what}")
            name = getattr(obj, key, None)
            if not isinstance(name, str) or not name:
                raise FatalError(f"plugin {plugin} registered a {kind} without a {key}: {obj!r}")
            if name in registry and registry[name] is not obj:
                other = self._registered_by[(kind, name)]
                raise FatalError(f"{kind} {name!r} is registered by both {other} and {plugin}; rename one, or "
                                 f"disable a plugin with {DISABLE_ENV}")
            registry[name] = obj
            self._registered_by[(kind, name)] = plugin
        return register

    def source_class(self, type_name: str) -> type[EhrSource]:
        try:
            return self.sources[type_name]
        except KeyError:
            raise FatalError(f"no EHR source plugin provides type {type_name!r}; known: "
                             f"{', '.join(sorted(self.sources)) or 'none'}") from None

    def clearinghouse_class(self, type_name: str) -> type[Clearinghouse]:
        try:
            return self.clearinghouses[type_name]
        except KeyError:
            raise FatalError(f"no clearinghouse plugin provides type {type_name!r}; known: "
                             f"{', '.join(sorted(self.clearinghouses)) or 'none'}") from None

    def describe(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)),
                              version=self._versions.get(name, "unknown"),
                              origin=self._origins.get(name, IN_PROCESS_ORIGIN))
            info.hooks = sorted(impl.name for impl in self.pm.get_hookcallers(plugin) or [])
            info.sources = sorted(t for (k, t), p in self._registered_by.items() if k == "source" and p == name)
            info.clearinghouses = sorted(t for (k, t), p in self._registered_by.items()
                                         if k == "clearinghouse" and p == name)
            info.scrub_rules = sorted(t for (k, t), p in self._registered_by.items()
                                      if k == "scrub rule" and p == name)
            info.payer_profiles = sorted(t for (k, t), p in self._registered_by.items()
                                         if k == "payer profile" and p == name)
            infos.append(info)
        return sorted(infos, key=lambda i: i.name)

    def notify(self, hook_name: str, **kwargs: Any) -> list[HookFailure]:
        """Call an event hook on every implementation, each in its own try, so one failure stops nothing.

        Returns the implementations that raised, as :class:`HookFailure` (plugin name, exception), so the
        caller can record them; empty when all went well.
        """
        failures: list[HookFailure] = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            wanted = {k: v for k, v in kwargs.items() if k in impl.argnames}
            try:
                impl.function(**wanted)
            except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the pipeline
                log.exception("plugin %s failed in %s; continuing", impl.plugin_name, hook_name)
                failures.append(HookFailure(impl.plugin_name, exc))
        return failures


def disabled_plugins(env: dict[str, str] | None = None) -> set[str]:
    value = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in value.split(",") if name.strip()}


def create_plugin_host(extra_plugins: Iterable[ModuleType | object] = (),
                       env: dict[str, str] | None = None) -> PluginHost:
    """Build a plugin host: the hook specs, the core plugins (:data:`CORE_PLUGINS`, always), every entry point
    of group ``claimbridge`` not blocked by ``CLAIMBRIDGE_DISABLE_PLUGINS`` (comma-separated entry-point names),
    then ``extra_plugins``.

    An entry point that cannot be loaded (its import raises, or a hook implementation fails pluggy's validation:
    a wrong signature, a hook that does not exist) is skipped with a warning and recorded in
    :attr:`PluginHost.failed`; it never stops the other plugins or the core. Ends with ``check_pending()`` so an
    implementation of a hook that does not exist in code handed over as ``extra_plugins`` fails loudly.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = disabled_plugins(env)
    versions: dict[str, str] = {}
    origins: dict[str, str] = {}
    failed: list[FailedPlugin] = []
    disabled: list[DisabledPlugin] = []
    for name, module_name in CORE_PLUGINS.items():
        pm.register(importlib.import_module(module_name), name=name)
        versions[name] = _own_version()
        origins[name] = BUILTIN_ORIGIN
    seen: set[str] = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:
            continue  # the same distribution visible twice on sys.path (editable + regular install)
        seen.add(ep.name)
        origin = _origin(ep)
        if ep.name in blocked:
            log.info("plugin %s disabled by %s", ep.name, DISABLE_ENV)
            disabled.append(DisabledPlugin(ep.name, origin))
            continue
        reason = _load_entry_point(pm, ep)
        if reason is not None:
            log.warning("plugin %s (%s) failed to load and is skipped: %s", ep.name, origin, reason)
            failed.append(FailedPlugin(ep.name, origin, reason))
            continue
        versions[ep.name] = ep.dist.version if ep.dist else "unknown"
        origins[ep.name] = origin
    for name, module_name in BUILTIN_PLUGINS.items():
        if name in seen:
            continue
        if name in blocked:
            disabled.append(DisabledPlugin(name, BUILTIN_ORIGIN))
            continue
        pm.register(importlib.import_module(module_name), name=name)
        versions[name] = _own_version()
        origins[name] = BUILTIN_ORIGIN
    for plugin in extra_plugins:
        name = pm.register(plugin)
        versions[name] = getattr(plugin, "__version__", "unknown")
        origins[name] = IN_PROCESS_ORIGIN
    pm.check_pending()
    return PluginHost(pm, versions, origins, failed, disabled)


def _origin(ep: EntryPoint) -> str:
    """``built-in`` for the project's own entry points, else the declaring distribution's name and version."""
    dist = ep.dist
    if dist is None:
        return "unknown distribution"
    name = dist.metadata["Name"] or getattr(dist, "name", None) or "unknown distribution"
    if _normalise(name) == _normalise(OWN_DISTRIBUTION):
        return BUILTIN_ORIGIN
    return f"{name} {dist.version}"


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _load_entry_point(pm: pluggy.PluginManager, ep: EntryPoint) -> str | None:
    """Import and register one entry point; on any failure leave nothing of it registered and return the reason
    (``ErrorType: message``), else ``None``."""
    try:
        module = ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not stop the others or the core
        return _reason(exc)
    try:
        pm.register(module, name=ep.name)
        _check_pending_for(pm, module)
    except Exception as exc:  # noqa: BLE001 - as above: validation errors and anything else
        try:
            pm.unregister(name=ep.name)
        except Exception:  # noqa: BLE001 - half-registered: make sure the name is free again
            log.debug("could not unregister plugin %s cleanly", ep.name, exc_info=True)
        return _reason(exc)
    return None


def _check_pending_for(pm: pluggy.PluginManager, plugin: object) -> None:
    """``PluginManager.check_pending`` restricted to one plugin: a non-optional implementation of a hook that
    has no spec (a misspelt hook name) is an error."""
    for caller in pm.get_hookcallers(plugin) or []:
        if caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not impl.optionalhook:
                raise pluggy.PluginValidationError(plugin, f"unknown hook {caller.name!r} in plugin "
                                                           f"{getattr(plugin, '__name__', plugin)!r}")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _own_version() -> str:
    from claimbridge import __version__

    return __version__
