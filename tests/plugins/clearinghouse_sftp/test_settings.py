"""Settings of the SFTP clearinghouse: presets, overrides, validation, secrets, registration."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from claimbridge import Secret
from claimbridge.plugin_host import create_plugin_host
from claimbridge.plugins.clearinghouse_sftp.connector import SftpClearinghouse
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings

BASE = {"host": "sftp.example.org", "username": "practice", "password": "s3cret",
        "known_hosts": "/etc/claimbridge/known_hosts"}


def settings(**changes) -> SftpSettings:
    values = {**BASE, **changes}
    return SftpSettings.model_validate({k: v for k, v in values.items() if v is not None})


@pytest.mark.parametrize(("preset", "upload", "responses"), [
    ("generic", "inbound", "outbound"),
    ("office_ally", "inbound", "outbound"),
    ("stedi", "to-stedi", "from-stedi"),
])
def test_presets(preset, upload, responses):
    folders = settings(preset=preset).folders
    assert (folders.upload, folders.responses, folders.archive) == (upload, responses, "archive")


def test_every_folder_can_be_overridden():
    folders = settings(preset="stedi", upload_dir="/claims/in", responses_dir="reports",
                       archive_dir="reports/done").folders
    assert (folders.upload, folders.responses, folders.archive) == ("/claims/in", "reports", "reports/done")
    assert settings(preset="stedi", responses_dir="mine").folders.upload == "to-stedi"


def test_defaults():
    s = settings()
    assert (s.port, s.preset, s.temp_suffix, s.keepalive_seconds) == (22, "generic", ".part", 30)
    assert s.connect_timeout > 0 and s.io_timeout > 0
    assert s.endpoint == "sftp.example.org:22"


def test_a_credential_is_required():
    with pytest.raises(ValidationError, match="give password or private_key_path"):
        settings(password=None)
    assert settings(password=None, private_key_path="/keys/id_ed25519").private_key_path is not None


def test_passphrase_without_key_is_an_error():
    with pytest.raises(ValidationError, match="private_key_passphrase is set but private_key_path is not"):
        settings(private_key_passphrase="x")


def test_unknown_keys_are_errors():
    with pytest.raises(ValidationError, match="extra_forbidden|Extra inputs"):
        settings(auto_add_host_keys=True)


def test_known_hosts_is_required():
    values = dict(BASE)
    del values["known_hosts"]
    with pytest.raises(ValidationError, match="known_hosts"):
        SftpSettings.model_validate(values)


@pytest.mark.parametrize("changes", [
    {"preset": "availity"}, {"port": 0}, {"port": 70000}, {"connect_timeout": 0}, {"io_timeout": -1},
    {"keepalive_seconds": -1}, {"temp_suffix": ""}, {"temp_suffix": "/x"}, {"upload_dir": " "},
    {"picked_up_dirs": [""]},
])
def test_invalid_values(changes):
    with pytest.raises(ValidationError):
        settings(**changes)


def test_secrets_never_show():
    s = settings(private_key_path="/k", private_key_passphrase="xyzzy-42")
    assert isinstance(s.password, Secret) and s.password.reveal() == "s3cret"
    text = repr(s) + str(s) + s.model_dump_json()
    assert "s3cret" not in text and "xyzzy-42" not in text


def test_registered_as_type_sftp():
    host = create_plugin_host(env={"CLAIMBRIDGE_DISABLE_PLUGINS": "ehr_fhir"})
    assert host.clearinghouse_class("sftp") is SftpClearinghouse
    assert SftpClearinghouse.settings_model is SftpSettings
