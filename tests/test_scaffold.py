"""``claimbridge plugin new``: the generated package is complete, its tests fail with "not implemented: …" while
the skeleton is empty, and pass once a developer has filled it in (the code below is what one would write)."""

from __future__ import annotations

import configparser
import os
import py_compile
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from claimbridge.scaffold import KINDS, plan

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "core" / "scaffold" / "templates"

pytestmark = pytest.mark.timeout(600)


def claimbridge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "claimbridge.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def new_plugin(tmp_path: Path, kind: str, name: str | None = None) -> tuple[Path, object]:
    name = name or f"acme-{kind}"
    target = tmp_path / f"claimbridge-{name}"
    result = claimbridge("plugin", "new", name, "--kind", kind, "--dir", str(target))
    assert result.returncode == 0, result.stderr
    assert str(target) in result.stdout
    return target, plan(name, kind, target)


def run_generated_tests(package: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(package)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
                          cwd=package, env=env, capture_output=True, text=True, timeout=300)


# ----------------------------------------------------------------------------------- what a developer writes

FILLED_SOURCE = '''
"""An EHR source reading the EHR's JSON export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from claimbridge import BadRecord, ConnectorSettings, EhrSource, Record, SourceError, Stream
from pydantic import Field


class __CLS__Settings(ConnectorSettings):
    export_file: Path = Field(description="the EHR's JSON export: a list of {id, updated, bundle} objects")


class __CLS__Encounters(Stream):
    name = "encounters"
    cursor_field = "updated"
    is_sorted = True

    def __init__(self, settings: __CLS__Settings):
        self.settings = settings

    def read(self, since: datetime | None, until: datetime) -> Iterator[Record | BadRecord]:
        try:
            rows = json.loads(self.settings.export_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read the export {self.settings.export_file}: {exc}") from None
        wanted = []
        for row in rows:
            key = str(row.get("id") or "")
            try:
                changed = datetime.fromisoformat(row["updated"])
            except (KeyError, TypeError, ValueError):
                yield BadRecord(key=key or "(no id)", reason="updated is not an ISO 8601 timestamp",
                                field="updated", payload=row)
                continue
            bundle = row.get("bundle") or {}
            entries = bundle.get("entry") or [{}]
            if bundle.get("resourceType") != "Bundle" or entries[0].get("resource", {}).get("resourceType") != "Encounter":
                yield BadRecord(key=key, reason="bundle is not an encounter bundle", field="bundle",
                                cursor=row["updated"], payload=row)
                continue
            if (since is None or changed > since) and changed <= until:
                wanted.append((changed, key, bundle))
        for changed, key, bundle in sorted(wanted, key=lambda found: (found[0], found[1])):
            yield Record(key=f"Encounter/{key}", cursor=changed.isoformat(), data=bundle)


class __CLS__Source(EhrSource):
    type_name = "__PLUGIN__"
    settings_model = __CLS__Settings

    def streams(self):
        return [__CLS__Encounters(self.settings)]
'''

FILLED_CLEARINGHOUSE = '''
"""A folder-drop clearinghouse."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from claimbridge import (
    Clearinghouse,
    ConnectorSettings,
    FatalError,
    OutboundFile,
    RemoteFile,
    SubmitResult,
    TransmitError,
)
from pydantic import Field


class __CLS__Settings(ConnectorSettings):
    outbound_dir: Path = Field(description="folder the clearinghouse picks claim files up from")
    inbound_dir: Path = Field(description="folder the clearinghouse leaves responses in")
    archive_dir: Path | None = Field(default=None, description="where recorded responses go")


class __CLS__Clearinghouse(Clearinghouse):
    type_name = "__PLUGIN__"
    settings_model = __CLS__Settings

    def submit(self, file: OutboundFile) -> SubmitResult:
        final = self.settings.outbound_dir / file.name
        if final.exists():
            if final.stat().st_size != len(file.content):
                raise FatalError(f"{final} already exists with other content; not overwritten")
            return SubmitResult(remote_path=str(final), already_present=True)
        temp = final.with_name(f".{file.name}.part")
        temp.write_bytes(file.content)
        os.replace(temp, final)
        return SubmitResult(remote_path=str(final))

    def list_inbound(self) -> list[RemoteFile]:
        files = []
        for entry in sorted(os.scandir(self.settings.inbound_dir), key=lambda entry: entry.name):
            if entry.is_file() and not entry.name.startswith("."):
                info = entry.stat()
                files.append(RemoteFile(entry.name, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC)))
        return files

    def fetch(self, name: str) -> bytes:
        try:
            return (self.settings.inbound_dir / name).read_bytes()
        except FileNotFoundError:
            raise TransmitError(f"{name} is not in {self.settings.inbound_dir}") from None

    def archive(self, name: str) -> None:
        source = self.settings.inbound_dir / name
        if not source.exists():
            return
        archive = self.settings.archive_dir or self.settings.inbound_dir / "archive"
        archive.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(archive / name))
'''

FILLED_RULES = '''
"""Acme's rules."""

from __future__ import annotations

from claimbridge.claims.scrub import ScrubRule, Severity, example


class PriorAuthorizationOnFile(ScrubRule):
    id = "__PLUGIN__.prior_authorization"
    severity = Severity.ERROR
    title = "Acme: every claim carries a prior authorization number"
    fix = "Get the prior authorization from the payer and enter its number on the encounter."
    path = "Claim.insurance[0].preAuthRef"
    source = "Acme provider manual, section 4"
    passes = (example("a prior authorization on the claim", prior_authorizations=("PA-1",)),)
    fails = (example("no prior authorization", prior_authorizations=()),)

    def check(self, facts, profile, context):
        if not facts.prior_authorizations:
            yield self.finding("the claim carries no prior authorization number")


RULES = (PriorAuthorizationOnFile,)
'''

FILLED = {"source": FILLED_SOURCE, "clearinghouse": FILLED_CLEARINGHOUSE, "rules": FILLED_RULES}


# ----------------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generates_a_complete_package(tmp_path, kind):
    target, made = new_plugin(tmp_path, kind)
    module = f"claimbridge_acme_{kind}"
    expected = {"pyproject.toml", "setup.cfg", "README.md", f"{module}/__init__.py", f"{module}/plugin.py",
                f"{module}/{kind}.py", f"tests/test_{module}.py"}
    assert {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()} == expected
    assert made.skeleton == f"{module}/{kind}.py"

    config = configparser.ConfigParser()
    config.read(target / "setup.cfg")
    assert config["metadata"]["name"] == f"claimbridge-acme-{kind}"
    assert config["options"]["packages"].strip() == module
    assert config["options"]["install_requires"].strip().startswith("claimbridge")
    assert "pytest" in config["options.extras_require"]["test"]
    entry_points = [line.strip() for line in config["options.entry_points"]["claimbridge"].splitlines() if line]
    assert entry_points == [f"acme_{kind} = {module}.plugin"]
    pyproject = tomllib.loads((target / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"

    for path in target.rglob("*.py"):
        py_compile.compile(str(path), doraise=True, cfile=str(tmp_path / "compiled.pyc"))
    skeleton = (target / made.skeleton).read_text()
    assert "NotImplementedError(" in skeleton and "not implemented: " in skeleton
    test_text = (target / made.test_file).read_text()
    assert 'pytest_plugins = ["claimbridge.testing"]' in test_text
    assert "def claimbridge_plugins_under_test" in test_text
    assert {"source": "check_source(", "clearinghouse": "check_clearinghouse(",
            "rules": "check_scrub_rule("}[kind] in test_text
    readme = (target / "README.md").read_text()
    for needed in ("pip install -e '.[test]'", "pytest", "claimbridge plugins list", made.skeleton):
        assert needed in readme
    if kind != "rules":
        assert f"type: acme_{kind}" in readme


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_generated_tests_fail_until_filled_in_then_pass(tmp_path, kind):
    target, made = new_plugin(tmp_path, kind)

    unfilled = run_generated_tests(target)
    output = unfilled.stdout + unfilled.stderr
    assert unfilled.returncode == 1, output
    assert "not implemented: " in output
    # the registration test passes already: the entry-point module and the hook are right from the start
    assert "failed" in output and "passed" in output

    code = FILLED[kind].replace("__CLS__", made.cls).replace("__PLUGIN__", made.plugin)
    (target / made.skeleton).write_text(code.lstrip(), encoding="utf-8")
    filled = run_generated_tests(target)
    output = filled.stdout + filled.stderr
    assert filled.returncode == 0, output
    assert " passed" in output and "failed" not in output and "error" not in output.lower()


def test_a_half_done_source_is_told_what_is_wrong(tmp_path):
    """The generated source tests hold the source to its data: yielding nothing does not pass."""
    target, made = new_plugin(tmp_path, "source")
    lazy = FILLED_SOURCE.replace("wanted.append((changed, key, bundle))", "pass  # forgot to keep it")
    lazy = lazy.replace("__CLS__", made.cls).replace("__PLUGIN__", made.plugin)
    assert lazy != FILLED_SOURCE
    (target / made.skeleton).write_text(lazy.lstrip(), encoding="utf-8")
    result = run_generated_tests(target)
    assert result.returncode == 1
    assert "test_reads_the_sample" in result.stdout


def test_the_generated_package_builds_a_wheel_with_its_entry_point(tmp_path):
    target, _ = new_plugin(tmp_path, "rules")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path / "dist"), str(target)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    [wheel] = (tmp_path / "dist").glob("claimbridge_acme_rules-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[claimbridge]" in text and "acme_rules = claimbridge_acme_rules.plugin" in text
    assert {"claimbridge_acme_rules/plugin.py", "claimbridge_acme_rules/rules.py"} <= set(names)


@pytest.mark.parametrize(("name", "says"), [
    ("Acme", "try 'acme'"),
    ("1acme", "not a valid plugin name"),
    ("acme sftp", "not a valid plugin name"),
    ("acme--sftp", "not a valid plugin name"),
    ("claimbridge-acme", "leave out the 'claimbridge' prefix"),
    ("ehr-fhir", "taken by claimbridge itself"),
    ("a" * 41, "longer than 40 characters"),
])
def test_an_invalid_name_is_refused_with_a_reason(tmp_path, name, says):
    result = claimbridge("plugin", "new", name, "--kind", "rules", "--dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Invalid value for NAME" in result.stderr and says in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_unknown_or_missing_kind_is_refused(tmp_path):
    result = claimbridge("plugin", "new", "acme", "--kind", "ehr", "--dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "'ehr' is not one of 'source', 'clearinghouse', 'rules'" in result.stderr
    result = claimbridge("plugin", "new", "acme", "--dir", str(tmp_path / "out"))
    assert result.returncode == 2 and "Missing option '--kind'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_that_is_not_empty_needs_force(tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    result = claimbridge("plugin", "new", "acme", "--kind", "source", "--dir", str(target))
    assert result.returncode == 1
    assert f"{target} is not empty" in result.stderr and "--force" in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]

    result = claimbridge("plugin", "new", "acme", "--kind", "source", "--dir", str(target), "--force")
    assert result.returncode == 0, result.stderr
    assert (target / "notes.txt").read_text() == "keep me"
    assert (target / "claimbridge_acme" / "source.py").is_file()

    (target / "setup.cfg").write_text("")  # --force again: the generated files are written afresh
    assert claimbridge("plugin", "new", "acme", "--kind", "source", "--dir", str(target), "--force").returncode == 0
    assert "claimbridge-acme" in (target / "setup.cfg").read_text()


def test_the_default_folder_is_named_after_the_distribution(tmp_path):
    result = claimbridge("plugin", "new", "acme_sftp", "--kind", "clearinghouse", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "claimbridge-acme-sftp" / "claimbridge_acme_sftp" / "clearinghouse.py").is_file()
    assert "pip install -e '.[test]'" in result.stdout


def test_the_templates_are_package_data():
    """A wheel of claimbridge carries the templates: setup.cfg lists the package and a glob matching each."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert "claimbridge.scaffold" in config["options"]["packages"].split()
    globs = config["options.package_data"]["claimbridge.scaffold"].split()
    base = ROOT / "core" / "scaffold"
    covered = {p for pattern in globs for p in base.glob(pattern)}
    templates = set(TEMPLATES.iterdir())
    assert templates and templates <= covered
    for kind in KINDS:
        assert set(plan("acme", kind).files().values()) <= {p.name for p in templates}
