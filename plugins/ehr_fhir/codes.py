"""The procedure code map: SNOMED or local procedure codes → CPT/HCPCS, added as an extra coding."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from claimbridge.claims.systems import CPT, HCPCS, PROCEDURE_SYSTEMS

#: CPT (five digits, or four and F/T/U for categories II/III and PLA codes) or HCPCS level II (letter + 4 digits)
BILLING_CODE = re.compile(r"^(?:\d{4}[0-9FTU]|[A-Z]\d{4})$")
_HCPCS_LEVEL2 = re.compile(r"^[A-Z]\d{4}$")

#: where procedures live in the resources of an encounter bundle
PROCEDURE_FIELDS: dict[str, tuple[str, ...]] = {
    "Encounter": ("type",),
    "Procedure": ("code",),
    "ChargeItem": ("code",),
}


def billing_system(code: str) -> str:
    """The system URI for a mapped billing code: HCPCS for a level II code, else CPT."""
    return HCPCS if _HCPCS_LEVEL2.match(code) else CPT


class ProcedureCodeMap:
    """Looks up ``system|code`` first, then the bare ``code``."""

    def __init__(self, mapping: Mapping[str, str]):
        self._mapping = dict(mapping)

    def __bool__(self) -> bool:
        return bool(self._mapping)

    def lookup(self, coding: Any) -> str | None:
        if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
            return None
        code = coding["code"].strip()
        system = coding.get("system") if isinstance(coding.get("system"), str) else ""
        return self._mapping.get(f"{system}|{code}") or self._mapping.get(code)

    def apply_to_concept(self, concept: Any) -> bool:
        """Add a CPT/HCPCS coding to ``concept`` (in place) when it has none and one of its codings is mapped."""
        if not isinstance(concept, dict) or not isinstance(concept.get("coding"), list):
            return False
        codings = concept["coding"]
        if any(isinstance(c, dict) and c.get("system") in PROCEDURE_SYSTEMS for c in codings):
            return False
        for coding in codings:
            mapped = self.lookup(coding)
            if mapped:
                codings.append({"system": billing_system(mapped), "code": mapped})
                return True
        return False

    def apply(self, resource: dict[str, Any]) -> None:
        """Apply the map to the procedure fields of ``resource`` (in place)."""
        if not self._mapping:
            return
        for field_name in PROCEDURE_FIELDS.get(resource.get("resourceType", ""), ()):
            value = resource.get(field_name)
            for concept in value if isinstance(value, list) else [value]:
                self.apply_to_concept(concept)
