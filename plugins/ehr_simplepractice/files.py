"""Reading SimplePractice downloads (CSV, XLSX, or a ZIP of them) into tables of text cells, by position.

Rows stay lists of cells, never dicts keyed by header: the billing report repeats ``Charge``, ``Paid`` and
``Unpaid``, and a dict would silently keep only the last of each. Cells are trimmed text, so CSV and Excel
downloads of the same report look the same to the mapping (see :func:`excel_cell_text`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

__all__ = ["FileProblem", "Table", "excel_cell_text", "file_digest", "read_tables"]

_CHUNK = 1 << 20
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_ZIP = (
    "the ZIP is password protected (SimplePractice full account exports are): extract it with the "
    "password and point the source at the extracted files"
)


@dataclass(frozen=True)
class Table:
    """One CSV file or one Excel sheet: its header and its non-blank rows, all cells trimmed text.

    ``rows`` pairs each row with its number as a spreadsheet user counts it (the header is row 1 unless blank
    lines precede it; a quoted cell spanning lines is still one row). Rows are kept as long as the file has
    them: shorter or longer than the header.
    """

    name: str
    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]


@dataclass(frozen=True)
class FileProblem:
    """A file or ZIP member that cannot be read, and why (never its content)."""

    name: str
    reason: str


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_tables(path: Path) -> Iterator[Table | FileProblem]:
    """Every table in a download: a CSV (or comma-separated .txt) file, each sheet of an .xlsx, each such
    member of a .zip. Whatever cannot be read is yielded as a :class:`FileProblem` instead; reading goes on.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".zip":
            yield from _read_zip(path)
        elif suffix in (".csv", ".txt"):
            yield _read_csv(path.name, partial(open, path, "rb"), require_comma=suffix == ".txt")
        elif suffix in (".xlsx", ".xlsm"):
            with open(path, "rb") as stream:
                yield from _read_xlsx(path.name, stream)
        elif suffix == ".xls":
            yield FileProblem(path.name, "an old Excel .xls workbook: save it as .xlsx or CSV")
        else:
            yield FileProblem(path.name, "not a CSV, XLSX or ZIP file")
    except OSError as error:
        yield FileProblem(path.name, f"cannot be read: {error.strerror or error}")


def _read_zip(path: Path) -> Iterator[Table | FileProblem]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        yield FileProblem(path.name, "not a readable ZIP file (damaged, or not a ZIP)")
        return
    with archive:
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            if info.is_dir() or member.parts[0] == "__MACOSX" or any(p.startswith(".") for p in member.parts):
                continue
            name = f"{path.name}:{info.filename}"
            suffix = member.suffix.lower()
            if suffix not in (".csv", ".txt", ".xlsx", ".xlsm", ".zip"):
                continue  # full exports also hold PDFs and documents
            if info.flag_bits & 0x1:
                yield FileProblem(name, _ENCRYPTED_ZIP)
                continue
            try:
                if suffix == ".zip":
                    yield FileProblem(name, "a ZIP inside the ZIP is not read: extract it first")
                elif suffix in (".csv", ".txt"):
                    table = _read_csv(name, lambda info=info: archive.open(info), require_comma=suffix == ".txt")
                    if not (suffix == ".txt" and isinstance(table, FileProblem)):
                        yield table  # a .txt in an export is usually a readme, not a report
                else:
                    with archive.open(info) as stream:
                        # openpyxl needs to seek; workbooks are small next to what a CSV can be
                        yield from _read_xlsx(name, io.BytesIO(stream.read()))
            except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError) as error:
                yield FileProblem(name, f"cannot be extracted from the ZIP ({error})")


def _read_csv(name: str, open_binary: Callable[[], IO[bytes]], *, require_comma: bool = False) -> Table | FileProblem:
    with open_binary() as stream:
        encoding = _detect_encoding(stream)
    if encoding is None:
        return FileProblem(name, "text in an unknown encoding (neither UTF-8 nor Windows-1252): save it as CSV UTF-8")
    if encoding == "utf-16":
        return FileProblem(name, "UTF-16 text (Excel 'Unicode Text'): save it as CSV UTF-8")
    try:
        with open_binary() as stream:
            text = io.TextIOWrapper(stream, encoding=encoding, newline="")
            table = _table(name, enumerate(csv.reader(text), start=1))
    except csv.Error as error:
        return FileProblem(name, f"not a readable CSV file ({error})")
    if table is None:
        return FileProblem(name, "no header row (the file is empty)")
    if require_comma and len(table.header) < 2:
        return FileProblem(name, "a text file without comma-separated columns")
    return table


def _detect_encoding(stream: IO[bytes]) -> str | None:
    """``utf-8-sig`` (with or without a BOM), else ``cp1252`` (CSV saved by Excel on Windows), ``utf-16``
    when a UTF-16 BOM says so, or None. Reads the stream once, in chunks."""
    first = stream.read(_CHUNK)
    if first.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf8 = codecs.getincrementaldecoder("utf-8")()
    cp1252 = codecs.getincrementaldecoder("cp1252")()
    utf8_ok = cp1252_ok = True
    chunk = first
    while chunk and (utf8_ok or cp1252_ok):
        utf8_ok = utf8_ok and _decodes(utf8, chunk, final=False)
        cp1252_ok = cp1252_ok and _decodes(cp1252, chunk, final=False)
        chunk = stream.read(_CHUNK)
    utf8_ok = utf8_ok and _decodes(utf8, b"", final=True)
    if utf8_ok:
        return "utf-8-sig"
    return "cp1252" if cp1252_ok else None


def _decodes(decoder: codecs.IncrementalDecoder, chunk: bytes, *, final: bool) -> bool:
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return False
    return True


def _read_xlsx(name: str, stream: IO[bytes]) -> Iterator[Table | FileProblem]:
    from openpyxl import load_workbook  # imported here: only Excel downloads need it

    if stream.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
        yield FileProblem(name, "a password-protected workbook or an old .xls saved as .xlsx: save it as .xlsx "
                                "without a password, or as CSV")
        return
    stream.seek(0)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        yield FileProblem(name, f"not a readable XLSX workbook ({type(error).__name__})")
        return
    found = False
    try:
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue  # a chart sheet
            # some writers record a wrong used range; forget it so every row is read
            sheet.reset_dimensions()
            rows = ([excel_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True))
            table = _table(f"{name}[{sheet.title}]", enumerate(rows, start=1))
            if table is not None:
                found = True
                yield table
    finally:
        workbook.close()
    if not found:
        yield FileProblem(name, "no header row (every sheet is empty)")


def _table(name: str, numbered_rows: Iterable[tuple[int, list[str]]]) -> Table | None:
    header: tuple[str, ...] | None = None
    rows: list[tuple[int, tuple[str, ...]]] = []
    for number, row in numbered_rows:
        cells = [cell.strip() for cell in row]
        while cells and not cells[-1]:
            cells.pop()  # trailing empties carry nothing, and Excel pads rows with them
        if not cells:
            continue
        if header is None:
            header = tuple(cells)
        else:
            rows.append((number, tuple(cells)))
    return None if header is None else Table(name, header, tuple(rows))


def excel_cell_text(value: object) -> str:
    """An Excel cell value as the text a CSV download of the same report would hold.

    Dates become ``YYYY-MM-DD`` (``YYYY-MM-DD HH:MM`` when the time is not midnight), times ``HH:MM``, booleans
    ``TRUE``/``FALSE``. A number becomes its shortest exact decimal: ``185.0`` becomes ``185`` and ``45.5``
    stays ``45.5`` — money keeps cents only when it has them, which the money parser accepts either way.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value)
