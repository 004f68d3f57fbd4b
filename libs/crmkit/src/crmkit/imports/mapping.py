"""A ColumnMapping applied: per column its target field, and picklist values as typed → keys.

Nothing the user typed is lost: an unknown picklist value is mapped (`ColumnMapping.values`),
kept as the tag "<field>:<value>" when `keep_unknown_values` says so, or the row is refused
naming the value."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from crm.common.v1.imports_pb2 import ColumnMapping
from crmkit.errors import InvalidArgument
from crmkit.imports import headers


@dataclass(frozen=True)
class Problem:
    field: str
    column: str
    message: str
    value: str = ""


@dataclass
class Cells:
    """One row's problems and notes (kept rows' remarks: an unverified phone, a kept value)."""
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    kept_tags: list[str] = field(default_factory=list)  # "<field>:<value>" of unknown picklist values kept


def resolve(entity: str, allowed: Sequence[str], picklists: Mapping[str, Sequence[str]], header: Sequence[str],
            mapping: ColumnMapping, *, custom_fields: bool = False) -> tuple[list[str], list[str]]:
    """Per column, its target ("" = not imported), and the columns nobody mapped (reported)."""
    for column, target in mapping.columns.items():
        # a column this file lacks is no error: a mapping remembered for a source outlives its files
        if target != "ignore" and target not in allowed and not (custom_fields and target.startswith("custom_fields.")):
            extra = " or custom_fields.<key>" if custom_fields else ""
            raise InvalidArgument(f"'{target}' is not a field of a {entity}: use one of {', '.join(allowed)}{extra}",
                                  field=f"mapping.columns.{column}")
    for name in mapping.values:
        if name not in picklists:
            raise InvalidArgument(f"values map only {', '.join(picklists) or 'nothing here'}",
                                  field=f"mapping.values.{name}")
    # the columns the mapping names first; each other column fills a field its header names that
    # no column before it fills (of "手机" and "电话", one is the mobile, the other the phone)
    taken = {mapping.columns[c] for c in header if c in mapping.columns}
    targets: list[str] = []
    unmapped: list[str] = []
    for column in header:
        target = mapping.columns.get(column, "")
        if not target:
            target = next((f for f in headers.fields_named(column, allowed) if f not in taken), "")
            taken.add(target)
        if not target and column.strip():
            unmapped.append(column)
        targets.append("" if target == "ignore" else target)
    return targets, unmapped


def picklist_value(name: str, raw: str, allowed: Sequence[str], mapping: ColumnMapping, cells: Cells,
                   column: str, *, named: Callable[[str], str] | None = None, free_text: bool = False) -> str | None:
    """The key `raw` stands for, or None (the problem or the kept tag recorded in `cells`): as the
    mapping maps it, the key itself, else the key whose label it is (`named`: "官网" → website);
    else, where the list takes any text (`free_text`: industry unless restricted), `raw` itself."""
    if name in mapping.values and raw in mapping.values[name].values:
        mapped = mapping.values[name].values[raw]
        if mapped in allowed or mapped == "":
            return mapped
        cells.problems.append(Problem(name, column, f"the mapping sends '{raw}' to '{mapped}', which is not one of "
                                      f"{', '.join(allowed)}", raw))
        return None
    key = raw.lower().replace(" ", "_").replace("-", "_")
    if key in allowed:
        return key
    labelled = named(raw) if named else ""
    if labelled in allowed:
        return labelled
    if free_text:
        return raw
    if mapping.keep_unknown_values:
        cells.kept_tags.append(f"{name}:{raw}")
        cells.notes.append(Problem(name, column, f"'{raw}' is not a {name}: kept as the tag {name}:{raw}", raw))
        return None
    cells.problems.append(Problem(name, column, f"'{raw}' is not one of {', '.join(allowed)}: map it "
                                  f"(mapping.values.{name}) or keep it (mapping.keep_unknown_values)", raw))
    return None


# A record's field for the file columns that fill it: a contact's `phones` come from phone, mobile
# or work_phone columns, its `emails` from email.
_FILLED_BY = {"phones": ("phone", "mobile", "work_phone"), "emails": ("email",)}


def _comparable(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    return digits if len(digits) >= 5 else text.strip().lower()


def column_of(problem: Problem, header: Sequence[str], targets: Sequence[str], values: Sequence[str]) -> str:
    """The file column a problem found on the record (a rule's refusal, a duplicate: named by the
    record's field) is about, so the report points at the cell to fix: the column mapped to that
    field; of several (mobile and work phone), the one holding the value named. "" when none."""
    if problem.column:
        return problem.column
    root = re.split(r"[\[.]", problem.field, maxsplit=1)[0]
    wanted = {problem.field, root, *_FILLED_BY.get(root, ())}
    candidates = [i for i, target in enumerate(targets) if target in wanted and i < len(header)]
    typed = [i for i in candidates if i < len(values) and values[i].strip()]
    named = _comparable(problem.value)
    for i in typed:
        cell = _comparable(values[i])
        if named and cell and (cell in named or named in cell):
            return header[i]
    return header[(typed or candidates)[0]] if candidates else ""
