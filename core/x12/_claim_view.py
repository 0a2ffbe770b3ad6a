"""Read the fields the 837P needs from a profile Claim dict (docs/claim-profile.md), naming what is missing.

Every accessor raises :class:`ClaimEncodeError` with the claim's PCN and the path of the missing field, never
the value (no PHI in messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from claimbridge.claims import systems
from claimbridge.errors import ClaimBuildError


class ClaimEncodeError(ClaimBuildError):
    """A claim lacks something the 837P requires. ``record`` is the PCN, ``field`` the Claim path."""


GENERATION_SUFFIXES = frozenset({"JR", "SR", "I", "II", "III", "IV", "V", "VI"})


@dataclass(frozen=True)
class PersonName:
    last: str
    first: str = ""
    middle: str = ""
    suffix: str = ""


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    city: str
    state: str
    postal_code: str


def to_decimal(value: Any) -> Decimal:
    """Money and quantities: Decimal as is; numbers through their text so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        raise InvalidOperation(f"not a number: {value!r}")
    return Decimal(str(value))


def x12_date(value: str) -> str:
    """``YYYY-MM-DD`` (or a FHIR dateTime) to ``CCYYMMDD``."""
    return date.fromisoformat(value[:10]).strftime("%Y%m%d")


def _codings(concept: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list((concept or {}).get("coding") or [])


def code_in(concept: Mapping[str, Any] | None, *systems_: str) -> str | None:
    """The first code of ``concept`` in one of ``systems_`` (any system when none is given)."""
    for coding in _codings(concept):
        if coding.get("code") and (not systems_ or coding.get("system") in systems_):
            return str(coding["code"])
    return None


def identifier_value(resource: Mapping[str, Any], system: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return None


def identifier_typed(resource: Mapping[str, Any], type_system: str, type_code: str) -> str | None:
    for ident in resource.get("identifier") or []:
        if ident.get("value") and any(c.get("system") == type_system and c.get("code") == type_code
                                      for c in _codings(ident.get("type"))):
            return str(ident["value"])
    return None


class ClaimView:
    """Field access over one Claim dict, resolving ``#id`` references to ``contained`` resources."""

    def __init__(self, claim: Mapping[str, Any], position: int):
        self.claim = claim
        self.pcn = self._pcn(position)
        self._contained = {str(r.get("id")): r for r in claim.get("contained") or [] if r.get("id")}

    def _pcn(self, position: int) -> str:
        value = identifier_value(self.claim, systems.PCN_SYSTEM)
        if not value:
            raise ClaimEncodeError("the claim has no PCN identifier; build it with claimbridge.claims",
                                   record=f"claims[{position}]", field="Claim.identifier[PCN]")
        return value

    def fail(self, field: str, reason: str) -> ClaimEncodeError:
        return ClaimEncodeError(reason, record=self.pcn, field=field)

    # -- references ---------------------------------------------------------------------------------------

    def resolve(self, reference: Mapping[str, Any] | None, field: str, *, required: bool = True):
        ref = (reference or {}).get("reference")
        if isinstance(ref, str) and ref.startswith("#") and ref[1:] in self._contained:
            return self._contained[ref[1:]]
        if required:
            raise self.fail(field, f"reference {ref!r} does not point at a contained resource")
        return None

    def contained(self, local_id: str) -> Mapping[str, Any] | None:
        return self._contained.get(local_id)

    def require(self, value: Any, field: str, what: str) -> Any:
        if value in (None, "", [], {}):
            raise self.fail(field, f"{what} is missing; the 837P requires it")
        return value

    # -- people and places --------------------------------------------------------------------------------

    def person_name(self, resource: Mapping[str, Any], field: str) -> PersonName:
        names = resource.get("name") or []
        if isinstance(names, str):  # Organization/Location names are plain strings
            return PersonName(last=names)
        chosen = next((n for n in names if n.get("use") == "official"), names[0] if names else None)
        if not chosen or not chosen.get("family"):
            raise self.fail(f"{field}.name.family", "the family name is missing; the 837P requires it")
        given = list(chosen.get("given") or [])
        # NM107 is a generation suffix (Jr, III); FHIR suffixes also carry credentials (PsyD, LCSW), which
        # payers reject there
        suffix = next((s for s in chosen.get("suffix") or []
                       if s.upper().rstrip(".") in GENERATION_SUFFIXES), "")
        return PersonName(last=chosen["family"], first=given[0] if given else "",
                          middle=given[1] if len(given) > 1 else "", suffix=suffix.rstrip("."))

    def org_name(self, resource: Mapping[str, Any], field: str) -> str:
        return self.require(resource.get("name"), f"{field}.name", "the organization name")

    def address(self, resource: Mapping[str, Any], field: str, *, required: bool = True,
                zip_plus_four: bool = False) -> Address | None:
        addresses = resource.get("address") or []
        if isinstance(addresses, Mapping):  # Location.address is a single Address
            addresses = [addresses]
        usable = [a for a in addresses if isinstance(a, Mapping) and a.get("line")]
        chosen = next((a for a in usable if a.get("use") in (None, "home", "work", "billing")),
                      usable[0] if usable else None)
        if chosen is None:
            if required:
                raise self.fail(f"{field}.address", "a street address is missing; the 837P requires it")
            return None
        for part in ("city", "state", "postalCode"):
            if not chosen.get(part):
                if not required:
                    return None
                raise self.fail(f"{field}.address.{part}", f"the address {part} is missing")
        postal = "".join(ch for ch in str(chosen["postalCode"]) if ch.isdigit())
        if len(postal) not in (5, 9) or (zip_plus_four and len(postal) != 9):
            wanted = "9 digits (ZIP+4)" if zip_plus_four else "5 or 9 digits"
            raise self.fail(f"{field}.address.postalCode", f"the ZIP code must have {wanted} here")
        lines = tuple(str(line) for line in chosen["line"][:2] if line)
        return Address(lines=lines, city=str(chosen["city"]), state=str(chosen["state"]), postal_code=postal)

    def npi(self, resource: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
        value = identifier_value(resource, systems.NPI)
        if value is None and required:
            raise self.fail(f"{field}.identifier[NPI]", "the NPI is missing")
        return value

    def gender_code(self, resource: Mapping[str, Any]) -> str:
        return {"male": "M", "female": "F"}.get(str(resource.get("gender") or ""), "U")

    def birth_date(self, resource: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
        value = resource.get("birthDate")
        if not value:
            if required:
                raise self.fail(f"{field}.birthDate", "the birth date is missing; the 837P requires it")
            return None
        return x12_date(str(value))

    # -- claim-level fields -------------------------------------------------------------------------------

    def frequency(self) -> str:
        for ext in self.claim.get("extension") or []:
            if ext.get("url") == systems.EXT_FREQUENCY:
                code = str(ext.get("valueCode") or "")
                if code not in ("1", "7", "8"):
                    raise self.fail("Claim.extension[frequency]", f"frequency code {code!r} is not 1, 7 or 8")
                return code
        return "1"

    def money(self, value: Any, field: str) -> Decimal:
        amount = (value or {}).get("value") if isinstance(value, Mapping) else None
        if amount is None:
            raise self.fail(field, "the amount is missing")
        try:
            # to cents here, so CLM02 and the SV102s that must add up to it are rounded alike
            return to_decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        except InvalidOperation:
            raise self.fail(field, "the amount is not a number") from None

    def care_team_member(self, role: str) -> tuple[Mapping[str, Any], Mapping[str, Any]] | None:
        """The ``(careTeam entry, Practitioner)`` with ``role`` (``primary`` or ``supervisor``)."""
        for position, member in enumerate(self.claim.get("careTeam") or []):
            if code_in(member.get("role"), systems.CARE_TEAM_ROLE) == role:
                practitioner = self.resolve(member.get("provider"), f"Claim.careTeam[{position}].provider")
                return member, practitioner
        return None
