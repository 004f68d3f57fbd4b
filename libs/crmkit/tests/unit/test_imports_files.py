"""crmkit.imports.files: a file read chunk by chunk gives the same rows as the whole file, whatever
the chunk boundaries cut (a Chinese character's bytes, a quoted cell's line break), in UTF-8 with a
BOM and in GB18030 (Excel on a Chinese Windows)."""
from __future__ import annotations

import csv
import datetime
import io

import pytest
from openpyxl import Workbook

from crm.common.v1.imports_pb2 import ColumnMapping, ValueMap
from crmkit.errors import InvalidArgument
from crmkit.imports import files, mapping

ROWS = [["姓名", "备注", "城市"], ["王芳", "第一行\n第二行", "北京"], ["", "", ""], ["李雷", "a;b", "上海"]]


def _csv(rows: list[list[str]], encoding: str) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
def test_streamed_rows_equal_the_whole_file(encoding: str, size: int) -> None:
    content = _csv(ROWS, encoding)

    def chunks() -> list[bytes]:
        return [content[i:i + size] for i in range(0, len(content), size)]

    found, total = files.encoding_and_count("x.csv", chunks)
    assert (found, total) == (encoding, 2)  # the blank row is no row anybody typed
    assert list(files.stream_rows("x.csv", chunks, found)) == [ROWS[0], ROWS[1], ROWS[3]]
    assert list(files.rows("x.csv", content)) == [ROWS[0], ROWS[1], ROWS[3]]


def test_a_file_that_is_no_text_is_refused() -> None:
    with pytest.raises(files.FileError):
        files.encoding_and_count("x.csv", lambda: [b"\xff\xfe\x00\x81\xfe"])


def test_a_workbook_saved_under_a_csv_name_is_refused_saying_so() -> None:
    out = io.BytesIO()
    book = Workbook()
    book.active.append(["name", "email"])
    book.save(out)
    for read in (lambda: files.first_row("客户.csv", lambda: [out.getvalue()]),
                 lambda: files.encoding_and_count("客户.csv", lambda: [out.getvalue()]),
                 lambda: next(files.read_rows("客户.csv", out.getvalue()))):
        with pytest.raises(files.FileError, match="is an xlsx workbook, not CSV text: .* ending .xlsx"):
            read()


def test_mapping_names_the_bad_target_and_maps_keeps_or_refuses_values() -> None:
    with pytest.raises(InvalidArgument) as bad:
        mapping.resolve("lead", ("name", "source"), {"source": ("website",)}, ["x"],
                        ColumnMapping(columns={"x": "nickname"}))
    assert bad.value.field == "mapping.columns.x"
    targets, unmapped = mapping.resolve("lead", ("name", "source"), {}, ["Name", "来源", "备注"],
                                        ColumnMapping(columns={"来源": "source", "备注": "ignore"}))
    assert (targets, unmapped) == (["name", "source", ""], [])
    cells = mapping.Cells()
    values = ColumnMapping(values={"source": ValueMap(values={"webinar": "event"})})
    assert mapping.picklist_value("source", "webinar", ("event",), values, cells, "来源") == "event"
    assert mapping.picklist_value("source", "Cold Call", ("cold_call",), values, cells, "来源") == "cold_call"
    assert mapping.picklist_value("source", "fax", ("event",), values, cells, "来源") is None
    assert "'fax' is not one of event" in cells.problems[0].message
    values.keep_unknown_values = True
    assert mapping.picklist_value("source", "fax", ("event",), values, cells, "来源") is None
    assert cells.kept_tags == ["source:fax"]


def test_xlsx_cells_read_as_excel_shows_them() -> None:
    book = Workbook()
    book.active.append(["手机", "生日", "签约", "启用"])
    book.active.append([13800138000, datetime.datetime(2026, 1, 2), datetime.datetime(2026, 1, 2, 9, 30), True])
    out = io.BytesIO()
    book.save(out)
    assert list(files.rows("x.xlsx", out.getvalue()))[1] == ["13800138000", "2026-01-02", "2026-01-02 09:30:00", "true"]


def test_a_workbook_whose_first_sheet_is_empty_is_refused_naming_the_sheet_read() -> None:
    book = Workbook()
    book.active.title = "说明"
    book.create_sheet("客户").append(["姓名", "手机"])
    out = io.BytesIO()
    book.save(out)
    for read in (lambda: files.first_row("客户.xlsx", lambda: [out.getvalue()]),
                 lambda: files.encoding_and_count("客户.xlsx", lambda: [out.getvalue()])):
        with pytest.raises(files.FileError, match="first sheet is read, and “说明” is empty .*“客户”"):
            read()
