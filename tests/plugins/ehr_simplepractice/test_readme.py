"""The plugin's README documents every export kind and every mapping key with its default header."""

from pathlib import Path

from claimbridge.plugins.ehr_simplepractice.layouts import LAYOUTS
from claimbridge.plugins.ehr_simplepractice.settings import SimplePracticeSettings

README = Path(__file__).resolve().parents[3] / "plugins" / "ehr_simplepractice" / "README.md"


def test_every_mapping_key_and_default_header_is_in_the_readme():
    text = README.read_text(encoding="utf-8")
    for kind, layout in LAYOUTS.items():
        section = text.split(f"(`{kind}`)", 1)[1].split("\n### ", 1)[0]
        for column in layout.columns:
            assert f"| `{column.key}` | {column.header}" in section, (kind, column.key)


def test_every_setting_is_in_the_readme():
    text = README.read_text(encoding="utf-8")
    assert not [name for name in SimplePracticeSettings.model_fields if name not in text]
