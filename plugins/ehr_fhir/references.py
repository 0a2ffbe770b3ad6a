"""FHIR references: parse the three kinds a source meets (literal, absolute, conditional), walk and rewrite them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

_TYPE = r"[A-Z][A-Za-z]+"
_ID = r"[A-Za-z0-9\-.]{1,64}"
_LITERAL = re.compile(rf"^(?:(?P<base>https?://.+?)/)?(?P<type>{_TYPE})/(?P<id>{_ID})(?:/_history/[^/]+)?$")
_CONDITIONAL = re.compile(rf"^(?P<type>{_TYPE})\?(?P<query>.+)$")
FHIR_ID = re.compile(rf"^{_ID}$")


@dataclass(frozen=True)
class ParsedReference:
    """A reference string split into its parts. ``query`` is set for a conditional reference, ``id`` for a
    literal one; ``base`` is the server part of an absolute URL."""

    type: str
    id: str | None = None
    query: tuple[tuple[str, str], ...] | None = None
    base: str | None = None

    @property
    def key(self) -> str | None:
        """``Type/id`` for a literal reference."""
        return f"{self.type}/{self.id}" if self.id else None


def parse_reference(reference: str) -> ParsedReference | None:
    """Parse ``Type/id``, ``https://server/base/Type/id[/_history/v]`` or ``Type?param=value``; None for
    anything else (contained ``#x``, ``urn:uuid:``, malformed)."""
    if not isinstance(reference, str) or not reference or reference.startswith("#"):
        return None
    match = _CONDITIONAL.match(reference)
    if match:
        query = tuple(parse_qsl(match["query"], keep_blank_values=True))
        return ParsedReference(type=match["type"], query=query) if query else None
    match = _LITERAL.match(reference)
    if match:
        return ParsedReference(type=match["type"], id=match["id"], base=match["base"])
    return None


def iter_references(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(path, reference_object)`` for every Reference-shaped dict inside ``node`` (depth first).

    A Reference is a dict with a string ``reference`` or an ``identifier`` dict (a logical reference) and no
    ``resourceType``. Contained resources and narratives are skipped.
    """
    if isinstance(node, dict):
        is_reference = "resourceType" not in node and (
            isinstance(node.get("reference"), str)
            or (isinstance(node.get("identifier"), dict) and set(node) <= {"identifier", "display", "type"}))
        if is_reference:
            yield path, node
            return
        for key, value in node.items():
            if key == "contained" or (key == "text" and isinstance(value, dict) and "div" in value):
                continue  # contained resources refer locally; a narrative holds no references
            yield from iter_references(value, f"{path}.{key}" if path else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from iter_references(value, f"{path}[{index}]")


def rewrite_references(resource: dict[str, Any], resolve: Callable[[dict[str, Any], str], str | None]) -> None:
    """Replace, in place, each reference for which ``resolve(reference_object, path)`` returns ``Type/id``.

    A logical reference (identifier only) gains a ``reference``; its identifier is kept.
    """
    for path, ref in iter_references(resource):
        target = resolve(ref, path)
        if target:
            ref["reference"] = target


def identifier_token(identifier: Any) -> str | None:
    """``system|value`` of an Identifier dict, or None when it has no value."""
    if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
        return None
    system = identifier.get("system") if isinstance(identifier.get("system"), str) else ""
    return f"{system}|{identifier['value']}"
