"""Plugins loaded through real entry points of a throwaway distribution on ``sys.path``: a broken one is skipped
and reported, never stopping the others or the core."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from claimbridge.plugin_host import BUILTIN_ORIGIN, create_plugin_host

DIST = "cbtest-plugins"
VERSION = "1.2.3"

MODULES = {
    "cbtest_good": """
        from claimbridge import EhrSource, hookimpl

        class CbtestSource(EhrSource):
            type_name = "cbtest"

            def streams(self):
                return []

        @hookimpl
        def register_sources(register):
            register(CbtestSource)
    """,
    "cbtest_broken_import": """
        raise ImportError("libcbtest is not installed")
    """,
    "cbtest_typo": """
        from claimbridge import hookimpl

        @hookimpl
        def register_source(register):  # misspelt: the hook is register_sources
            pass
    """,
    "cbtest_bad_args": """
        from claimbridge import hookimpl

        @hookimpl
        def register_sources(register, extra):  # the spec has no "extra"
            pass
    """,
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A distribution ``cbtest-plugins`` with four ``claimbridge`` entry points, importable from ``sys.path``."""
    root = tmp_path / "site"
    root.mkdir()
    for name, source in MODULES.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"cbtest_plugins-{VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "[claimbridge]\n" + "".join(f"{name} = {name}\n" for name in MODULES), encoding="utf-8")
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in MODULES:
        sys.modules.pop(name, None)


def test_good_plugin_loads_and_broken_ones_are_skipped_and_recorded(site, caplog):
    with caplog.at_level(logging.WARNING, logger="claimbridge.plugin_host"):
        host = create_plugin_host(env={})
    origin = f"{DIST} {VERSION}"
    # the good plugin and the core are there
    assert host.source_class("cbtest").__name__ == "CbtestSource"
    assert {"fhir", "fhir_bulk", "cbtest"} <= set(host.sources)
    assert "sftp" in host.clearinghouses
    assert "structure.billing_npi" in host.scrub_rules
    infos = {i.name: i for i in host.describe()}
    assert infos["cbtest_good"].origin == origin and infos["cbtest_good"].version == VERSION
    assert infos["cbtest_good"].sources == ["cbtest"]
    assert infos["ehr_fhir"].origin == BUILTIN_ORIGIN and infos["scrub_builtin"].origin == BUILTIN_ORIGIN
    # the broken ones are not registered, and recorded with their reasons
    assert not {"cbtest_broken_import", "cbtest_typo", "cbtest_bad_args"} & set(infos)
    failed = {f.name: f for f in host.failed}
    assert set(failed) == {"cbtest_broken_import", "cbtest_typo", "cbtest_bad_args"}
    assert all(f.origin == origin for f in failed.values())
    assert failed["cbtest_broken_import"].reason == "ImportError: libcbtest is not installed"
    assert failed["cbtest_typo"].reason.startswith("PluginValidationError: ")
    assert "register_source" in failed["cbtest_typo"].reason
    assert failed["cbtest_bad_args"].reason.startswith("PluginValidationError: ")
    assert "extra" in failed["cbtest_bad_args"].reason
    # nothing of them is left half-registered: the host still calls every hook fine
    assert host.pm.get_plugin("cbtest_bad_args") is None and host.pm.get_plugin("cbtest_typo") is None
    host.pm.check_pending()
    for name in failed:
        assert name in caplog.text
    assert "Traceback" not in caplog.text


def test_disable_env_switches_a_broken_plugin_off(site):
    host = create_plugin_host(env={"CLAIMBRIDGE_DISABLE_PLUGINS": "cbtest_broken_import, cbtest_typo"})
    assert {f.name for f in host.failed} == {"cbtest_bad_args"}
    assert {(d.name, d.origin) for d in host.disabled} == {("cbtest_broken_import", f"{DIST} {VERSION}"),
                                                           ("cbtest_typo", f"{DIST} {VERSION}")}
    assert "cbtest" in host.sources


def _cli(site, *args, env=None):
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), environ.get("PYTHONPATH")) if p)
    environ.pop("CLAIMBRIDGE_DISABLE_PLUGINS", None)
    environ |= env or {}
    result = subprocess.run([sys.executable, "-m", "claimbridge.cli", "plugins", "list", *args],
                            capture_output=True, text=True, env=environ, timeout=120)
    assert result.returncode == 0, result.stderr
    return result


def test_plugins_list_shows_origins_and_failures_in_text(site):
    result = _cli(site)
    out = result.stdout
    assert f"cbtest_good {VERSION} (cbtest_good) from {DIST} {VERSION}" in out
    assert "ehr_fhir 0.1.0 (claimbridge.plugins.ehr_fhir.plugin) from built-in" in out
    assert "cbtest_broken_import FAILED TO LOAD (skipped)" in out
    assert "  error: ImportError: libcbtest is not installed" in out
    assert "cbtest_typo FAILED TO LOAD" in out and "cbtest_bad_args FAILED TO LOAD" in out
    assert "Traceback" not in out and "Traceback" not in result.stderr


def test_plugins_list_json_has_origins_failures_and_disabled(site):
    result = _cli(site, "--json", env={"CLAIMBRIDGE_DISABLE_PLUGINS": "cbtest_typo"})
    entries = {e["name"]: e for e in json.loads(result.stdout)}
    assert entries["cbtest_good"]["status"] == "loaded"
    assert entries["cbtest_good"]["origin"] == f"{DIST} {VERSION}"
    assert entries["cbtest_good"]["sources"] == ["cbtest"]
    assert entries["ehr_fhir"]["origin"] == "built-in" and entries["ehr_fhir"]["sources"] == ["fhir", "fhir_bulk"]
    assert entries["cbtest_broken_import"] == {"name": "cbtest_broken_import", "origin": f"{DIST} {VERSION}",
                                               "status": "failed",
                                               "error": "ImportError: libcbtest is not installed"}
    assert entries["cbtest_bad_args"]["status"] == "failed"
    assert entries["cbtest_bad_args"]["error"].startswith("PluginValidationError: ")
    assert entries["cbtest_typo"] == {"name": "cbtest_typo", "origin": f"{DIST} {VERSION}", "status": "disabled"}
