"""Payer profiles: what one payer (or a family of payers) wants that the code sets alone don't say.

Profiles load from ``config/payers/*.yaml`` (and from plugins through ``register_payer_profiles``); the profile
whose ``payer_ids`` lists the claim's payer id applies, else the profile named ``default``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ProviderRestriction(BaseModel):
    """Codes a kind of provider may not bill to this payer (e.g. Medicare: clinical psychologists and clinical
    social workers may not bill 90792 or the E/M psychotherapy add-ons)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    taxonomies: list[str] = Field(description="NUCC taxonomy codes or prefixes (e.g. 103T, 1041C0700X)")
    codes: list[str] = Field(description="CPT/HCPCS codes they may not bill")
    reason: str = ""


class PayerProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="profile name (file name without .yaml)")
    description: str = ""
    payer_ids: list[str] = Field(default_factory=list, description="payer ids (NIIP) it applies to")
    claim_filing_indicator: str = Field("CI", pattern=r"^[0-9A-Z]{1,2}$", description="SBR09")
    # place of service and telehealth
    telehealth_modifier: Literal["95", "GT", "93", "none"] = Field(
        "95", description="modifier required on audio-video telehealth lines")
    audio_only_modifier: Literal["93", "FQ", "none"] = "93"
    telehealth_pos: list[Literal["02", "10"]] = Field(default_factory=lambda: ["02", "10"],
                                                      description="POS codes accepted for telehealth")
    # codes and limits
    authorization_required_codes: list[str] = Field(default_factory=list,
                                                    description="codes that need REF*G1 prior authorization")
    authorization_warning_visits: int = Field(2, ge=0, description="warn when this many visits remain")
    max_96127_units: int = Field(4, ge=1, description="96127 units per date of service")
    crisis_minutes_per_90840: int = Field(30, ge=1, description="minutes beyond 74 per unit of 90840")
    z_code_primary: Literal["allow", "warning", "error"] = "warning"
    group_modifier: str | None = Field(None, description="modifier required on 90853/90849 (e.g. HQ)")
    # providers
    requires_group_npi: bool = Field(False, description="billing NPI must differ from the rendering NPI")
    supervision_required_taxonomies: list[str] = Field(
        default_factory=list, description="rendering taxonomies (or prefixes) that must bill with a supervisor")
    provider_restrictions: list[ProviderRestriction] = Field(default_factory=list)
    # deadlines
    timely_filing_days: int = Field(180, ge=1)
    timely_filing_warning_days: int = Field(30, ge=0, description="warn this many days before the deadline")
