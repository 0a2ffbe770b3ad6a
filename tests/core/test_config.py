import logging
import textwrap
from pathlib import Path

import pytest

from claimbridge import ConfigError, ConnectorSettings, Secret
from claimbridge.config import load_config

VALID = """
practice:
  name: Practice
  npi: "1234567893"
  tax_id: "123456789"
  address: {line: ["1 Main St"], city: Portland, state: ME, postal_code: "041011234"}
  contact: {name: Office, phone: "2075550100"}
submitter:
  id: SUB1
  name: Practice
  contact: {name: Office}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "claimbridge.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_minimal_file_loads_with_defaults(tmp_path):
    settings = load_config(write(tmp_path, VALID), env={})
    assert settings.database.url == f"sqlite:///{(tmp_path / 'claimbridge.db').resolve()}"
    assert settings.claims.pcn_prefix == "CB"
    assert settings.workdir == tmp_path.resolve()


def test_three_mistakes_are_reported_at_once_with_their_key_paths(tmp_path):
    text = VALID.replace('npi: "1234567893"', 'npi: "12345"').replace("state: ME", "state: Maine")
    text += "claimz: {}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    problems = info.value.problems
    assert len(problems) == 3, problems
    joined = "\n".join(problems)
    assert "practice.npi" in joined
    assert "practice.address.state" in joined
    assert "claimz: unknown key" in joined
    assert str(tmp_path / "claimbridge.yaml") in str(info.value)


def test_missing_environment_variable_is_a_problem_naming_the_key(tmp_path):
    text = VALID + "database: {url: 'postgresql://u:${DB_PASSWORD}@db/claimbridge'}\n"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.problems == ["database.url: environment variable DB_PASSWORD is not set"]


def test_environment_values_are_substituted(tmp_path):
    text = VALID + "database: {url: 'postgresql://u:${DB_PASSWORD}@db/claimbridge'}\n"
    settings = load_config(write(tmp_path, text), env={"DB_PASSWORD": "s3cr3t"})
    assert settings.database.url == "postgresql://u:s3cr3t@db/claimbridge"


def test_not_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "practice: [unclosed\n"), env={})
    assert "line 2" in str(info.value) or "line 1" in str(info.value)


def test_missing_file_says_how_to_start(tmp_path):
    with pytest.raises(ConfigError, match="claimbridge.example.yaml"):
        load_config(tmp_path / "nope.yaml")


class DemoSettings(ConnectorSettings):
    token: Secret
    url: str


def test_secrets_never_show_in_reprs_dumps_or_logs(caplog):
    settings = DemoSettings(token=Secret("hunter2-token"), url="https://x")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("settings: %s %r", settings, settings)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert "hunter2" not in settings.model_dump_json()
    assert "hunter2" not in caplog.text
    assert settings.token.reveal() == "hunter2-token"


def test_example_configuration_is_valid(monkeypatch):
    from claimbridge.plugin_host import create_plugin_host

    example = Path(__file__).resolve().parents[2] / "config" / "claimbridge.example.yaml"
    from claimbridge.config import connector_settings

    host = create_plugin_host()
    settings = load_config(example, host, env={"OFFICE_ALLY_SFTP_PASSWORD": "x"})
    assert [s.name for s in settings.sources] == ["main-ehr", "backfill", "simplepractice"]
    for entry in settings.sources:  # each example's settings are valid for its plugin
        cls = host.source_class(entry.type)
        assert isinstance(connector_settings(entry, cls.settings_model, example.parent), cls.settings_model)


def test_relative_connector_paths_are_taken_from_the_config_folder(tmp_path):
    from claimbridge.config import ConnectorEntry, connector_settings
    from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings
    from claimbridge.plugins.ehr_fhir.settings import FhirSourceSettings

    entry = ConnectorEntry(name="ch", type="sftp", settings={
        "host": "h", "username": "u", "private_key_path": "keys/id", "known_hosts": "keys/known_hosts",
        "upload_dir": "inbound"})
    sftp = connector_settings(entry, SftpSettings, tmp_path)
    assert sftp.private_key_path == tmp_path / "keys/id"
    assert sftp.known_hosts == tmp_path / "keys/known_hosts"
    assert sftp.upload_dir == "inbound"  # a remote folder: never rewritten
    fhir = connector_settings(ConnectorEntry(name="f", type="fhir", settings={
        "base_url": "https://x/fhir", "auth": {"type": "smart_backend", "token_url": "https://x/token",
                                               "client_id": "c", "private_key_path": "fhir.pem", "key_id": "k"}}),
        FhirSourceSettings, tmp_path)
    assert fhir.auth.private_key_path == tmp_path / "fhir.pem"
