"""The example third-party plugin examples/claimbridge-prairie-medicaid-rules, installed as a user would.

The distribution is pip-installed (a real, non-editable install, built offline with the installed setuptools)
into the running environment for this module and uninstalled afterwards, so the environment is left as found.
"""

from __future__ import annotations

import datetime as dt
import importlib
import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from claimbridge.claims import systems

from .scrub.conftest import (
    add_line,
    claim_bundle,
    demo_claim,
    set_code,
    set_modifiers,
    set_payer_id,
    write_json,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "claimbridge-prairie-medicaid-rules"
DIST = "claimbridge-prairie-medicaid-rules"
PLUGIN = "prairie_medicaid"
LEVEL = "prairie_medicaid.practitioner_level"
CAP = "prairie_medicaid.annual_visit_cap"


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


def _installed() -> bool:
    try:
        importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    if _installed():
        pytest.skip(f"{DIST} is already installed in this environment; not touching it")
    # build from a copy so the build leaves no build/ or *.egg-info in the repository
    source = tmp_path_factory.mktemp("example") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    result = _pip("install", "--no-deps", "--no-build-isolation", "-q", str(source))
    if result.returncode != 0:
        _pip("uninstall", "-y", "-q", DIST)
        reason = ("setuptools needs the 'wheel' package to build it (invalid command 'bdist_wheel')"
                  if "bdist_wheel" in result.stderr else result.stderr.strip()[-300:])
        pytest.skip(f"pip could not build/install the example offline: {reason}")
    importlib.invalidate_caches()
    try:
        yield source
    finally:
        _pip("uninstall", "-y", "-q", DIST)
        importlib.invalidate_caches()
        for name in [m for m in sys.modules if m == "prairie_medicaid_rules" or m.startswith("prairie_medicaid_rules.")]:
            del sys.modules[name]
        assert not _installed()


def claimbridge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "claimbridge.cli", *args], capture_output=True, text=True,
                          timeout=300)


def psmcd_claim(code: str, *modifiers: str) -> dict:
    claim = set_payer_id(demo_claim("enc-002"), "PSMCD")
    system = systems.CPT if code[0].isdigit() else systems.HCPCS
    set_code(claim, 0, code, system)
    set_modifiers(claim, 0, *modifiers)
    return claim


def over_the_cap() -> dict:
    """25 psychotherapy visits on 25 dates of one year on a single claim (the CLI's context is empty)."""
    claim = psmcd_claim("90834")
    year = dt.date.fromisoformat(claim["item"][0]["servicedDate"]).year
    first = dt.date(year, 1, 1)
    for n in range(1, 26):
        day = first + dt.timedelta(days=7 * n)
        if day.isoformat() != claim["item"][0]["servicedDate"]:
            add_line(claim, "90834", service_date=day.isoformat())
    del claim["item"][25:]
    claim["total"]["value"] = sum(i["net"]["value"] for i in claim["item"])
    return claim


def test_entry_point_loads_with_the_distribution_as_origin(installed):
    from claimbridge.plugin_host import create_plugin_host

    host = create_plugin_host()
    listed = claimbridge("plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = [p for p in json.loads(listed.stdout) if p["name"] == PLUGIN]
    assert entry["status"] == "loaded"
    assert entry["origin"].startswith(DIST) and entry["origin"].endswith("0.1.0")
    assert entry["module"] == "prairie_medicaid_rules.plugin"
    assert set(entry["scrub_rules"]) == {LEVEL, CAP}
    assert {LEVEL, CAP} <= set(host.scrub_rules)
    assert PLUGIN not in {f.name for f in host.failed}


@pytest.fixture(scope="module")
def claim_files(installed, tmp_path_factory):
    folder = tmp_path_factory.mktemp("claims")
    claims = {
        "passes": psmcd_claim("H0004", "HO"),
        "no_level": psmcd_claim("H0004"),
        "both_levels": psmcd_claim("H2019", "HN", "HO"),
        "over_cap": over_the_cap(),
        "other_payer": set_payer_id(psmcd_claim("H0031"), "LKSHP"),
    }
    return {name: str(write_json(folder / f"{name}.json", claim_bundle(claim))) for name, claim in claims.items()}


def scrub_json(files: dict, *names: str) -> dict[str, list[dict]]:
    result = claimbridge("scrub", "--json", *(files[n] for n in names))
    assert result.returncode in (0, 1), result.stderr
    by_file = {json.loads(line)["file"]: json.loads(line)["findings"] for line in result.stdout.splitlines()}
    return {name: [f for f in by_file[files[name]] if f["rule"].startswith("prairie_medicaid.")] for name in names}


def test_scrub_reports_each_rule_and_passes_a_good_claim(claim_files):
    found = scrub_json(claim_files, "passes", "no_level", "both_levels", "over_cap", "other_payer")
    assert found["passes"] == []
    assert found["other_payer"] == []  # the rules apply to Prairie State Medicaid only
    [missing] = found["no_level"]
    assert missing["rule"] == LEVEL and missing["severity"] == "error"
    assert "H0004" in missing["message"] and missing["path"] == "Claim.item[0].modifier"
    [both] = found["both_levels"]
    assert both["rule"] == LEVEL and "both HN and HO" in both["message"]
    [cap] = found["over_cap"]
    assert cap["rule"] == CAP and cap["severity"] == "error"
    assert "25 psychotherapy visits" in cap["message"] and "cap 24" in cap["message"]


def test_visit_cap_counts_the_patients_other_claims(installed):
    from claimbridge.claims.scrub import PriorClaimLine, ScrubContext, create_scrubber
    from claimbridge.claims.scrub.facts import facts_from_claim

    scrubber = create_scrubber()
    claim = psmcd_claim("90834")
    facts = facts_from_claim(claim)
    day = facts.lines[0].service_date
    year_start = dt.date(day.year, 1, 1)
    pool = [d for d in (year_start + dt.timedelta(days=n) for n in range(40)) if d != day]
    others = [PriorClaimLine(pcn=f"PX{n:08d}01", patient_key=facts.patient_key, rendering_npi=None, code="90837",
                             service_date=d) for n, d in enumerate(pool[:23])]

    def cap_findings(prior):
        result = scrubber.scrub(claim, context=ScrubContext(today=day, prior_lines=prior))
        return [f for f in result.findings if f.rule == CAP]

    assert cap_findings(others) == []  # 23 + this one = 24: at the cap
    extra = PriorClaimLine(pcn="CB9999999901", patient_key=facts.patient_key, rendering_npi=None, code="H0004",
                           service_date=pool[23])
    [finding] = cap_findings([*others, extra])
    assert "25 psychotherapy visits" in finding.message
    # another version of this same claim is not another visit; another patient's visits don't count
    same_claim = PriorClaimLine(pcn=facts.pcn[:-2] + "02", patient_key=facts.patient_key, rendering_npi=None,
                                code="90834", service_date=extra.service_date)
    stranger = PriorClaimLine(pcn="CB8888888801", patient_key="someone-else", rendering_npi=None, code="90834",
                              service_date=extra.service_date)
    assert cap_findings([*others, same_claim, stranger]) == []


def test_the_installed_rules_pass_the_conformance_check_through_their_entry_point(installed):
    from claimbridge.testing import check_scrub_rule, make_plugin_host

    host = make_plugin_host([PLUGIN])
    rules = {rule_id: rule for rule_id, rule in host.scrub_rules.items() if rule_id.startswith("prairie_medicaid.")}
    assert set(rules) == {LEVEL, CAP}
    for rule in rules.values():
        assert rule.passes and rule.fails  # the rules carry their own examples
        check_scrub_rule(rule)
