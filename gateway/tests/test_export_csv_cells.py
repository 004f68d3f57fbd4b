"""A CSV export opened in a spreadsheet runs nothing: a text that would start a formula gets a
leading apostrophe (CSV injection), a negative number stays a number, and our import reads the
guarded cell back as typed, so an export round-trips."""
from __future__ import annotations

import csv
import io

from crm_gateway.export_tables import csv_cell, csv_chunks
from crmkit.imports.files import rows


def test_a_formula_is_never_a_formula_and_reads_back_as_typed() -> None:
    typed = ["=cmd|' /C calc'!A0", "+8613800138001", "@SUM(A1)", "-1+2", "\tx", "张伟", "-12.5", "'quoted", ""]
    written = b"".join(csv_chunks(["cell", "name"], [[v, "n"] for v in typed]))
    cells = [r[0] for r in csv.reader(io.StringIO(written.decode("utf-8-sig")))][1:]
    assert cells == ["'=cmd|' /C calc'!A0", "'+8613800138001", "'@SUM(A1)", "'-1+2", "'\tx", "张伟", "-12.5",
                     "'quoted", ""]
    assert [r[0] for r in rows("export.csv", written)][1:] == typed
    assert csv_cell(-3) == -3 and csv_cell(None) is None
