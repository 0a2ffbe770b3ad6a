"""An in-memory store of FHIR resources with the few searches claimbridge uses.

Shared by the Bulk Data source (an index over ndjson files) and the demo sandbox server. References are
compared after resolving them to ``Type/id``: literal, absolute, conditional (``Practitioner?identifier=…``)
and logical (identifier only) references all count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .references import identifier_token, iter_references, parse_reference

#: search parameter → the fields of a resource it looks at (reference parameters)
REFERENCE_PARAMS: dict[str, tuple[str, ...]] = {
    "beneficiary": ("beneficiary",),
    "practitioner": ("practitioner",),
    "organization": ("organization",),
    "context": ("context",),
    "encounter": ("encounter", "context"),
    "subject": ("subject",),
    "patient": ("patient", "beneficiary", "subject"),
    "actor": ("participant",),
}
#: resource type → the field its ``date`` search parameter looks at
DATE_FIELDS: dict[str, str] = {"Appointment": "start"}


def parse_instant(value: Any) -> datetime | None:
    """A FHIR instant/dateTime as an aware datetime (naive ones are taken as UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def last_updated(resource: dict[str, Any]) -> datetime | None:
    meta = resource.get("meta")
    return parse_instant(meta.get("lastUpdated")) if isinstance(meta, dict) else None


class ResourceIndex:
    """Resources by ``Type/id``, by identifier and (lazily) by what they refer to."""

    def __init__(self, base_url: str | None = None):
        self.base_url = base_url
        self.resources: dict[str, dict[str, Any]] = {}
        self._by_identifier: dict[str, set[str]] = defaultdict(set)
        self._by_type: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self._reverse: dict[tuple[str, str], dict[str, list[str]]] = {}

    def __len__(self) -> int:
        return len(self.resources)

    def add(self, resource: dict[str, Any]) -> str:
        """Store (or replace) ``resource``; return its ``Type/id``."""
        key = f"{resource['resourceType']}/{resource['id']}"
        old = self.resources.get(key)
        if old is not None:
            for token in self._tokens(old):
                self._by_identifier[token].discard(key)
        self.resources[key] = resource
        self._by_type[resource["resourceType"]][resource["id"]] = resource
        for token in self._tokens(resource):
            self._by_identifier[token].add(key)
        self._reverse.clear()
        return key

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self._by_type.get(resource_type, {}).get(resource_id)

    def of_type(self, resource_type: str) -> Iterable[dict[str, Any]]:
        return self._by_type.get(resource_type, {}).values()

    @staticmethod
    def _tokens(resource: dict[str, Any]) -> list[str]:
        identifiers = resource.get("identifier")
        if isinstance(identifiers, dict):
            identifiers = [identifiers]
        if not isinstance(identifiers, list):
            return []
        return [t for t in (identifier_token(i) for i in identifiers) if t]

    def by_identifier(self, token: str, resource_type: str | None = None) -> list[str]:
        """Keys of resources carrying identifier ``system|value`` (or ``|value`` / ``value``: any system)."""
        if "|" not in token:
            token = f"|{token}"
        system, _, value = token.partition("|")
        if system:
            keys = self._by_identifier.get(token, set())
        else:
            keys = {k for t, ks in self._by_identifier.items() if t.partition("|")[2] == value for k in ks}
        return sorted(k for k in keys if resource_type is None or k.startswith(f"{resource_type}/"))

    # -- references -----------------------------------------------------------------------------------------

    def resolve(self, reference: dict[str, Any], expected_type: str | None = None) -> str | None:
        """``Type/id`` of the resource a Reference points at, when it is in the index (exactly one match)."""
        text = reference.get("reference")
        if isinstance(text, str):
            parsed = parse_reference(text)
            if parsed is None:
                return None
            if parsed.id:
                if parsed.base and self.base_url and parsed.base.rstrip("/") != self.base_url.rstrip("/"):
                    return None
                return parsed.key if parsed.key in self.resources else None
            matches = self.search(parsed.type, parsed.query)
            return f"{parsed.type}/{matches[0]['id']}" if len(matches) == 1 else None
        token = identifier_token(reference.get("identifier"))
        if token:
            wanted = reference.get("type") if isinstance(reference.get("type"), str) else expected_type
            keys = self.by_identifier(token, wanted)
            return keys[0] if len(keys) == 1 else None
        return None

    def _referencing(self, resource_type: str, field: str) -> dict[str, list[str]]:
        """target ``Type/id`` → ids of ``resource_type`` resources whose ``field`` refers to it."""
        cache_key = (resource_type, field)
        if cache_key not in self._reverse:
            table: dict[str, list[str]] = defaultdict(list)
            for resource in self.of_type(resource_type):
                value = resource.get(field)
                for _, ref in iter_references(value if isinstance(value, list) else [value]):
                    target = self.resolve(ref, expected_type=_default_target(field))
                    if target:
                        table[target].append(resource["id"])
            self._reverse[cache_key] = table
        return self._reverse[cache_key]

    # -- search ---------------------------------------------------------------------------------------------

    def search(self, resource_type: str, params: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
        """Resources of ``resource_type`` matching every parameter (AND); values split on ``,`` are OR.

        Understands ``_id``, ``identifier``, ``status``, ``_lastUpdated`` and ``date`` (of the types in
        :data:`DATE_FIELDS`, compared as instants; both with gt/ge/lt/le/eq prefixes) and the
        reference parameters of :data:`REFERENCE_PARAMS`. ``_sort=_lastUpdated`` (or ``-_lastUpdated``) sorts;
        other parameters starting with ``_`` are ignored. An unknown parameter matches nothing.
        """
        candidates: list[dict[str, Any]] | None = None
        filters = []
        sort = None
        for name, value in params:
            if name == "_sort":
                sort = value
            elif name == "_id":
                found = [self.get(resource_type, v) for v in value.split(",")]
                candidates = _narrow(candidates, [r for r in found if r])
            elif name == "identifier":
                keys = {k for v in value.split(",") for k in self.by_identifier(v, resource_type)}
                candidates = _narrow(candidates, [self.resources[k] for k in sorted(keys)])
            elif name in REFERENCE_PARAMS:
                ids: set[str] = set()
                for target in value.split(","):
                    target = _normalise_target(target, name, self.base_url)
                    for field in REFERENCE_PARAMS[name]:
                        ids.update(self._referencing(resource_type, field).get(target, ()))
                candidates = _narrow(candidates, [self.get(resource_type, i) for i in sorted(ids)])
            elif name == "status":
                wanted = set(value.split(","))
                filters.append(lambda r, wanted=wanted: r.get("status") in wanted)
            elif name == "_lastUpdated":
                filters.append(_date_filter(value))
            elif name == "date" and resource_type in DATE_FIELDS:
                filters.append(_date_filter(value, DATE_FIELDS[resource_type]))
            elif name.startswith("_"):
                continue
            else:
                return []
        pool = list(self.of_type(resource_type)) if candidates is None else candidates
        result = [r for r in pool if all(f(r) for f in filters)]
        if sort in ("_lastUpdated", "-_lastUpdated"):
            result.sort(key=lambda r: (last_updated(r) or _EPOCH, r["id"]), reverse=sort.startswith("-"))
        return result


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _narrow(candidates: list[dict[str, Any]] | None, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if candidates is None:
        return found
    keep = {id(r) for r in found}
    return [r for r in candidates if id(r) in keep]


def _default_target(field: str) -> str | None:
    return {"practitioner": "Practitioner", "organization": "Organization", "beneficiary": "Patient",
            "encounter": "Encounter", "context": "Encounter", "patient": "Patient"}.get(field)


def _normalise_target(value: str, param: str, base_url: str | None) -> str:
    parsed = parse_reference(value)
    if parsed and parsed.id:
        return parsed.key
    default = {"patient": "Patient", "beneficiary": "Patient", "practitioner": "Practitioner",
               "encounter": "Encounter", "context": "Encounter"}.get(param)
    return f"{default}/{value}" if default and "/" not in value else value


def _date_filter(value: str, field: str | None = None):
    prefix, raw = (value[:2], value[2:]) if value[:2] in ("gt", "ge", "lt", "le", "eq") else ("eq", value)
    bound = parse_instant(raw)
    if bound is None:
        return lambda r: False
    compare = {"gt": lambda m: m > bound, "ge": lambda m: m >= bound, "lt": lambda m: m < bound,
               "le": lambda m: m <= bound, "eq": lambda m: m == bound}[prefix]

    def matches(resource: dict[str, Any]) -> bool:
        moment = last_updated(resource) if field is None else parse_instant(resource.get(field))
        return moment is not None and compare(moment)

    return matches
