"""Builds the *encounter bundle* (docs/claim-profile.md) from an Encounter and a way to look resources up.

The same builder serves the REST source (lookups are HTTP requests, cached for the run) and the Bulk Data
source (lookups hit an in-memory index), so both yield identical bundles.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Protocol

from claimbridge import RecordError

from .codes import ProcedureCodeMap
from .index import parse_instant
from .references import FHIR_ID, identifier_token, iter_references, parse_reference, rewrite_references


class ResourceLookup(Protocol):
    """What the builder needs from a server or an index."""

    def read(self, key: str) -> dict[str, Any] | None:
        """The resource ``Type/id``, or None when it does not exist or cannot be read."""

    def resolve(self, reference: dict[str, Any], expected_type: str | None = None) -> str | None:
        """``Type/id`` for a Reference (literal, absolute, conditional or logical), or None."""

    def search(self, resource_type: str, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every match of a search (all pages); [] when the server cannot do it."""


#: Encounter fields that must be lists / objects when present (a wrong shape makes the record unusable)
_LIST_FIELDS = ("identifier", "participant", "diagnosis", "location", "type", "reasonCode", "reasonReference")
_OBJECT_FIELDS = ("meta", "class", "period", "length", "serviceProvider", "subject")


def encounter_key(encounter: Any) -> str:
    """``Encounter/<id>``, or a stable stand-in derived from the content when the id is unusable."""
    if isinstance(encounter, dict) and isinstance(encounter.get("id"), str) and FHIR_ID.match(encounter["id"]):
        return f"Encounter/{encounter['id']}"
    digest = hashlib.sha256(json.dumps(encounter, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"Encounter/invalid-{digest}"


def check_encounter(encounter: Any) -> None:
    """Raise RecordError naming the first field that makes ``encounter`` unusable."""
    key = encounter_key(encounter)
    if not isinstance(encounter, dict) or encounter.get("resourceType") != "Encounter":
        raise RecordError("not an Encounter resource", record=key, field="Encounter.resourceType")
    if key.startswith("Encounter/invalid-"):
        raise RecordError("missing or malformed id", record=key, field="Encounter.id")
    if not isinstance(encounter.get("status"), str):
        raise RecordError("missing or malformed status", record=key, field="Encounter.status")
    for name in _LIST_FIELDS:
        value = encounter.get(name)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, dict) for v in value)):
            raise RecordError("must be a list of objects", record=key, field=f"Encounter.{name}")
    for name in _OBJECT_FIELDS:
        value = encounter.get(name)
        if value is not None and not isinstance(value, dict):
            raise RecordError("must be an object", record=key, field=f"Encounter.{name}")
    subject = encounter.get("subject")
    if not subject or not isinstance(subject.get("reference") or subject.get("identifier"), str | dict):
        raise RecordError("no subject reference: the encounter names no patient", record=key,
                          field="Encounter.subject")
    meta = encounter.get("meta") or {}
    if "lastUpdated" in meta and parse_instant(meta["lastUpdated"]) is None:
        raise RecordError("not an instant", record=key, field="Encounter.meta.lastUpdated")
    for end in ("start", "end"):
        value = (encounter.get("period") or {}).get(end)
        if value is not None and parse_instant(value) is None:
            raise RecordError("not a dateTime", record=key, field=f"Encounter.period.{end}")


#: resource types a bundle may hold besides its Encounter (what docs/claim-profile.md reads)
FOLLOWED_TYPES = frozenset({"Patient", "RelatedPerson", "Practitioner", "PractitionerRole", "Organization",
                            "Location", "Condition", "Coverage", "ChargeItem", "Procedure"})
#: a guard against reference chains that never end (Organization.partOf loops on a bad server)
MAX_BUNDLE_RESOURCES = 200
#: the type a logical (identifier-only) reference most likely points at, by field name
_FIELD_TYPES = {"subject": "Patient", "patient": "Patient", "beneficiary": "Patient", "individual": "Practitioner",
                "practitioner": "Practitioner", "actor": "Practitioner", "serviceProvider": "Organization",
                "organization": "Organization", "managingOrganization": "Organization", "payor": "Organization",
                "location": "Location", "condition": "Condition", "subscriber": "Patient"}
_FIELD_NAME = re.compile(r"\[\d+\]$")


def _copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A deep copy; resources are plain JSON, and a JSON round trip is several times faster than deepcopy."""
    return json.loads(json.dumps(resource))


def _target_type(reference: dict[str, Any]) -> str | None:
    text = reference.get("reference")
    if isinstance(text, str):
        parsed = parse_reference(text)
        return parsed.type if parsed else None
    return reference.get("type") if isinstance(reference.get("type"), str) else None


class EncounterBundler:
    """Turns an Encounter into a ``collection`` Bundle holding everything the claim builder reads."""

    def __init__(self, lookup: ResourceLookup, code_map: ProcedureCodeMap, *, base_url: str | None = None):
        self.lookup = lookup
        self.code_map = code_map
        self.base_url = base_url.rstrip("/") if base_url else None

    def build(self, encounter: dict[str, Any]) -> dict[str, Any]:
        check_encounter(encounter)
        assembly = BundleAssembly(self.lookup, encounter, base_url=self.base_url)
        patient = assembly.follow(assembly.root["subject"], "Patient")
        if patient is None or not patient.startswith("Patient/"):
            raise RecordError("subject cannot be resolved to a Patient on the server", record=assembly.key,
                              field="Encounter.subject")
        assembly.expand()
        # the roles of the encounter's own clinicians (not of a Condition's recorder or a patient's GP)
        practitioners = [assembly.follow(p["individual"], "Practitioner")
                         for p in assembly.root.get("participant") or [] if isinstance(p.get("individual"), dict)]
        for practitioner in dict.fromkeys(p for p in practitioners if p and p.startswith("Practitioner/")):
            for role in self.lookup.search("PractitionerRole", [("practitioner", practitioner)]):
                assembly.include(role)
        for coverage in self.lookup.search("Coverage", [("beneficiary", patient)]):
            if coverage.get("status") == "active":
                assembly.include(coverage)
        for charge in self.lookup.search("ChargeItem", [("context", assembly.key)]):
            assembly.include(charge)
        for procedure in self.lookup.search("Procedure", [("encounter", assembly.key)]):
            assembly.include(procedure)
        assembly.expand()
        return assembly.bundle(self.code_map)


class BundleAssembly:
    """The state of one bundle while it is put together: the root resource (the Encounter, the Appointment)
    first, then what it refers to, resolved through a :class:`ResourceLookup` and rewritten to ``Type/id``.
    The encounter and appointment bundlers both build on it."""

    def __init__(self, lookup: ResourceLookup, root: dict[str, Any], *, base_url: str | None = None):
        self.lookup = lookup
        self.base_url = base_url.rstrip("/") if base_url else None
        self.root = _copy(root)
        self.key = f"{root['resourceType']}/{root['id']}"
        self.included: dict[str, dict[str, Any]] = {self.key: self.root}
        self.aliases: dict[str, str] = {}
        self.expanded: set[str] = set()

    def bundle(self, code_map: ProcedureCodeMap | None = None, order: list[str] | None = None) -> dict[str, Any]:
        """The ``collection`` Bundle: references rewritten to the included resources, ``code_map`` applied;
        entries in ``order`` (keys of included resources) first, then the rest as they were included."""
        for resource in self.included.values():
            rewrite_references(resource, self.local_target)
            if code_map is not None:
                code_map.apply(resource)
        keys = [*dict.fromkeys(k for k in order or () if k in self.included), *self.included]
        return {"resourceType": "Bundle", "type": "collection",
                "entry": [{"fullUrl": key, "resource": self.included[key]} for key in dict.fromkeys(keys)]}

    def expand(self) -> None:
        """Follow the references of every included resource not yet expanded, transitively, to the types the
        claim builder reads (never to other Encounters)."""
        pending = [key for key in self.included if key not in self.expanded]
        while pending:
            key = pending.pop(0)
            self.expanded.add(key)
            for path, reference in iter_references(self.included[key]):
                field_name = _FIELD_NAME.sub("", path.rsplit(".", 1)[-1])
                wanted = _target_type(reference) or _FIELD_TYPES.get(field_name)
                if wanted not in FOLLOWED_TYPES or len(self.included) >= MAX_BUNDLE_RESOURCES:
                    continue
                target = self.follow(reference, wanted)
                if target and target not in self.expanded and target not in pending:
                    pending.append(target)

    def include(self, resource: Any) -> str | None:
        """Add a copy of ``resource`` (once); its ``Type/id`` or None when it is not a usable resource."""
        if not (isinstance(resource, dict) and isinstance(resource.get("resourceType"), str)
                and isinstance(resource.get("id"), str) and FHIR_ID.match(resource["id"])):
            return None
        key = f"{resource['resourceType']}/{resource['id']}"
        if key not in self.included:
            self.included[key] = _copy(resource)
        return key

    def follow(self, reference: dict[str, Any], expected_type: str | None) -> str | None:
        """Resolve ``reference``, include its target and return the target's ``Type/id`` (None if unreadable)."""
        target = self.lookup.resolve(reference, expected_type)
        if target is None:
            return None
        if target not in self.included:
            resource = self.lookup.read(target)
            if resource is None or f"{resource.get('resourceType')}/{resource.get('id')}" != target:
                return None
            self.include(resource)
        if isinstance(reference.get("reference"), str):
            self.aliases[reference["reference"]] = target
        return target

    def local_target(self, reference: dict[str, Any], path: str) -> str | None:
        """The ``Type/id`` an included resource's reference should read, when its target is in the bundle."""
        text = reference.get("reference")
        if isinstance(text, str):
            if text in self.aliases:
                return self.aliases[text]
            parsed = parse_reference(text)
            if parsed is None:
                return None
            if parsed.id:
                if parsed.base and self.base_url and parsed.base.rstrip("/") != self.base_url:
                    return None
                return parsed.key if parsed.key in self.included else None
            tokens = [v for k, v in parsed.query if k == "identifier"]
            if len(parsed.query) == 1 and tokens:
                return self._by_identifier(tokens[0], parsed.type)
            return None
        token = identifier_token(reference.get("identifier"))
        wanted = reference.get("type") if isinstance(reference.get("type"), str) else None
        return self._by_identifier(token, wanted) if token else None

    def _by_identifier(self, token: str, resource_type: str | None) -> str | None:
        found = []
        for key, resource in self.included.items():
            if resource_type and not key.startswith(f"{resource_type}/"):
                continue
            identifiers = resource.get("identifier")
            if isinstance(identifiers, list) and any(identifier_token(i) == token for i in identifiers):
                found.append(key)
        return found[0] if len(found) == 1 else None


def references_outside(bundle: dict[str, Any]) -> list[str]:
    """References of a bundle's resources that point at nothing in it (diagnostics and tests)."""
    keys = {entry["fullUrl"] for entry in bundle.get("entry", [])}
    return [ref["reference"] for entry in bundle.get("entry", [])
            for _, ref in iter_references(entry["resource"])
            if isinstance(ref.get("reference"), str) and ref["reference"] not in keys]
