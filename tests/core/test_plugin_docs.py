"""docs/plugins.md stays true to the code: every hook and public plugin base class has its section, and every
documented hook signature names the hookspec's parameters."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import claimbridge
from claimbridge import connectors, hookspecs
from claimbridge.claims.scrub.base import ScrubRule
from claimbridge.claims.scrub.profiles import PayerProfile

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
HEADING = re.compile(r"^### `([A-Za-z_][A-Za-z0-9_]*)`\s*$")
#: plugin base classes the hooks use that are not re-exported by the facade
EXTRA_BASE_CLASSES = {"ScrubRule": ScrubRule, "PayerProfile": PayerProfile}


def _hooks() -> dict[str, object]:
    return {name: fn for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, f"{hookspecs.PROJECT}_spec")}


def _base_classes() -> dict[str, type]:
    """Classes of the facade's ``__all__`` that come from ``claimbridge.connectors`` (what a plugin subclasses
    or builds), plus the scrubber's."""
    exported = {name: getattr(claimbridge, name) for name in claimbridge.__all__}
    classes = {name: obj for name, obj in exported.items()
               if inspect.isclass(obj) and obj.__module__ == connectors.__name__}
    return classes | EXTRA_BASE_CLASSES


def _sections(text: str) -> dict[str, str]:
    """``### `name` `` heading → the text under it, up to the next heading of level 1 to 3."""
    sections: dict[str, str] = {}
    current: str | None = None
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code:
            match = HEADING.match(line)
            if match:
                current = match.group(1)
                assert current not in sections, f"docs/plugins.md has two sections for {current}"
                sections[current] = ""
                continue
            if re.match(r"^#{1,3} ", line):
                current = None
                continue
        if current is not None:
            sections[current] += line + "\n"
    return sections


def _documented_params(name: str, section: str) -> list[str]:
    """Parameter names of the first ``def name(...)`` in the section (code blocks first)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, flags=re.DOTALL)
    for chunk in [*blocks, section]:
        match = re.search(rf"def {re.escape(name)}\((.*?)\)(\s*->\s*[^:\n]+)?", chunk, flags=re.DOTALL)
        if match:
            tree = ast.parse(f"def {name}({match.group(1)}): ...")
            args = tree.body[0].args
            return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
    raise AssertionError(f"section `{name}` has no `def {name}(...)` signature")


@pytest.fixture(scope="module")
def sections() -> dict[str, str]:
    return _sections(DOC.read_text(encoding="utf-8"))


def test_every_hook_has_a_section(sections):
    missing = sorted(set(_hooks()) - set(sections))
    assert not missing, f"hooks without a ### `name` section in docs/plugins.md: {missing}"


def test_every_lowercase_section_names_a_real_hook(sections):
    unknown = sorted(name for name in sections if name[0].islower() and name not in _hooks())
    assert not unknown, f"docs/plugins.md documents hooks that do not exist: {unknown}"


def test_every_capitalised_section_names_a_real_class(sections):
    known = set(_base_classes()) | set(claimbridge.__all__)
    unknown = sorted(name for name in sections if name[0].isupper() and name not in known)
    assert not unknown, f"docs/plugins.md documents classes claimbridge does not have: {unknown}"


def test_every_public_base_class_has_a_section(sections):
    expected = {"EhrSource", "Stream", "Record", "BadRecord", "Clearinghouse", "OutboundFile", "RemoteFile",
                "SubmitResult", "ScrubRule", "PayerProfile"}
    assert expected <= set(_base_classes())
    missing = sorted(set(_base_classes()) - set(sections))
    assert not missing, f"public base classes without a ### `Name` section in docs/plugins.md: {missing}"


@pytest.mark.parametrize("name", sorted(_hooks()))
def test_documented_signature_matches_the_hookspec(sections, name):
    if name not in sections:
        pytest.skip("missing section is reported by test_every_hook_has_a_section")
    spec = list(inspect.signature(_hooks()[name]).parameters)
    assert _documented_params(name, sections[name]) == spec


def test_every_exported_error_is_explained():
    text = DOC.read_text(encoding="utf-8")
    errors = [name for name in claimbridge.__all__
              if inspect.isclass(getattr(claimbridge, name)) and issubclass(getattr(claimbridge, name), Exception)]
    missing = [name for name in errors if f"`{name}" not in text]
    assert not missing, f"errors exported by claimbridge but not in docs/plugins.md: {missing}"


def test_the_checks_catch_drift():
    doc = ("### `adjust_claim`\n```python\ndef adjust_claim(claim, ctx) -> None\n```\n"
           "### `no_such_hook`\ntext\n## Other\n")
    found = _sections(doc)
    assert set(found) == {"adjust_claim", "no_such_hook"}
    assert _documented_params("adjust_claim", found["adjust_claim"]) == ["claim", "ctx"]
    assert _documented_params("adjust_claim", found["adjust_claim"]) != list(
        inspect.signature(_hooks()["adjust_claim"]).parameters)
    assert "no_such_hook" not in _hooks()


def test_every_testing_kit_name_is_documented():
    import claimbridge.testing

    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in claimbridge.testing.__all__ if f"`{name}" not in text]
    assert not missing, f"claimbridge.testing exports names docs/plugins.md does not mention: {missing}"


def test_every_rule_example_helper_is_documented():
    from claimbridge.claims import scrub
    from claimbridge.claims.scrub import base, examples

    helpers = [name for name in scrub.__all__ if name in vars(examples) and not hasattr(base, name)]
    assert {"example", "example_facts", "prior_visits", "EXAMPLE_TODAY"} <= set(helpers)
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in helpers if f"`{name}" not in text]
    assert not missing, f"rule example helpers docs/plugins.md does not mention: {missing}"
