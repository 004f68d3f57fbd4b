"""An xlsx export of text a workbook cannot hold: the API takes control characters such as a
vertical tab (\\x0b, pasted from Word) or \\x1f in a name, which XML 1.0 (and so xlsx) has no way
to write. The export still answers, every other character kept, each such one shown as U+FFFD;
tab and line breaks stay as typed."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from crm_gateway.export_tables import write_xlsx


def test_a_control_character_does_not_break_the_workbook_and_is_shown_replaced() -> None:
    out = io.BytesIO()
    typed = ["王芳\x0b销售部", "A\x00B\x1fC", "第一行\n第二行\t制表", "=cmd\x07"]
    assert write_xlsx(out, "contacts", ["name"], ["text"], [[t] for t in typed]) == len(typed)
    sheet = load_workbook(io.BytesIO(out.getvalue()), read_only=True).active
    cells = [row[0] for row in sheet.iter_rows(values_only=True)][1:]
    assert cells == ["王芳\ufffd销售部", "A\ufffdB\ufffdC", "第一行\n第二行\t制表", "=cmd\ufffd"]
