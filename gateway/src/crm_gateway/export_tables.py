"""Rows out as files: a table's columns read from a record's proto descriptor, and the two writers
every export shares (CSV with a UTF-8 BOM, streamed; xlsx written row by row to a file).

A column is a name, a kind (text, number, date-time) and how to read its cell from a record. The
descriptor gives them: scalars by their field name; money as two columns, `<field>` (the decimal
amount) and `<field>_currency`; timestamps as ISO 8601 (UTC, `Z`); repeated scalars joined by
", "; a single sub-message (an attribution) flattened as `<field>_<sub>`. Repeated messages and
maps (a quote's lines, a stage history) are no list columns: the record's own page shows them."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MONEY = "crm.common.v1.Money"
TIMESTAMP = "google.protobuf.Timestamp"
_NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters but tab, LF and CR
_F = FieldDescriptor
_NUMBERS = {_F.CPPTYPE_INT32, _F.CPPTYPE_INT64, _F.CPPTYPE_UINT32, _F.CPPTYPE_UINT64, _F.CPPTYPE_DOUBLE,
            _F.CPPTYPE_FLOAT}
Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | number | date-time
    read: Callable[[Any], str]


def columns_of(descriptor: Descriptor, *, first: Sequence[str] = (), skip: Sequence[str] = ()) -> tuple[Column, ...]:
    """The columns of a record type: the fields named in `first` first (an import's order), then the
    others in the contract's order."""
    by_name = {f.name: f for f in descriptor.fields}
    if unknown := [n for n in (*first, *skip) if n not in by_name]:
        raise ValueError(f"{descriptor.name} has no fields {unknown}")
    order = [*first, *(f.name for f in descriptor.fields if f.name not in first)]
    out: list[Column] = []
    for name in order:
        if name not in skip:
            out.extend(_columns(by_name[name], name, (name,)))
    return tuple(out)


def _columns(field: FieldDescriptor, label: str, path: tuple[str, ...]) -> list[Column]:
    message = field.message_type
    if field.is_repeated:
        if message is not None:
            return []  # a repeated message or a map: not a list column
        return [Column(label, "text", lambda r: ", ".join(str(v) for v in _get(r, path)))]
    if message is not None:
        if message.full_name == MONEY:
            return [Column(label, "number", lambda r: _get(r, path).amount),
                    Column(f"{label}_currency", "text", lambda r: _get(r, path).currency_code)]
        if message.full_name == TIMESTAMP:
            return [Column(label, "date-time", lambda r: _timestamp(r, path))]
        if len(path) > 1:
            return []  # one level of flattening is enough for a sheet
        return [c for sub in message.fields for c in _columns(sub, f"{label}_{sub.name}", (*path, sub.name))]
    if field.cpp_type == _F.CPPTYPE_BOOL:
        return [Column(label, "text", lambda r: "true" if _get(r, path) else "false")]
    if field.cpp_type == _F.CPPTYPE_ENUM and field.enum_type is not None:
        values = field.enum_type.values_by_number
        return [Column(label, "text", lambda r: values[_get(r, path)].name if _get(r, path) in values else "")]
    kind = "number" if field.cpp_type in _NUMBERS else "text"
    return [Column(label, kind, lambda r: str(_get(r, path)))]


def _get(record: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        record = getattr(record, name)
    return record


def _timestamp(record: Message, path: tuple[str, ...]) -> str:
    holder = _get(record, path[:-1])
    return getattr(holder, path[-1]).ToJsonString() if holder.HasField(path[-1]) else ""


def row_of(columns: Sequence[Column], record: Any) -> list[str]:
    return [c.read(record) for c in columns]


# -- writers ------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-\d+(\.\d+)?")


def csv_cell(value: Cell) -> Cell:
    """A text a spreadsheet would run as a formula (=, +, -, @, a tab or CR first) gets a leading
    apostrophe, so opening the file runs nothing (CSV injection); a negative number stays a number.
    `+86…` phones are guarded too, which also keeps Excel from turning them into numbers. Our
    import takes the apostrophe off again."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Cell]], *, every: int = 200) -> Iterator[bytes]:
    """UTF-8 with a BOM (Excel then reads Chinese text right), a chunk per `every` rows: memory
    stays flat whatever the row count. Cells are guarded against formulas (`csv_cell`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    yield ("\ufeff" + out.getvalue()).encode()
    out.seek(0)
    out.truncate()
    pending = 0
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) for v in row])
        pending += 1
        if pending == every:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
            pending = 0
    if pending:
        yield out.getvalue().encode()


def write_xlsx(target: IO[bytes], sheet_name: str, header: Sequence[str], kinds: Sequence[str],
               rows: Iterable[Sequence[Cell]], progress: Callable[[int], None] | None = None) -> int:
    """An xlsx workbook in openpyxl's write-only mode (rows go to a temporary file as they come, not
    into memory); numbers are numbers, text stays text even when it starts with '=' (never a
    formula). Answers the rows written."""
    from openpyxl import Workbook  # only an xlsx export pays for the import
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name[:31])
    sheet.append(list(header))
    count = 0
    for row in rows:
        cells: list[Any] = []
        for kind, value in zip(kinds, row, strict=False):
            out = _xlsx_value(kind, value)
            if isinstance(out, str) and out.startswith("="):
                cell = WriteOnlyCell(sheet, value=out)
                cell.data_type = "s"  # a typed "=SUM(...)" is data, not a formula to run
                cells.append(cell)
            else:
                cells.append(out)
        sheet.append(cells)
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(count)
    book.save(target)
    return count


def _xlsx_value(kind: str, value: Cell) -> Cell | Decimal:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        # XML 1.0 cannot hold these (openpyxl refuses the whole workbook): each one shows as U+FFFD
        value = _NOT_IN_XML.sub("\ufffd", value)
    if kind == "number" and isinstance(value, str):
        try:
            return Decimal(value)  # exact: "1999.90" stays 1999.9, never 1999.8999
        except InvalidOperation:
            return value
    return value
