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
* ``claimbridge_sandbox_clearinghouse`` — claimbridge's sandbox clearinghouse (a real SFTP server on loopback
  over a temporary folder): ``settings()``, ``untrusted_settings()``, ``far_side``, ``config_entry()``.
* ``claimbridge_fhir_server`` (session) — a FHIR R4 server: Medplum under Node.js when node and its packages are
  there, else the in-process FHIR sandbox; ``base_url``, ``load(resources)``, ``kind``.

Conformance checks (plain functions; each raises :class:`ConformanceError`, an ``AssertionError``, listing every
problem with what to fix):

* :func:`check_scrub_rule` ``(rule_class)`` — id, severity, title, fix hint, a ``check`` method; the rule passes
  its own passing examples (``passes``) and flags its failing ones (``fails``) with well-formed findings.
* :func:`check_settings_model` ``(model)`` — a pydantic model (and the models nested in it) that rejects unknown
  keys and gives every field a description.
* :func:`check_source` ``(source_factory, since=..., bad_records_factory=...)`` — each stream never yields
  records older than ``since`` (or newer than ``until``), reading the same window twice yields the same keys and
  payloads, a sorted stream resumes from a mid-stream bookmark without losing records, and unusable records come
  as BadRecords, not exceptions.
* :func:`check_clearinghouse` ``(factory, far_side, untrusted_factory=...)`` — atomic uploads, never twice,
  inbound files listed, fetched and archived, unknown hosts refused (:class:`FolderFarSide` for folders).
"""

from __future__ import annotations

from claimbridge.testing.clearinghouses import FarSide, FolderFarSide, check_clearinghouse
from claimbridge.testing.fixtures import (
    claimbridge_fhir_server,
    claimbridge_plugins,
    claimbridge_plugins_under_test,
    claimbridge_sandbox_clearinghouse,
    claimbridge_store,
    make_plugin_host,
    make_store,
)
from claimbridge.testing.problems import ConformanceError
from claimbridge.testing.rules import check_scrub_rule
from claimbridge.testing.settings import check_settings_model
from claimbridge.testing.sources import check_source

__all__ = [
    "ConformanceError",
    "FarSide",
    "FolderFarSide",
    "check_clearinghouse",
    "check_scrub_rule",
    "check_settings_model",
    "check_source",
    "claimbridge_fhir_server",
    "claimbridge_plugins",
    "claimbridge_plugins_under_test",
    "claimbridge_sandbox_clearinghouse",
    "claimbridge_store",
    "make_plugin_host",
    "make_store",
]
