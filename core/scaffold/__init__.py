"""``claimbridge plugin new``: write a ready-to-install plugin package from templates.

The templates live in ``templates/`` next to this module (package data, ``*.tmpl``) and are filled in with
:class:`string.Template` (``${name}`` placeholders). Three kinds:

* ``source`` — an :class:`~claimbridge.EhrSource` with an ``encounters`` stream, read from a JSON export file;
* ``clearinghouse`` — a :class:`~claimbridge.Clearinghouse` that drops files in folders;
* ``rules`` — a :class:`~claimbridge.claims.scrub.ScrubRule` with its passing and failing examples.

Every part a developer must write raises ``NotImplementedError("not implemented: …")`` saying what to do, and the
generated tests run the conformance checks of ``claimbridge.testing`` on it, so ``pytest`` fails with those
messages until the skeleton is filled in.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

__all__ = ["KINDS", "Plan", "ScaffoldError", "generate", "plan"]

#: what ``--kind`` accepts, with a one-line description
KINDS = {
    "source": "an EHR source (EhrSource with an encounters stream)",
    "clearinghouse": "a clearinghouse transport (Clearinghouse: submit, list_inbound, fetch, archive)",
    "rules": "scrub rules (ScrubRule subclasses with passing and failing examples)",
}
#: a plugin name: lowercase words of letters and digits joined by ``-`` (or ``_``), starting with a letter
NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME = 40
#: plugin (entry-point) names claimbridge itself uses
RESERVED = {"ehr_fhir", "clearinghouse_sftp", "ehr_simplepractice", "scrub_builtin", "claimbridge", "testing", "plugin", "plugins"}
#: the module the kind's skeleton goes in, inside the generated package
SKELETON_MODULE = {"source": "source", "clearinghouse": "clearinghouse", "rules": "rules"}


class ScaffoldError(ValueError):
    """The plugin cannot be generated; ``param`` is the option at fault (``name``, ``kind`` or ``dir``)."""

    def __init__(self, param: str, message: str):
        self.param = param
        super().__init__(message)


@dataclass(frozen=True)
class Plan:
    """The names of a plugin to generate, and where it goes."""

    name: str          # as given, normalised: acme-sftp
    kind: str
    target: Path       # the package's folder
    dist: str          # claimbridge-acme-sftp
    module: str        # claimbridge_acme_sftp
    plugin: str        # acme_sftp: entry-point name, connector type name, rule id prefix
    cls: str           # AcmeSftp: class name prefix

    @property
    def skeleton(self) -> str:
        """The generated file a developer fills in, relative to :attr:`target`."""
        return f"{self.module}/{SKELETON_MODULE[self.kind]}.py"

    @property
    def test_file(self) -> str:
        return f"tests/test_{self.module}.py"

    def files(self) -> dict[str, str]:
        """Relative path → template name."""
        kind = self.kind
        return {
            "pyproject.toml": "pyproject.toml.tmpl",
            "setup.cfg": "setup.cfg.tmpl",
            "README.md": f"README_{kind}.md.tmpl",
            f"{self.module}/__init__.py": "__init__.py.tmpl",
            f"{self.module}/plugin.py": f"plugin_{kind}.py.tmpl",
            self.skeleton: f"{SKELETON_MODULE[kind]}.py.tmpl",
            self.test_file: f"test_{kind}.py.tmpl",
        }

    def values(self) -> dict[str, str]:
        from claimbridge import __version__

        return {"name": self.name, "kind": self.kind, "dist": self.dist, "module": self.module,
                "plugin": self.plugin, "cls": self.cls, "target": self.target.name,
                "claimbridge_version": __version__, "kind_description": KINDS[self.kind]}


def plan(name: str, kind: str, directory: Path | None = None) -> Plan:
    """Check the name and kind and work out every generated name; ``directory`` defaults to
    ``./claimbridge-<name>``."""
    if kind not in KINDS:
        raise ScaffoldError("kind", f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    given = name
    name = name.strip()
    if name.lower().startswith("claimbridge"):
        raise ScaffoldError("name", f"{given!r}: leave out the 'claimbridge' prefix, it is added for you "
                                    f"(e.g. 'acme-sftp' makes the distribution claimbridge-acme-sftp)")
    if not NAME.match(name):
        hint = f" (try {name.lower()!r})" if name != name.lower() and NAME.match(name.lower()) else ""
        raise ScaffoldError("name", f"{given!r} is not a valid plugin name{hint}: use lowercase letters, digits "
                                    "and '-', starting with a letter, e.g. 'acme-sftp'")
    if len(name) > MAX_NAME:
        raise ScaffoldError("name", f"{given!r} is longer than {MAX_NAME} characters; pick a shorter name")
    parts = re.split(r"[-_]", name)
    plugin = "_".join(parts)
    if plugin in RESERVED or keyword.iskeyword(plugin):
        raise ScaffoldError("name", f"{given!r} is taken by claimbridge itself (plugin name {plugin!r}); "
                                    "pick another name, e.g. your organisation's: 'acme-fhir'")
    normalised = "-".join(parts)
    target = Path(directory) if directory is not None else Path(f"claimbridge-{normalised}")
    return Plan(name=normalised, kind=kind, target=target, dist=f"claimbridge-{normalised}",
                module=f"claimbridge_{plugin}", plugin=plugin, cls="".join(p.capitalize() for p in parts))


def template(name: str) -> str:
    return resources.files(__name__).joinpath("templates", name).read_text(encoding="utf-8")


def render(plan_: Plan) -> dict[str, str]:
    """Relative path → generated text."""
    values = plan_.values()
    return {path: Template(template(tmpl)).substitute(values) for path, tmpl in plan_.files().items()}


def generate(name: str, kind: str, directory: Path | None = None, *, force: bool = False) -> Plan:
    """Write the plugin package; refuses a target that is a file, or a folder holding anything unless
    ``force`` (then the generated files are overwritten and everything else is left alone)."""
    plan_ = plan(name, kind, directory)
    target = plan_.target
    if target.exists() and not target.is_dir():
        raise ScaffoldError("dir", f"{target} exists and is not a folder; pick another --dir")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ScaffoldError("dir", f"{target} is not empty; pick another --dir, empty it, or pass --force to "
                                   "overwrite the generated files (other files are left alone)")
    files = render(plan_)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return plan_
