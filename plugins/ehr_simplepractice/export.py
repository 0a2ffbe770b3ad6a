"""Everything in an import folder, parsed: clients, plans, appointments, billing rows and payments.

Each file is stamped with the time it arrived in the folder (its inode change time: set when it is written,
copied or moved in, and kept by nothing that copies files, unlike the modification time, which ``cp -p``, unzip
and downloads preserve). A session is new to a pull when any file it is built from arrived after the bookmark,
so a corrected client list or insurance export dropped later rebuilds the sessions it touches.

A row that cannot be used becomes a :class:`RowProblem` (file, row number, field, reason, the cells) and the rest
of the file goes on; a file that cannot be read at all is one problem naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from .files import FileProblem, Table, read_tables
from .layouts import ATTENDANCE, UPCOMING
from .mapping import MappingError, Row, describe_unknown, detect, rows
from .values import (
    name_key,
    parse_codes,
    parse_date,
    parse_minutes,
    parse_modifiers,
    parse_money,
    parse_payer,
    parse_time,
    parse_units,
    split_name,
)

#: files the folder scan reads (anything else — partial downloads, notes — is left alone)
EXPORT_SUFFIXES = (".csv", ".xlsx", ".zip", ".txt")


@dataclass(frozen=True)
class RowProblem:
    """A row (or a whole file, ``row`` None) that cannot be used."""

    file: str
    row: int | None
    reason: str
    field: str | None = None
    cells: tuple[str, ...] = ()
    stamp: datetime | None = None
    #: the kind of report the row is from (``appointments``, ``billing`` …), when known
    kind: str | None = None

    @property
    def key(self) -> str:
        return f"{self.file}:row {self.row}" if self.row is not None else self.file


@dataclass(frozen=True)
class Origin:
    file: str
    row: int
    stamp: datetime


@dataclass(frozen=True)
class Client:
    client_id: str | None
    first: str
    last: str
    birth_date: date
    sex: str | None
    address: dict[str, Any] | None
    phone: str | None
    origin: Origin

    @property
    def name_key(self) -> str:
        return name_key(self.first, self.last)


@dataclass(frozen=True)
class Plan:
    client_id: str | None
    client_name_key: str | None
    birth_date: date | None
    order: int
    payer_name: str
    payer_id: str | None
    member_id: str
    group_number: str | None
    relationship: str
    insured: dict[str, Any] | None
    start: date | None
    end: date | None
    diagnoses: tuple[str, ...]
    authorization: str | None
    origin: Origin

    def covers(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class Appointment:
    day: date
    start: time | None
    minutes: int | None
    client_name_key: str
    client_id: str | None
    clinician: str
    code: str | None
    attendance: str  # show, late_cancel, no_show, cancelled, or scheduled (not happened yet)
    location: str | None
    origin: Origin


@dataclass(frozen=True)
class Charge:
    day: date
    client_name_key: str
    client_id: str | None
    clinician: str
    code: str
    units: Decimal
    total: Decimal
    modifiers: tuple[str, ...]
    primary: tuple[str, str | None] | None
    secondary: tuple[str, str | None] | None
    attendance: str | None
    origin: Origin
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Payment:
    payment_date: date
    payer_name: str
    payer_id: str | None
    reference: str | None
    client_name_key: str | None
    date_of_service: date | None
    code: str | None
    amount: Decimal
    origin: Origin


@dataclass
class Export:
    """Every record of the folder, in file arrival order (newest last)."""

    clients: list[Client] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    appointments: list[Appointment] = field(default_factory=list)
    charges: list[Charge] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    files: list[tuple[str, datetime]] = field(default_factory=list)


def arrival(path: Path) -> datetime:
    """When the file arrived in the folder (see the module docstring), as an aware UTC datetime."""
    info = path.stat()
    return datetime.fromtimestamp(max(info.st_ctime, info.st_mtime), UTC)


def export_files(folder: Path, until: datetime | None = None) -> list[tuple[Path, datetime]]:
    """The export files in ``folder`` (not in subfolders; hidden and partial files skipped) that arrived by
    ``until``, oldest first."""
    found = []
    for entry in os.scandir(folder):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        if not entry.name.lower().endswith(EXPORT_SUFFIXES):
            continue
        path = Path(entry.path)
        stamp = arrival(path)
        if until is None or stamp <= until:
            found.append((path, stamp))
    return sorted(found, key=lambda item: (item[1], item[0].name))


def load_export(folder: Path, *, until: datetime | None = None,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Export:
    """Read every export file of ``folder`` that arrived by ``until``."""
    export = Export()
    for path, stamp in export_files(folder, until):
        export.files.append((path.name, stamp))
        for table in read_tables(path):
            if isinstance(table, FileProblem):
                export.problems.append(RowProblem(table.name, None, table.reason, stamp=stamp))
                continue
            _load_table(export, table, stamp, overrides)
    return export


def _load_table(export: Export, table: Table, stamp: datetime, overrides) -> None:
    try:
        found = detect(table, overrides)
    except MappingError as exc:
        export.problems.append(RowProblem(table.name, None, str(exc), field=f"columns.{exc.kind}.{exc.key}",
                                          stamp=stamp))
        return
    if found is None:
        export.problems.append(RowProblem(table.name, None, describe_unknown(table, overrides), stamp=stamp))
        return
    layout, columns = found
    reader = _READERS[layout.kind]
    target = getattr(export, _TARGETS[layout.kind])
    for row in rows(table, layout, columns):
        origin = Origin(row.file, row.number, stamp)
        try:
            record = reader(row, origin)
        except _CellError as exc:
            export.problems.append(RowProblem(row.file, row.number, exc.reason, field=exc.field, cells=row.cells,
                                              stamp=stamp, kind=layout.kind))
            continue
        if record is not None:
            target.append(record)


class _CellError(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _cell(row: Row, key: str, parse, *, required: bool = False):
    text = row.get(key)
    if not text:
        if required:
            raise _CellError(key, f"{_header(row, key)} is empty")
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise _CellError(key, f"{_header(row, key)}: {exc}") from None


def _header(row: Row, key: str) -> str:
    column = row.layout.column(key)
    return f"column {column.header!r} ({row.layout.kind}.{key})"


def _text(row: Row, key: str) -> str | None:
    return row.get(key) or None


def _person_name(row: Row, key: str) -> tuple[str, str]:
    return _cell(row, key, split_name, required=True)


# ---------------------------------------------------------------------------------------------------- kinds


def _client(row: Row, origin: Origin) -> Client:
    first, last = row.get("first_name"), row.get("last_name")
    if not first or not last:
        raise _CellError("first_name" if not first else "last_name", "the client's first or last name is empty")
    sex = (row.get("sex") or "").strip().lower()
    address = None
    if row.get("address_line_1"):
        lines = [line for line in (row.get("address_line_1"), row.get("address_line_2")) if line]
        address = {"use": "home", "line": lines, "city": row.get("city") or None,
                   "state": (row.get("state") or "").upper() or None,
                   "postalCode": (row.get("zip") or "").replace("-", "") or None}
        address = {k: v for k, v in address.items() if v}
    return Client(client_id=_text(row, "client_id"), first=first, last=last,
                  birth_date=_cell(row, "date_of_birth", parse_date, required=True),
                  sex={"female": "female", "f": "female", "male": "male", "m": "male"}.get(sex),
                  address=address, phone=_text(row, "phone"), origin=origin)


_ORDERS = {"primary": 1, "secondary": 2, "tertiary": 3, "1": 1, "2": 2, "3": 3}
_RELATIONSHIPS = {"self": "self", "spouse": "spouse", "child": "child", "other": "other", "": "self"}


def _plan(row: Row, origin: Origin) -> Plan:
    client_id = _text(row, "client_id")
    client_name = None
    if row.get("client"):
        client_name = name_key(*_person_name(row, "client"))
    if client_id is None and client_name is None:
        raise _CellError("client", "the row names no client (Client ID or Client)")
    order_text = (row.get("order") or "primary").strip().lower()
    if order_text not in _ORDERS:
        raise _CellError("order", f"{_header(row, 'order')}: {order_text!r} is not Primary, Secondary or Tertiary")
    payer_name, payer_id = _cell(row, "payer", parse_payer, required=True)
    payer_id = _text(row, "payer_id") or payer_id
    relationship_text = (row.get("relationship") or "").strip().lower()
    relationship = _RELATIONSHIPS.get(relationship_text, "other")
    insured = None
    if relationship != "self" and (row.get("insured_first_name") or row.get("insured_last_name")):
        insured = {"first": row.get("insured_first_name"), "last": row.get("insured_last_name"),
                   "birth_date": _cell(row, "insured_date_of_birth", parse_date),
                   "sex": {"female": "female", "f": "female", "male": "male", "m": "male"}.get(
                       (row.get("insured_sex") or "").strip().lower())}
    member_id = row.get("member_id")
    if not member_id:
        raise _CellError("member_id", f"{_header(row, 'member_id')} is empty")
    return Plan(client_id=client_id, client_name_key=client_name,
                birth_date=_cell(row, "date_of_birth", parse_date), order=_ORDERS[order_text],
                payer_name=payer_name, payer_id=payer_id, member_id=member_id,
                group_number=_text(row, "group_number"), relationship=relationship, insured=insured,
                start=_cell(row, "plan_start", parse_date), end=_cell(row, "plan_end", parse_date),
                diagnoses=_cell(row, "diagnoses", parse_codes) or (),
                authorization=_text(row, "authorization_number"), origin=origin)


def _appointment(row: Row, origin: Origin) -> Appointment:
    status = " ".join((row.get("status") or "").split()).lower()
    if status not in ATTENDANCE and status not in UPCOMING:
        raise _CellError("status", f"{_header(row, 'status')}: {row.get('status')!r} is not Show, Late "
                                   "Cancelled, No Show, Cancelled, or Scheduled (or blank) for an upcoming one")
    day = _cell(row, "date", parse_date, required=True)
    start = _cell(row, "start_time", parse_time)
    end = _cell(row, "end_time", parse_time)
    minutes = _cell(row, "duration", parse_minutes)
    if minutes is None and start is not None and end is not None:
        minutes = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
        if minutes <= 0:
            raise _CellError("end_time", "the appointment ends before it starts")
    return Appointment(day=day, start=start, minutes=minutes,
                       client_name_key=name_key(*_person_name(row, "client")), client_id=_text(row, "client_id"),
                       clinician=_clinician(row), code=_code(row.get("service_code")),
                       attendance=ATTENDANCE.get(status) or UPCOMING[status], location=_text(row, "location"),
                       origin=origin)


def _clinician(row: Row) -> str:
    text = " ".join(row.get("clinician").split())
    if not text:
        raise _CellError("clinician", f"{_header(row, 'clinician')} is empty")
    return text


def _code(text: str | None) -> str | None:
    return text.strip().upper() if text and text.strip() else None


def _payer_cell(row: Row, key: str) -> tuple[str, str | None] | None:
    return _cell(row, key, parse_payer)


def _charge(row: Row, origin: Origin) -> Charge | None:
    total = _cell(row, "total_fee", parse_money)
    if total is None or total == 0:
        return None  # NO CHARGE: never a claim
    if total < 0:
        raise _CellError("total_fee", f"{_header(row, 'total_fee')} is negative")
    code = _code(row.get("billing_code"))
    if code is None:
        raise _CellError("billing_code", f"{_header(row, 'billing_code')} is empty")
    status = (row.get("appointment_status") or "").strip().lower()
    if status and status not in ATTENDANCE:
        raise _CellError("appointment_status", f"{_header(row, 'appointment_status')}: {row.get('appointment_status')!r}"
                                               " is not Show, Late Cancelled, No Show or Cancelled")
    return Charge(day=_cell(row, "date_of_service", parse_date, required=True),
                  client_name_key=name_key(*_person_name(row, "client")), client_id=_text(row, "client_id"),
                  clinician=_clinician(row), code=code, units=_cell(row, "units", parse_units) or Decimal(1),
                  total=total, modifiers=_cell(row, "modifiers", parse_modifiers) or (),
                  primary=_payer_cell(row, "primary_insurance"), secondary=_payer_cell(row, "secondary_insurance"),
                  attendance=ATTENDANCE[status] if status else None, origin=origin, cells=row.cells)


def _payment(row: Row, origin: Origin) -> Payment | None:
    amount = _cell(row, "amount", parse_money, required=True)
    payer_name, payer_id = _cell(row, "payer", parse_payer, required=True)
    client = name_key(*_person_name(row, "client")) if row.get("client") else None
    return Payment(payment_date=_cell(row, "payment_date", parse_date, required=True), payer_name=payer_name,
                   payer_id=payer_id, reference=_text(row, "reference"), client_name_key=client,
                   date_of_service=_cell(row, "date_of_service", parse_date), code=_code(row.get("billing_code")),
                   amount=amount, origin=origin)


_READERS = {"clients": _client, "insurance": _plan, "appointments": _appointment, "billing": _charge,
            "insurance_payments": _payment}
_TARGETS = {"clients": "clients", "insurance": "plans", "appointments": "appointments", "billing": "charges",
            "insurance_payments": "payments"}


def newest(records: Iterable[Any], key) -> dict[Any, Any]:
    """The newest record per ``key(record)`` (records come oldest file first, rows in file order)."""
    out: dict[Any, Any] = {}
    for record in records:
        out[key(record)] = record
    return out
