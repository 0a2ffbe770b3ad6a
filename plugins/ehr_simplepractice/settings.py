"""Settings of the ``simplepractice`` source (``sources[].settings``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from claimbridge import ConnectorSettings
from claimbridge.plugins.clearinghouse_sftp.settings import SftpSettings
from claimbridge.plugins.ehr_fhir.appointments import AppointmentSettings

from .mapping import validate_overrides


class ClinicianSettings(ConnectorSettings):
    """A clinician as named in the exports (the billing report has names only)."""

    npi: str = Field(pattern=r"^\d{10}$", description="the clinician's individual NPI (rendering provider)")
    taxonomy: str | None = Field(None, pattern=r"^[0-9A-Z]{9}X$",
                                 description="NUCC taxonomy code of the clinician (PRV*PE), if the payer wants it")
    supervisor: str | None = Field(None, description="name of the supervising clinician (as written in the "
                                                     "exports and listed under clinicians), for pre-licensed "
                                                     "clinicians who bill under supervision")


class LocationAddress(ConnectorSettings):
    line: list[str] = Field(min_length=1, description="street lines")
    city: str = Field(description="city")
    state: str = Field(pattern=r"^[A-Z]{2}$", description="two-letter state code")
    postal_code: str = Field(pattern=r"^\d{5}(\d{4})?$", description="ZIP or ZIP+4, digits only")


class ServiceLocation(ConnectorSettings):
    """An office, by the name the appointments export writes in its Location column."""

    pos: str = Field("11", pattern=r"^\d{2}$", description="place of service code of sessions held there")
    address: LocationAddress | None = Field(None, description="the office's address (a service facility "
                                                              "on the claim when it differs from the billing "
                                                              "address)")


class SftpInbox(SftpSettings):
    """Exports dropped on an SFTP server (the same transport and host-key rules as the clearinghouse)."""

    remote_folder: str = Field(".", min_length=1, description="folder on the server the exports are dropped in; "
                                                               "new or changed files are downloaded into "
                                                               "`folder`, nothing is deleted remotely")


class SimplePracticeSettings(ConnectorSettings):
    """A folder of SimplePractice report downloads (``type: simplepractice``)."""

    folder: Path = Field(description="import folder holding the exports (CSV, XLSX, ZIP); with `sftp`, the "
                                     "local folder they are downloaded into")
    sftp: SftpInbox | None = Field(None, description="read the exports from an SFTP folder instead of a local "
                                                     "drop folder")
    clinicians: dict[str, ClinicianSettings] = Field(
        default_factory=dict, description="clinician name as written in the exports → NPI and taxonomy "
                                          "(SimplePractice reports carry names only)")
    telehealth_locations: list[str] = Field(
        default_factory=lambda: ["Video Office", "Telehealth"],
        description="Location values meaning an audio-video telehealth session")
    audio_only_locations: list[str] = Field(default_factory=lambda: ["Phone"],
                                            description="Location values meaning an audio-only session")
    service_locations: dict[str, ServiceLocation] = Field(
        default_factory=dict, description="office name (Location column) → place of service and address")
    columns: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="column mapping overrides: kind → mapping key → header, "
                                          "{header, occurrence} or {position} (see the plugin's README)")
    read_payments: bool = Field(True, description="also read the insurance payments report into the "
                                                  "`insurance_payments` stream, to compare with the 835s")
    appointments: AppointmentSettings = Field(
        default_factory=AppointmentSettings,
        description="the `appointments` stream: upcoming appointments of the appointments export with the "
                    "client's plans, for insurance eligibility checks ({enabled, days_ahead, timezone}; the "
                    "export's times are read in timezone)")

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        validate_overrides(value)
        return value

    @model_validator(mode="after")
    def _supervisors_known(self) -> SimplePracticeSettings:
        for name, clinician in self.clinicians.items():
            if clinician.supervisor is not None and clinician.supervisor not in self.clinicians:
                raise ValueError(f"clinicians.{name}.supervisor names {clinician.supervisor!r}, who is not listed "
                                 "under clinicians (the supervisor's NPI is needed)")
        return self
