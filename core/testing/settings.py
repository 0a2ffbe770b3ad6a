"""Conformance of connector settings models: unknown keys refused, every field described."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from claimbridge.testing.problems import ConformanceError, name_of


def _single_literal(annotation: Any) -> bool:
    """A one-value ``Literal`` — the tag of a discriminated union, which needs no description."""
    return typing.get_origin(annotation) is typing.Literal and len(typing.get_args(annotation)) == 1


def _nested_models(annotation: Any, base: type) -> Iterator[type]:
    """The pydantic models inside an annotation (``X``, ``X | None``, ``list[X]``, ``Annotated[A | B, …]`` …)."""
    if isinstance(annotation, type) and issubclass(annotation, base):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return
    for arg in typing.get_args(annotation):
        yield from _nested_models(arg, base)


def check_settings_model(model: Any) -> None:
    """Check a connector's settings model: a pydantic model that rejects unknown keys (``extra="forbid"``, as
    :class:`claimbridge.ConnectorSettings` sets) and documents every field with a description; the models nested
    in its fields are checked the same way. One-value ``Literal`` fields (a discriminated union's ``type`` tag)
    need no description."""
    from pydantic import BaseModel, ValidationError

    subject = f"settings model {name_of(model)}"
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConformanceError(subject, ["is not a pydantic model; subclass claimbridge.ConnectorSettings"])
    problems: list[str] = []
    seen: set[type] = set()

    def visit(cls: type, where: str) -> None:
        if cls in seen:
            return
        seen.add(cls)
        prefix = f"{where}: " if where else ""
        if cls.model_config.get("extra") != "forbid":
            problems.append(f"{prefix}accepts unknown keys, so a misspelt setting is silently ignored; subclass "
                            "claimbridge.ConnectorSettings or set model_config = ConfigDict(extra=\"forbid\")")
        for name, info in cls.model_fields.items():
            if not (info.description and info.description.strip()) and not _single_literal(info.annotation):
                problems.append(f"{prefix}field {name!r} has no description; declare it as "
                                f"{name}: … = Field(…, description=\"what it is, its unit and default\")")
            for nested in _nested_models(info.annotation, BaseModel):
                visit(nested, f"{cls.__name__}.{name} ({nested.__name__})")

    visit(model, "")
    if not problems:
        # the config says forbid; make sure validation really refuses an unknown key
        unknown = "claimbridge_conformance_unknown_key"
        try:
            model.model_validate({unknown: 1})
        except ValidationError as exc:
            if not any(err.get("type") == "extra_forbidden" for err in exc.errors()):
                problems.append(f"did not reject the unknown key {unknown!r}; do not drop or accept extra keys "
                                "in a model_validator(mode=\"before\")")
        else:
            problems.append(f"accepted the unknown key {unknown!r}; set model_config = ConfigDict(extra=\"forbid\")")
    if problems:
        raise ConformanceError(subject, problems)
