"""setup.cfg lists its packages by hand (``claimbridge`` is the ``core`` folder): a package left out works in the
editable install the tests use and is missing from a wheel. Every package folder must be listed."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _declared() -> tuple[set[str], dict[str, str]]:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    packages = {line.strip() for line in config["options"]["packages"].splitlines() if line.strip()}
    folders = {}
    for line in config["options"]["package_dir"].splitlines():
        if "=" in line:
            package, folder = (part.strip() for part in line.split("=", 1))
            folders[package] = folder
    return packages, folders


def test_every_package_folder_is_in_setup_cfg():
    packages, folders = _declared()
    found = set()
    for package, folder in folders.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base)
            if "node_modules" in relative.parts or "__pycache__" in relative.parts:
                continue
            found.add(".".join((package, *relative.parts)) if relative.parts else package)
    assert found - packages == set(), "add these to [options] packages in setup.cfg"
    assert packages - found == set(), "these listed packages have no folder with an __init__.py"
