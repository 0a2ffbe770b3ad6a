"""Settings of the ``fhir`` and ``fhir_bulk`` sources (``sources[].settings`` in the configuration)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from claimbridge import ConnectorSettings, Secret

from .appointments import AppointmentSettings
from .codes import BILLING_CODE


class NoAuth(ConnectorSettings):
    """No credentials (a server on a trusted network, the demo sandbox)."""

    type: Literal["none"] = "none"


class BearerAuth(ConnectorSettings):
    """A static access token sent as ``Authorization: Bearer …``."""

    type: Literal["bearer"]
    token: Secret = Field(description="the access token; write it as ${ENV_VAR}")


class SmartBackendAuth(ConnectorSettings):
    """SMART Backend Services: client-credentials grant with a signed JWT client assertion (Epic, Cerner …)."""

    type: Literal["smart_backend"]
    token_url: str = Field(pattern=r"^https?://", description="the server's OAuth 2.0 token endpoint")
    client_id: str = Field(min_length=1, description="the client id the EHR assigned to this registration")
    private_key_path: Path | None = Field(None, description="PEM file with the private key registered (JWKS)")
    private_key: Secret | None = Field(None, description="the PEM private key itself, e.g. ${FHIR_PRIVATE_KEY}")
    key_id: str = Field(min_length=1, description="`kid` of the registered public key")
    scope: str = Field("system/*.read", description="space-separated SMART scopes to request")
    algorithm: Literal["RS384", "ES384"] = Field("RS384", description="JWT signing algorithm")

    @model_validator(mode="after")
    def _one_key(self) -> SmartBackendAuth:
        if (self.private_key_path is None) == (self.private_key is None):
            raise ValueError("give exactly one of private_key_path or private_key")
        return self


Auth = Annotated[NoAuth | BearerAuth | SmartBackendAuth, Field(discriminator="type")]


class CodeMapSettings(ConnectorSettings):
    """What both FHIR sources share: which encounters become claims and how procedures map to CPT."""

    encounter_statuses: list[str] = Field(default_factory=lambda: ["finished"], min_length=1,
                                          description="Encounter.status values that are read")
    procedure_code_map: dict[str, str] = Field(
        default_factory=dict,
        description='"system|code" or "code" → CPT/HCPCS code, added as a coding to Encounter.type, '
                    "Procedure.code and ChargeItem.code that carry no CPT/HCPCS coding")
    lookback_minutes: int = Field(10, ge=0, le=7 * 24 * 60,
                                  description="re-read this far before the bookmark to catch late updates")
    appointments: AppointmentSettings = Field(
        default_factory=AppointmentSettings,
        description="the `appointments` stream: upcoming appointments with the patient's coverages, for "
                    "insurance eligibility checks ({enabled, days_ahead, timezone})")

    @field_validator("procedure_code_map")
    @classmethod
    def _billing_codes(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [f"{k} → {v}" for k, v in value.items() if not BILLING_CODE.match(v)]
        if bad:
            raise ValueError(f"not a CPT/HCPCS code: {', '.join(bad)}")
        return value


class FhirSourceSettings(CodeMapSettings):
    """A FHIR R4 REST server (``type: fhir``)."""

    base_url: str = Field(pattern=r"^https?://\S+$", description="FHIR base URL, e.g. https://ehr.example/fhir/R4")
    auth: Auth = Field(default_factory=NoAuth, description="credentials: type none, bearer or smart_backend")
    page_size: int = Field(100, ge=1, le=1000, description="_count of the Encounter search")
    timeout: float = Field(30.0, gt=0, le=600, description="seconds per HTTP request (connect and read)")
    max_retries: int = Field(4, ge=0, le=10, description="retries of 429, 5xx and network errors")
    backoff: float = Field(1.0, ge=0, le=60, description="first retry delay in seconds; doubles each retry")
    backoff_max: float = Field(60.0, ge=0, le=3600,
                               description="longest single wait; a Retry-After beyond it fails the run")
    verify_tls: bool = Field(True, description="verify the server's TLS certificate")
    ca_bundle: Path | None = Field(None, description="PEM bundle of CAs to trust instead of the system ones")
    write_back: bool = Field(
        False,
        description="write each posted 835's results back to this server: a ClaimResponse per claim from this "
                    "source and the PaymentReconciliation (conditional update by identifier, so never twice); "
                    "needs write access to ClaimResponse and PaymentReconciliation (SMART: add "
                    "system/ClaimResponse.write system/PaymentReconciliation.write to scope). "
                    "See docs/fhir-results.md")

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")


class FhirBulkSourceSettings(CodeMapSettings):
    """A folder holding the ndjson files of a Bulk Data ``$export`` (``type: fhir_bulk``)."""

    folder: Path = Field(description="folder with <ResourceType>.*.ndjson files")
