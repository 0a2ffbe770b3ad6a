"""Payer profiles: the shipped ones, the examples, and loading errors reported with file and key path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from claimbridge.claims.scrub.profiles import (
    BUILTIN_PROFILE_DIR,
    PayerProfile,
    ProfileSet,
    builtin_profiles,
    load_profile_dir,
    load_profile_file,
    load_profiles,
    profile_dir_for,
)
from claimbridge.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "payers"


def test_shipped_profiles():
    profiles = builtin_profiles()
    assert set(profiles) == {"default", "medicare", "medicaid-example", "commercial-example"}
    medicare = profiles["medicare"]
    assert medicare.timely_filing_days == 365 and medicare.claim_filing_indicator == "MB"
    assert medicare.telehealth_modifier == "none" and medicare.telehealth_pos == ["02", "10"]
    restricted = {code for r in medicare.provider_restrictions if "103T" in r.taxonomies for code in r.codes}
    assert {"90792", "90833", "90836", "90838"} <= restricted
    assert any("1041C0700X" in r.taxonomies for r in medicare.provider_restrictions)
    medicaid = profiles["medicaid-example"]
    assert medicaid.telehealth_modifier == "GT" and medicaid.group_modifier == "HQ"
    assert "90837" in medicaid.authorization_required_codes
    assert profiles["default"].payer_ids == []


@pytest.mark.parametrize("path", sorted(BUILTIN_PROFILE_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_key_of_a_shipped_profile_is_commented(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    keys = set(PayerProfile.model_fields)
    assert {line.split(":")[0] for line in lines if re.match(r"^[a-z_0-9]+:", line)} == keys  # every key, spelled out
    for n, line in enumerate(lines):
        if re.match(r"^[a-z_0-9]+:", line) and line.split(":")[0] != "name":
            before = lines[n - 1]
            assert before.startswith("#") or "#" in line, \
                f"{path.name}: {line.split(':')[0]} has no comment"


def test_the_example_folder_loads():
    names = {p.name for p in load_profile_dir(EXAMPLES)}
    assert names == {"lakeshore", "prairie-medicaid"}
    profiles = load_profiles(profile_dir=EXAMPLES)
    assert profiles.for_payer("PSMCD").name == "prairie-medicaid"
    assert profiles.for_payer("LKSHP").name == "lakeshore"
    assert profiles.for_payer(None).name == "default" and profiles.for_payer("OTHER").name == "default"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_errors_name_the_file_and_the_key_path(tmp_path):
    _write(tmp_path, "acme.yaml", "timely_filing_dayz: 90\nprovider_restrictions:\n  - codes: [90792]\n"
                                  "telehealth_modifier: XX\n")
    with pytest.raises(ConfigError) as error:
        load_profile_dir(tmp_path)
    problems = error.value.problems
    path = str(tmp_path / "acme.yaml")
    assert f"{path}: timely_filing_dayz: unknown key (check the spelling)" in problems
    assert f"{path}: provider_restrictions[0].taxonomies: required key is missing" in problems
    assert any(p.startswith(f"{path}: telehealth_modifier: ") for p in problems)


def test_every_bad_file_is_reported_at_once(tmp_path):
    _write(tmp_path, "one.yaml", "payer_ids: [A\n")
    _write(tmp_path, "two.yaml", "- just\n- a list\n")
    _write(tmp_path, "three.yaml", "name: four\n")
    _write(tmp_path, "_draft.yaml", "nonsense: [")  # skipped
    with pytest.raises(ConfigError) as error:
        load_profile_dir(tmp_path)
    text = str(error.value)
    assert "3 problems" in text
    assert re.search(r"one\.yaml: not valid YAML at line 2, column 1", text)
    assert "two.yaml: (top level): a payer profile is a mapping of keys, not a list" in text
    assert "three.yaml: name: 'four' differs from the file name 'three'" in text


def test_one_file(tmp_path):
    profile = load_profile_file(_write(tmp_path, "solo.yaml", "# nothing but defaults\n"))
    assert profile.name == "solo" and profile.timely_filing_days == 180
    with pytest.raises(ConfigError, match="max_96127_units: Input should be greater than or equal to 1"):
        load_profile_file(_write(tmp_path, "zero.yaml", "max_96127_units: 0\n"))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_profile_file(tmp_path / "missing.yaml")


def test_a_payer_id_in_two_profiles_or_no_default_is_an_error():
    a = PayerProfile(name="a", payer_ids=["X1"])
    b = PayerProfile(name="b", payer_ids=["x1 "])
    with pytest.raises(ConfigError, match="payer id 'x1 ' is listed by both 'a' and 'b'"):
        ProfileSet([PayerProfile(name="default"), a, b])
    with pytest.raises(ConfigError, match="no profile named 'default'"):
        ProfileSet([a])


def test_a_practice_profile_replaces_one_of_the_same_name(tmp_path):
    _write(tmp_path, "medicare.yaml", "payer_ids: ['99999']\ntimely_filing_days: 365\n")
    profiles = load_profiles(profile_dir=tmp_path)
    assert profiles.for_payer("99999").name == "medicare" and profiles.for_payer("06102").name == "default"


def test_the_practice_folder_is_next_to_the_configuration_file(tmp_path):
    config = tmp_path / "claimbridge.yaml"
    assert profile_dir_for(config) is None and profile_dir_for(None) is None
    (tmp_path / "payers").mkdir()
    assert profile_dir_for(config) == (tmp_path / "payers").resolve()
    with pytest.raises(ConfigError, match="not a folder"):
        load_profile_dir(tmp_path / "nope")
