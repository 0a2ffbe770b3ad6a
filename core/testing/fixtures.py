"""Fixtures of the pytest plugin: a temporary store, a plugin host with only the plugins under test, the sandbox
clearinghouse and a throwaway FHIR server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest


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


@pytest.fixture
def claimbridge_sandbox_clearinghouse(tmp_path: Path) -> Iterator[Any]:
    """A running sandbox clearinghouse (SFTP on loopback, answering 837s with TA1/999/277CA) in ``tmp_path``:
    a :class:`~claimbridge.testing.servers.SandboxClearinghouseHandle` (``settings()``,
    ``untrusted_settings()``, ``far_side``, ``config_entry()``); stopped after the test."""
    from claimbridge.testing.servers import SandboxClearinghouseHandle

    handle = SandboxClearinghouseHandle(tmp_path / "sandbox-clearinghouse")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def claimbridge_fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A FHIR R4 server for the whole test session, empty at the start: Medplum under Node.js when node and the
    Medplum packages are there, else claimbridge's in-process FHIR sandbox (a
    :class:`~claimbridge.testing.servers.FhirServerHandle`: ``base_url``, ``load(resources)``, ``kind``).
    Tests share it: give the resources you load ids of your own."""
    from claimbridge.testing.servers import FhirServerHandle

    handle = FhirServerHandle(tmp_path_factory.mktemp("fhir-server"))
    try:
        yield handle
    finally:
        handle.stop()
