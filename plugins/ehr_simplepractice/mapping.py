"""Which kind of export a table is, and which of its columns holds each mapping key.

A practice whose download differs from SimplePractice's defaults maps keys in the source's settings, under
``columns``, kind by kind (:data:`ColumnOverrides`)::

    columns:
      billing:
        total_fee: "Fee"                              # the first column headed Fee
        insurance_paid: {header: "Paid", occurrence: 2}  # the second column headed Paid
        client_id: {position: 11}                     # the 11th column, whatever its header

A plain header means its first occurrence. Headers compare trimmed, without case, with single spaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from claimbridge.plugins.ehr_simplepractice.files import Table
from claimbridge.plugins.ehr_simplepractice.layouts import LAYOUTS, Column, Layout

__all__ = [
    "ColumnOverrides",
    "MappingError",
    "Row",
    "describe_unknown",
    "detect",
    "rows",
    "validate_overrides",
]

#: kind → mapping key → a header, ``{"header": ..., "occurrence": n}`` or ``{"position": n}`` (both from 1)
ColumnOverrides = Mapping[str, Mapping[str, "str | Mapping[str, object]"]]


class MappingError(ValueError):
    """A table of a known kind lacks a required column: says which key to map, and the headers there are."""

    def __init__(self, message: str, *, file: str, kind: str, key: str, header: str | None) -> None:
        super().__init__(message)
        self.file = file
        self.kind = kind
        self.key = key
        #: the header looked for (None when the key was mapped to a position)
        self.header = header


@dataclass(frozen=True)
class _Wanted:
    """Where a key's column is to be found: by header and occurrence, or by position (both from 1)."""

    header: str | None
    occurrence: int = 1
    position: int | None = None

    def describe(self) -> str:
        if self.position is not None:
            return f"column {self.position}"
        if self.occurrence > 1:
            return f"column {self.header!r} (occurrence {self.occurrence})"
        return f"column {self.header!r}"


def validate_overrides(overrides: ColumnOverrides | None) -> None:
    """Raise ValueError naming every unknown kind or key and every malformed entry, with the valid choices."""
    problems: list[str] = []
    for kind, keys in (overrides or {}).items():
        layout = LAYOUTS.get(kind)
        if layout is None:
            problems.append(f"columns: unknown export kind {kind!r} (valid: {', '.join(LAYOUTS)})")
            continue
        if not isinstance(keys, Mapping):
            problems.append(f"columns.{kind}: expected a mapping of key to header")
            continue
        for key, value in keys.items():
            where = f"columns.{kind}.{key}"
            if key not in layout.keys:
                problems.append(f"{where}: unknown key (valid for {kind}: {', '.join(layout.keys)})")
                continue
            problems.extend(f"{where}: {problem}" for problem in _entry_problems(value))
    if problems:
        raise ValueError("; ".join(problems))


def _entry_problems(value: object) -> list[str]:
    if isinstance(value, str):
        return [] if value.strip() else ["the header is empty"]
    if not isinstance(value, Mapping):
        return ["expected a header, {header: ..., occurrence: n} or {position: n}"]
    unknown = sorted(set(value) - {"header", "occurrence", "position"})
    if unknown:
        return [f"unknown field(s) {', '.join(map(str, unknown))} (valid: header, occurrence, position)"]
    if ("header" in value) == ("position" in value):
        return ["give either header (with an optional occurrence) or position"]
    if "position" in value:
        if "occurrence" in value:
            return ["occurrence goes with header, not position"]
        return [] if _is_count(value["position"]) else ["position must be a whole number from 1"]
    problems = []
    if not isinstance(value["header"], str) or not value["header"].strip():
        problems.append("header must be a non-empty text")
    if not _is_count(value.get("occurrence", 1)):
        problems.append("occurrence must be a whole number from 1")
    return problems


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _wanted(layout: Layout, column: Column, overrides: ColumnOverrides | None) -> _Wanted:
    value = ((overrides or {}).get(layout.kind) or {}).get(column.key)
    if value is None:
        return _Wanted(column.header, column.occurrence)
    if isinstance(value, str):
        return _Wanted(value)
    if "position" in value:
        return _Wanted(None, position=int(value["position"]))
    return _Wanted(str(value["header"]), int(value.get("occurrence", 1)))


def _normal(header: str) -> str:
    return " ".join(header.split()).casefold()


def _find(wanted: _Wanted, header: tuple[str, ...]) -> int | None:
    if wanted.position is not None:
        return wanted.position - 1 if wanted.position <= len(header) else None
    target = _normal(wanted.header or "")
    matches = [index for index, cell in enumerate(header) if _normal(cell) == target]
    return matches[wanted.occurrence - 1] if len(matches) >= wanted.occurrence else None


def _signature_columns(layout: Layout) -> tuple[Column, ...]:
    """The columns whose default headers make up the layout's signature (overrides then rename them)."""
    by_header = {_normal(column.header): column for column in reversed(layout.columns)}
    return tuple(by_header[_normal(header)] for header in layout.signature)


@dataclass(frozen=True)
class _Candidate:
    layout: Layout
    matched: int
    columns: dict[str, int] = field(compare=False)
    missing_signature: tuple[Column, ...] = field(compare=False)


def _candidates(table: Table, overrides: ColumnOverrides | None) -> list[_Candidate]:
    found = []
    for layout in LAYOUTS.values():
        wanted = {column.key: _wanted(layout, column, overrides) for column in layout.columns}
        columns = {key: index for key, w in wanted.items() if (index := _find(w, table.header)) is not None}
        signature = _signature_columns(layout)
        missing = tuple(column for column in signature if column.key not in columns)
        found.append(_Candidate(layout, len(signature) - len(missing), columns, missing))
    return found


def detect(table: Table, overrides: ColumnOverrides | None = None) -> tuple[Layout, dict[str, int]] | None:
    """The kind of export a table is, and ``{mapping key: 0-based column index}`` for every column found.

    A layout matches when all its signature headers (after the practice's overrides) are in the header; of
    several, the one with the most signature headers wins (the insurance payments report also has ``Payer``,
    like the insurance export), then the one with the most columns found. None when no layout matches.
    Raises :class:`MappingError` when the matching layout lacks a required column.
    """
    matching = [c for c in _candidates(table, overrides) if not c.missing_signature]
    if not matching:
        return None
    best = max(matching, key=lambda c: (c.matched, len(c.columns)))  # max keeps the first of equals
    layout = best.layout
    missing = [column for column in layout.columns if column.required and column.key not in best.columns]
    if missing:
        raise _missing_error(table, layout, missing[0], overrides)
    return layout, best.columns


def _missing_error(table: Table, layout: Layout, column: Column, overrides: ColumnOverrides | None) -> MappingError:
    wanted = _wanted(layout, column, overrides)
    purpose = f" for {column.about}" if column.about else ""
    message = (f"{table.name}: {wanted.describe()} not found (mapping key columns.{layout.kind}.{column.key}: "
               f"set it to this export's header{purpose}). Headers found: {_headers(table)}")
    return MappingError(message, file=table.name, kind=layout.kind, key=column.key, header=wanted.header)


def _headers(table: Table) -> str:
    return ", ".join(cell for cell in table.header if cell) or "(none)"


def describe_unknown(table: Table, overrides: ColumnOverrides | None = None) -> str:
    """Why a table is not a known export: its headers, each kind's identifying headers, and the closest kind."""
    candidates = _candidates(table, overrides)
    kinds = "; ".join(
        f"{c.layout.kind} ({c.layout.title}): "
        + ", ".join(_wanted(c.layout, column, overrides).describe().removeprefix("column ")
                    for column in _signature_columns(c.layout))
        for c in candidates
    )
    message = (f"{table.name}: not a known SimplePractice export. Headers found: {_headers(table)}. "
               f"Each kind is known by these headers: {kinds}")
    closest = max(candidates, key=lambda c: c.matched / len(c.layout.signature))
    if closest.matched:
        layout = closest.layout
        lacking = "; ".join(
            f"{_wanted(layout, column, overrides).describe()} (mapping key columns.{layout.kind}.{column.key})"
            for column in _signature_columns(layout) if column.key not in closest.columns
        )
        message += f". Closest: {layout.kind}, which lacks {lacking}: map it if this export names it differently"
    return message


@dataclass(frozen=True)
class Row:
    """One data row of a detected table, read by mapping key."""

    file: str
    number: int
    cells: tuple[str, ...]
    layout: Layout
    columns: Mapping[str, int]

    def get(self, key: str) -> str:
        """The cell for a mapping key: '' when the file has no such column or the row stops short of it.

        Raises KeyError for a key the layout does not have (a typo, not a missing column).
        """
        if key not in self.columns:
            self.layout.column(key)
            return ""
        index = self.columns[key]
        return self.cells[index] if index < len(self.cells) else ""

    def has(self, key: str) -> bool:
        """Whether the file has the key's column at all (a short row still has it, empty)."""
        self.layout.column(key)
        return key in self.columns


def rows(table: Table, layout: Layout, columns: Mapping[str, int]) -> Iterator[Row]:
    """The table's data rows, as :func:`detect` mapped them."""
    for number, cells in table.rows:
        yield Row(table.name, number, cells, layout, columns)
