"""A file's rows as text, the header first, read as a stream. No I/O beyond the bytes handed in."""
from __future__ import annotations

import codecs
import csv
import datetime
import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

MAX_COLUMNS = 200


class FileError(ValueError):
    """The file as a whole cannot be read (not CSV, not xlsx, no header)."""


_GUARDED = ("'=", "'+", "'-", "'@", "'\t", "'\r")


def unguard(cell: str) -> str:
    """A CSV cell our export guarded against formulas ('=…, '+86…) read back as the text it was:
    an export imported again round-trips. (Excel's own text marker is the same apostrophe.)"""
    return cell[1:] if cell.startswith(_GUARDED) else cell


def unguarded(row: list[str]) -> list[str]:
    return [c[1:] if c.startswith(_GUARDED) else c for c in row]  # unguard's, inline: every cell of a file


def read_rows(file_name: str, content: bytes) -> Iterator[list[str]]:
    """The file's rows as text, the header first. CSV: UTF-8 (a BOM is skipped) or GB18030, the
    delimiter sniffed among , ; tab. xlsx: the first sheet, read-only (flat memory)."""
    if file_name.lower().endswith(".xlsx"):
        yield from _xlsx_rows(content)
        return
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")  # Excel on a Chinese Windows saves CSV so
        except UnicodeDecodeError:
            raise _not_text(content[:4]) from None
    head = text[:4096]
    delimiter = max((",", ";", "\t"), key=head.count)
    yield from map(unguarded, _parsed(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))


def rows(file_name: str, content: bytes) -> Iterator[list[str]]:
    """The header, then the data rows (blank lines skipped: they are not rows anybody typed)."""
    return (r for r in read_rows(file_name, content) if any(map(str.strip, r)))


def count_rows(file_name: str, content: bytes) -> int:
    """Data rows, for progress: a pass over the file without building anything."""
    return max(sum(1 for _ in rows(file_name, content)) - 1, 0)


def header(file_name: str, content: bytes) -> list[str]:
    return next(read_rows(file_name, content), [])


Chunks = Callable[[], Iterable[bytes]]  # the file's bytes in order, each call from the start


def encoding_and_count(file_name: str, chunks: Chunks) -> tuple[str, int]:
    """One pass over the file in constant memory: its text encoding ("" for xlsx) and its number of
    data rows (for progress)."""
    if file_name.lower().endswith(".xlsx"):
        return "", max(sum(1 for r in _xlsx_rows(b"".join(chunks())) if any(c.strip() for c in r)) - 1, 0)
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on a Chinese Windows saves CSV as GB18030
        try:
            return encoding, max(sum(1 for _ in _csv_rows(chunks, encoding)) - 1, 0)
        except UnicodeDecodeError:
            continue
    raise _not_text(next(iter(chunks()), b"")[:4])


def stream_rows(file_name: str, chunks: Chunks, encoding: str) -> Iterator[list[str]]:
    """The header, then the data rows (blank lines skipped), decoding and parsing chunk by chunk:
    the whole file is never in memory (an xlsx workbook is: its format is a zip archive)."""
    if not encoding:
        yield from rows(file_name, b"".join(chunks()))
        return
    yield from map(unguarded, _csv_rows(chunks, encoding))


def _csv_rows(chunks: Chunks, encoding: str) -> Iterator[list[str]]:
    """A CSV's rows as parsed, blank lines skipped (a count needs no more)."""
    lines = _lines(chunks(), encoding)
    first = next(lines, None)
    if first is None:
        return
    delimiter = max((",", ";", "\t"), key=first.count)
    yield from filter(lambda row: any(map(str.strip, row)), _parsed(csv.reader(_chain(first, lines),
                                                                               delimiter=delimiter)))


def _parsed(reader: Any) -> Iterator[list[str]]:
    """A csv reader's rows; a line it cannot parse (a cell past csv's field limit of 128 KiB) makes
    the file unreadable, a FileError naming the line, not an error no caller expects."""
    try:
        yield from reader
    except csv.Error as exc:
        raise FileError(f"line {reader.line_num} cannot be read as CSV: {exc}") from None


def first_row(file_name: str, chunks: Chunks) -> list[str]:
    """The header, reading no more of the file than its first line (a CSV's encoding guessed from
    that line: UTF-8, else GB18030)."""
    if file_name.lower().endswith(".xlsx"):
        return next(iter(_xlsx_rows(b"".join(chunks()))), [])
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return next(stream_rows(file_name, chunks, encoding), [])
        except UnicodeDecodeError:
            continue
    raise _not_text(next(iter(chunks()), b"")[:4])


def _not_text(start: bytes) -> FileError:
    """A file named .csv that is no text; a workbook (a zip archive) saved under a .csv name says so."""
    if start == b"PK\x03\x04":
        return FileError("the file is an xlsx workbook, not CSV text: upload it with a name ending .xlsx")
    return FileError("the file is neither UTF-8 nor GB18030 text, nor an xlsx workbook")


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _lines(chunks: Iterable[bytes], encoding: str) -> Iterator[str]:
    """Text lines with their endings (a quoted cell's line break stays for csv to join)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        parts = pending.split("\n")
        pending = parts.pop()
        for part in parts:
            yield part + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook  # only an xlsx import pays for the import

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors alike
        raise FileError(f"the file is not an xlsx workbook ({type(exc).__name__})") from None
    try:
        sheet, read = book.worksheets[0], False
        for values in sheet.iter_rows(values_only=True):
            read = True
            yield ["" if v is None else _cell_text(v) for v in values]
        if not read and len(book.worksheets) > 1:  # the data on another sheet: say which one is read
            names = ", ".join(f"“{s.title}”" for s in book.worksheets)
            raise FileError(f"only a workbook's first sheet is read, and “{sheet.title}” is empty (this one has "
                            f"{names}): move the data to the first sheet")
    finally:
        book.close()


def _cell_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number: 13800138000.0 → 13800138000
    if isinstance(value, datetime.datetime):  # a date cell: as Excel shows it, not "2026-01-02 00:00:00"
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"  # Excel's TRUE, not Python's "True"
    return str(value)
