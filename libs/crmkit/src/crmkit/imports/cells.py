"""What no entity's importer can take from a row, checked before the importer sees it: a NUL
character (no API accepts one, and PostgreSQL cannot store it), and a typed cell under no column
name (past the header's last column, as a value with an unquoted comma shifts a row, or under a
blank header): importing the rest would drop it silently. The row is rejected, each such cell
named, so the report says what to fix."""
from __future__ import annotations

from collections.abc import Sequence

from crmkit.imports.mapping import Problem

NUL = "\x00"
SHOWN = 50  # characters of a cell quoted in its problem


def problems(header: Sequence[str], targets: Sequence[str], values: Sequence[str]) -> list[Problem]:
    found: list[Problem] = []
    for i, cell in enumerate(values):
        named = i < len(header) and bool(header[i].strip())
        column = header[i] if named else f"column {i + 1}"
        if NUL in cell:
            found.append(Problem(targets[i] if i < len(targets) else "", column,
                                 "must not contain the NUL character (\\u0000)", cell[:SHOWN].replace(NUL, "")))
        elif not named and cell.strip():
            where = (f"past the header's {len(header)} columns (a value holding the delimiter needs quotes)"
                     if i >= len(header) else "under a blank header (name the column to import it)")
            found.append(Problem("", column, f"a value {where}", cell[:SHOWN]))
    return found
