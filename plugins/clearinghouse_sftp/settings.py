"""Settings of the SFTP clearinghouse connector, and the folder layouts of known clearinghouses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from claimbridge import ConnectorSettings, Secret


@dataclass(frozen=True)
class FolderLayout:
    """Where claims go, where responses come back, and where read responses are moved to."""

    upload: str
    responses: str
    archive: str


#: Folder layouts by preset name. Paths are relative to the account's login folder. Every folder can be
#: overridden in the settings, because accounts differ (Availity, Waystar, Claim.MD: per account).
PRESETS: dict[str, FolderLayout] = {
    # Office Ally: the clearinghouse's "inbound" is where we drop claims; reports come back in "outbound".
    "office_ally": FolderLayout(upload="inbound", responses="outbound", archive="archive"),
    "stedi": FolderLayout(upload="to-stedi", responses="from-stedi", archive="archive"),
    # the sandbox clearinghouse uses this one
    "generic": FolderLayout(upload="inbound", responses="outbound", archive="archive"),
}

PresetName = Literal["generic", "office_ally", "stedi"]


class SftpSettings(ConnectorSettings):
    """``clearinghouses[].settings`` for ``type: sftp``."""

    host: str = Field(min_length=1, description="SFTP host name or address")
    port: int = Field(22, ge=1, le=65535, description="SFTP port")
    username: str = Field(min_length=1, description="account name")
    password: Secret | None = Field(None, description="account password (or use private_key_path)")
    private_key_path: Path | None = Field(None, description="OpenSSH private key file (Ed25519, ECDSA, RSA)")
    private_key_passphrase: Secret | None = Field(None, description="passphrase of the private key, if any")
    known_hosts: Path = Field(description="known_hosts file holding the clearinghouse's pinned host key "
                                          "(`[host]:port` entries for ports other than 22); an unknown or "
                                          "changed key is refused, never added")
    preset: PresetName = Field("generic", description="folder layout: generic, office_ally or stedi")
    upload_dir: str | None = Field(None, description="folder claims are uploaded to (default: the preset's)")
    responses_dir: str | None = Field(None, description="folder responses are collected from "
                                                        "(default: the preset's)")
    archive_dir: str | None = Field(None, description="folder read responses are moved to, created when "
                                                      "missing (default: the preset's)")
    picked_up_dirs: tuple[str, ...] = Field((), description="folders the clearinghouse moves uploaded files "
                                                          "into once it has taken them; a file of the same "
                                                          "name and size there is not uploaded again")
    connect_timeout: float = Field(15.0, gt=0, description="seconds for TCP connect, SSH banner, "
                                                           "authentication and opening the SFTP channel")
    io_timeout: float = Field(60.0, gt=0, description="seconds to wait for any answer once connected")
    keepalive_seconds: int = Field(30, ge=0, description="SSH keepalive interval; 0 turns keepalives off")
    temp_suffix: str = Field(".part", min_length=1, description="suffix of the temporary name a file is "
                                                                "uploaded under before it is renamed")

    @field_validator("upload_dir", "responses_dir", "archive_dir")
    @classmethod
    def _folder_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty; use '.' for the login folder")
        return value

    @field_validator("picked_up_dirs")
    @classmethod
    def _folders_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not folder.strip() for folder in value):
            raise ValueError("folders must not be empty; use '.' for the login folder")
        return value

    @field_validator("temp_suffix")
    @classmethod
    def _suffix_is_a_name_part(cls, value: str) -> str:
        if "/" in value or "\0" in value:
            raise ValueError("must not contain '/' or NUL")
        return value

    @model_validator(mode="after")
    def _credentials_given(self) -> SftpSettings:
        if not self.password and self.private_key_path is None:
            raise ValueError("give password or private_key_path (or both)")
        if self.private_key_passphrase is not None and self.private_key_path is None:
            raise ValueError("private_key_passphrase is set but private_key_path is not")
        return self

    @property
    def folders(self) -> FolderLayout:
        """The preset's layout with this account's overrides applied."""
        preset = PRESETS[self.preset]
        return FolderLayout(
            upload=self.upload_dir if self.upload_dir is not None else preset.upload,
            responses=self.responses_dir if self.responses_dir is not None else preset.responses,
            archive=self.archive_dir if self.archive_dir is not None else preset.archive,
        )

    @property
    def endpoint(self) -> str:
        """``host:port``, as used in messages."""
        return f"{self.host}:{self.port}"
