"""Payer profiles: what one payer (or a family of payers) wants that the code sets alone don't say.

Profiles come from three places, later ones replacing earlier ones of the same name:

1. the profiles shipped in this package (``claimbridge/claims/scrub/payers/*.yaml``: ``default``, ``medicare``,
   ``medicaid-example``, ``commercial-example``), registered by the built-in plugin ``scrub_builtin``;
2. plugins, through ``register_payer_profiles`` (two plugins registering one name is an error);
3. the practice's folder of profiles (``profile_dir``: by convention a ``payers`` folder next to the
   configuration file, see :func:`profile_dir_for`), one ``<name>.yaml`` per profile.

The profile whose ``payer_ids`` lists the claim's payer id applies, else the profile named ``default``
(:class:`ProfileSet`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from claimbridge.errors import ConfigError

#: the folder of the profiles shipped with claimbridge (package data)
BUILTIN_PROFILE_DIR = Path(__file__).with_name("payers")
DEFAULT_PROFILE = "default"


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
    clearinghouse: str | None = Field(
        None, description="the clearinghouse (clearinghouses[].name) this payer's claims and eligibility inquiries "
                          "go to; default: the first enabled one. While it is not enabled, they wait")
    # place of service and telehealth
    telehealth_modifier: Literal["95", "GT", "93", "none"] = Field(
        "95", description="modifier required on audio-video telehealth lines")
    audio_only_modifier: Literal["93", "FQ", "none"] = "93"
    telehealth_pos: list[Literal["02", "10"]] = Field(default_factory=lambda: ["02", "10"],
                                                      description="POS codes accepted for telehealth")
    # what is billed at all
    bill_missed_appointments: list[Literal["late_cancel", "no_show"]] = Field(
        default_factory=list, description="missed appointments billed to this payer (a late-cancel or no-show "
                                          "fee from the EHR); none by default: most payers, Medicare and "
                                          "Medicaid among them, do not pay for them")
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
    # the scrubber itself
    disabled_rules: list[str] = Field(default_factory=list, description="rule ids not run for this payer")
    severity_overrides: dict[str, Literal["error", "warning"]] = Field(
        default_factory=dict, description="rule id → severity its findings get for this payer")


# ------------------------------------------------------------------------------------------------- loading


def _read_profile(path: Path, problems: list[str]) -> PayerProfile | None:
    """One profile file; every problem goes to ``problems`` as ``<file>: <key path>: <message>``."""
    where = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{where}: cannot be read ({exc.strerror or type(exc).__name__})")
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problems.append(f"{where}: not valid YAML{at} ({getattr(exc, 'problem', None) or exc})")
        return None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(f"{where}: (top level): a payer profile is a mapping of keys, not a "
                        f"{type(raw).__name__}")
        return None
    name = raw.setdefault("name", path.stem)
    if name != path.stem:
        problems.append(f"{where}: name: {name!r} differs from the file name {path.stem!r}; they must match")
        return None
    try:
        return PayerProfile.model_validate(raw)
    except ValidationError as exc:
        from claimbridge.config import validation_problems

        problems.extend(f"{where}: {problem}" for problem in validation_problems(exc))
        return None


def load_profile_file(path: str | Path) -> PayerProfile:
    """Read one ``<name>.yaml`` payer profile. Raises :class:`ConfigError` listing every problem with the file
    and the key path (``medicare.yaml: provider_restrictions[0].codes: Field required``)."""
    problems: list[str] = []
    profile = _read_profile(Path(path), problems)
    if problems or profile is None:
        raise ConfigError(problems, source=f"payer profile {path}")
    return profile


def load_profile_dir(folder: str | Path) -> list[PayerProfile]:
    """Every ``*.yaml`` / ``*.yml`` profile in ``folder`` (sorted by file name). Files whose name starts with
    ``_`` or ``.`` are skipped. Raises :class:`ConfigError` listing the problems of every file at once."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError([f"{folder}: not a folder"], source="payer profiles")
    problems: list[str] = []
    profiles = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        if path.name.startswith(("_", ".")):
            continue
        profile = _read_profile(path, problems)
        if profile is not None:
            profiles.append(profile)
    names = [p.name for p in profiles]
    problems.extend(f"{folder}: profile {n!r} is defined twice (.yaml and .yml)"
                    for n in sorted({n for n in names if names.count(n) > 1}))
    if problems:
        raise ConfigError(problems, source=f"payer profiles in {folder}")
    return profiles


@cache
def builtin_profiles() -> Mapping[str, PayerProfile]:
    """The profiles shipped with claimbridge, by name (read once per process)."""
    return {p.name: p for p in load_profile_dir(BUILTIN_PROFILE_DIR)}


def profile_dir_for(config_path: str | Path | None) -> Path | None:
    """The practice's payer profiles for a configuration file: the ``payers`` folder next to it, when there."""
    if config_path is None:
        return None
    folder = Path(config_path).resolve().parent / "payers"
    return folder if folder.is_dir() else None


class ProfileSet:
    """The payer profiles in force, and the choice of one for a claim.

    The profile whose ``payer_ids`` lists the claim's payer id (compared without case or surrounding space)
    applies, else ``default``. One payer id listed by two profiles is a :class:`ConfigError`, and so is a set
    without a ``default`` profile.
    """

    def __init__(self, profiles: Iterable[PayerProfile]):
        self._by_name: dict[str, PayerProfile] = {}
        for profile in profiles:
            self._by_name[profile.name] = profile  # a later one replaces an earlier one of that name
        problems = []
        if DEFAULT_PROFILE not in self._by_name:
            problems.append(f"no profile named {DEFAULT_PROFILE!r}; it applies to payers no other profile lists")
        self._by_payer: dict[str, PayerProfile] = {}
        for profile in self._by_name.values():
            for payer_id in profile.payer_ids:
                key = payer_id.strip().upper()
                other = self._by_payer.get(key)
                if other is not None and other is not profile:
                    problems.append(f"payer id {payer_id!r} is listed by both {other.name!r} and {profile.name!r}; "
                                    "list it in one profile")
                self._by_payer[key] = profile
        if problems:
            raise ConfigError(problems, source="payer profiles")
        self.default = self._by_name.get(DEFAULT_PROFILE)

    def for_payer(self, payer_id: str | None) -> PayerProfile:
        """The profile for ``payer_id`` (the ``default`` one when no profile lists it)."""
        if payer_id:
            found = self._by_payer.get(payer_id) or self._by_payer.get(payer_id.strip().upper())
            if found is not None:
                return found
        return self.default  # type: ignore[return-value]  # __init__ guarantees it

    def get(self, name: str) -> PayerProfile:
        """The profile named ``name``; ``KeyError`` (with the known names) when there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no payer profile named {name!r}; known: {', '.join(self.names)}") from None

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __contains__(self, name: Any) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[PayerProfile]:
        return iter(self._by_name[n] for n in self.names)

    def __len__(self) -> int:
        return len(self._by_name)


def load_profiles(*, profile_dir: str | Path | None = None, registered: Iterable[PayerProfile] | None = None
                  ) -> ProfileSet:
    """The profiles in force: ``registered`` ones (default: the shipped profiles; a plugin host passes
    ``host.payer_profiles.values()``, which holds the shipped ones and the plugins'), then every profile in
    ``profile_dir``, which replace those of the same name."""
    profiles = list(builtin_profiles().values() if registered is None else registered)
    if profile_dir is not None:
        profiles.extend(load_profile_dir(profile_dir))
    return ProfileSet(profiles)
