"""Customer imports, the pure part: reading a CSV or xlsx file into rows, the column mapping, and
one row → a record plus every problem the row has (not only the first). No I/O beyond the bytes
handed in, no clock: each rule is unit-tested directly.

Nothing the user typed is lost: a phone that does not validate is kept as typed and marked
unverified; an unknown picklist value is mapped (`ColumnMapping.values`), or kept as a tag
"<field>:<value>" when the mapping says so, or the row is rejected naming the value."""
from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from crm.common.v1.imports_pb2 import ColumnMapping
from crm.contacts.v1.contacts_pb2 import Account, Address, Contact, CustomFieldDefinition, Email, Phone
from crm_contacts.rules import records as rules
from crmkit import picklists
from crmkit.errors import InvalidArgument
from crmkit.imports import files
from crmkit.imports import mapping as mapping_rules

Record = Contact | Account
ENTITIES = ("contact", "account")
ON_DUPLICATE = ("flag", "merge", "create")
_COMMON = ("name", "industry", "source", "level", "owner_id", "team", "region", "tags", "phone", "mobile",
           "work_phone", "email", "country", "province", "city", "street", "postal_code", "ignore")
TARGETS = {
    "contact": _COMMON + ("title", "company_name", "lifecycle_stage", "language"),
    "account": _COMMON + ("website",),
}
PICKLISTS = {"source": rules.SOURCES, "level": rules.LEVELS, "lifecycle_stage": rules.LIFECYCLE,
             "industry": picklists.INDUSTRIES}
_PHONES = {"phone": "mobile", "mobile": "mobile", "work_phone": "work"}
_ADDRESS = ("country", "province", "city", "street", "postal_code")
_TAG_SPLIT = str.maketrans({";": ",", "|": ",", "，": ",", "、": ","})
MAX_COLUMNS = files.MAX_COLUMNS


Problem = mapping_rules.Problem  # crmkit.imports' (a rejected row's reasons, shared with sales and support)


@dataclass
class Row:
    """A row's record, or its problems; notes are kept rows' remarks (an unverified phone)."""
    record: Record
    problems: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)


# The file itself (CSV or xlsx, streaming) is read by crmkit.imports.files, shared with sales and support.
FileError = files.FileError
read_rows = files.read_rows


def resolve_mapping(entity: str, header: Sequence[str], mapping: ColumnMapping) -> tuple[list[str], list[str]]:
    """Per column, its target ("" = not imported), and the columns nobody mapped (reported)."""
    return mapping_rules.resolve(entity, TARGETS[entity], PICKLISTS, header, mapping, custom_fields=True)


def build_row(entity: str, header: Sequence[str], targets: Sequence[str], values: Sequence[str],
              mapping: ColumnMapping, definitions: dict[str, CustomFieldDefinition],
              vocabulary: picklists.Vocabulary = picklists.DEFAULTS) -> Row:
    """The record a row makes and every problem it has: each field is checked on its own.
    `vocabulary`: the picklists as the administrator has them now (values added, retired)."""
    record: Record = Contact() if entity == "contact" else Account()
    row = Row(record)
    address = Address()
    for i, target in enumerate(targets):
        raw = values[i].strip() if i < len(values) else ""
        if not target or not raw:
            continue
        column = header[i]
        if target in PICKLISTS:
            value = _picklist(target, raw, mapping, row, column, vocabulary)
            if value is not None:
                setattr(record, target, value)
        elif target in _PHONES:
            _phone(record, raw, _PHONES[target], row, column)
        elif target == "email":
            for part in _split(raw):
                try:
                    record.emails.append(Email(address=rules.normalize_email(part, "email"), kind="work"))
                except InvalidArgument as exc:
                    row.problems.append(Problem(f"emails[{len(record.emails)}].address", column, exc.message, part))
        elif target == "tags":
            record.tags.extend(_split(raw))
        elif target in _ADDRESS:
            setattr(address, target, raw.upper() if target == "country" else raw)
        elif target.startswith("custom_fields."):
            key = target.removeprefix("custom_fields.")
            _custom(record, key, raw, definitions.get(key), _reporter(row, column, raw))
        elif target == "language":
            try:
                record.language = rules.normalize_language(raw)  # type: ignore[union-attr]  # contacts only (TARGETS)
            except InvalidArgument as exc:
                row.problems.append(Problem("language", column, exc.message, raw))
        else:
            setattr(record, target, raw)
    if address.ListFields():
        if (address.city or address.province) and not address.country:
            address.country = rules.DEFAULT_REGION  # a mainland file names no country
        record.addresses.append(address)
    _check_record(record, row, header, targets, vocabulary)
    return row


def _reporter(row: Row, column: str, raw: str) -> Callable[[str, str], None]:
    """A problem of the cell `raw` in `column`, by field name and message (made only for the cells
    that need one: a row has many cells)."""
    def report(name: str, message: str) -> None:
        row.problems.append(Problem(name, column, message, raw))
    return report


def _split(raw: str) -> list[str]:
    return [p.strip() for p in raw.translate(_TAG_SPLIT).split(",") if p.strip()]


def _picklist(name: str, raw: str, mapping: ColumnMapping, row: Row, column: str,
              vocabulary: picklists.Vocabulary) -> str | None:
    """crmkit.imports.mapping.picklist_value against the tenant's vocabulary (a key or either of its
    labels; any text where the list is not restricted); a value kept as a tag goes on the record."""
    cells = mapping_rules.Cells(problems=row.problems, notes=row.notes)
    value = mapping_rules.picklist_value(name, raw, vocabulary.active(name), mapping, cells, column,
                                         named=functools.partial(vocabulary.match, name),
                                         free_text=not vocabulary.restricted(name))
    row.record.tags.extend(cells.kept_tags)
    return value


# A mainland mobile written as 11 digits: whether libphonenumber accepts it depends on its first
# five digits only (its CN mobile pattern, checked over every 1xxxx prefix), so the answer for one
# number of a prefix is the answer for all; parsing each number cost two thirds of an import row.
_MOBILE = re.compile(r"^(?:\+?86)?[\s-]*(1\d{2})[\s-]?(\d{4})[\s-]?(\d{4})$")
_PREFIX_VALID: dict[str, bool] = {}


def normalize_phone(raw: str) -> str:
    """rules.records.normalize_phone, with the mobile fast path above."""
    match = _MOBILE.match(raw.strip())
    if match is None:
        return rules.normalize_phone(raw, "phone")
    digits = "".join(match.groups())
    valid = _PREFIX_VALID.get(digits[:5])
    if valid is None:
        try:
            rules.normalize_phone(digits, "phone")
            valid = True
        except InvalidArgument:
            valid = False
        _PREFIX_VALID[digits[:5]] = valid
    if not valid:
        raise InvalidArgument(f"'{raw}' is not a valid phone number", field="phone")
    return "+86" + digits


def _phone(record: Record, raw: str, kind: str, row: Row, column: str) -> None:
    for part in _split(raw) if "," in raw.translate(_TAG_SPLIT) else [raw]:
        index = len(record.phones)
        try:
            number = normalize_phone(part)
            if all(p.number != number for p in record.phones):
                record.phones.append(Phone(number=number, kind=kind, raw=part))
        except InvalidArgument as exc:
            try:
                digits = rules.unverified_digits(part, "phone")
            except InvalidArgument as no_digits:
                row.problems.append(Problem(f"phones[{index}].number", column, no_digits.message, part))
                continue
            record.phones.append(Phone(number=digits, kind=kind, raw=part, unverified=True))
            row.notes.append(Problem(f"phones[{index}].number", column, f"{exc.message}: kept as typed, unverified",
                                     part))


def _custom(record: Record, key: str, raw: str, definition: CustomFieldDefinition | None,
            report: Callable[[str, str], None]) -> None:
    if definition is None:
        report(f"custom_fields.{key}", f"no custom field '{key}' is defined")
        return
    value: str | float | bool = raw
    if definition.type == "number":
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            report(f"custom_fields.{key}", "must be a number")
            return
    elif definition.type == "boolean":
        lowered = raw.lower()
        if lowered not in ("true", "false", "yes", "no", "1", "0", "是", "否"):
            report(f"custom_fields.{key}", "must be true or false")
            return
        value = lowered in ("true", "yes", "1", "是")
    record.custom_fields.update({key: value})
    try:
        rules.check_custom_fields(record.custom_fields, {key: definition}, creating=False)
    except InvalidArgument as exc:
        del record.custom_fields[key]
        report(f"custom_fields.{key}", exc.message)


def _whole(record: Record) -> Record:
    return record


# The record-wide rules, in the order they are reported: (rule, what of the record it checks).
_RECORD_CHECKS: tuple[tuple[Callable[[Any], object], Callable[[Record], Any]], ...] = (
    (rules.check_limits, _whole), (rules._check_name, operator.attrgetter("name")),
    (rules._check_industry, operator.attrgetter("industry")),
    (rules._check_addresses, operator.attrgetter("addresses")), (rules.normalize_tags, operator.attrgetter("tags")))


def _check_record(record: Record, row: Row, header: Sequence[str], targets: Sequence[str],
                  vocabulary: picklists.Vocabulary) -> None:
    """The record-wide rules (name, limits, addresses), each on its own; then the service's own
    normalization as a last word, so an accepted row is exactly what a create would accept."""
    def column_of(name: str) -> str:  # the file's column of a field, for a problem (only then: rows are many)
        return {t: header[i] for i, t in enumerate(targets) if t}.get(name, "")

    for check, value in _RECORD_CHECKS:
        try:
            check(value(record))
        except InvalidArgument as exc:
            row.problems.append(Problem(exc.field or "", column_of((exc.field or "").split("[")[0]), exc.message))
    if row.problems:
        return
    phones = list(record.phones)  # normalized above: not parsed a second time
    del record.phones[:]
    try:
        rules.normalize(record, vocabulary)
    except InvalidArgument as exc:
        name = (exc.field or "").split("[")[0].split(".")[0]
        row.problems.append(Problem(exc.field or "", column_of(name), exc.message,
                                    str(getattr(record, name, "")) if name in ("name", "industry") else ""))
    record.phones.extend(phones)


# A contact's fields a merge (rules.merge_into) fills only when the survivor has none: a file's other
# value there is not applied. owner_id/team/region: only when the file named them (`typed`).
MERGED_SCALARS = ("name", "title", "company_name", "industry", "source", "level", "lifecycle_stage", "language")
ASSIGNMENT = ("owner_id", "team", "region")


def not_applied(survivor: Contact, row: Contact, typed: dict[str, str], survivor_is: str) -> list[Problem]:
    """What a merge of `row` into `survivor` leaves out, each with the value kept and the file's
    value: the scalars the survivor already holds otherwise, the keys of social, preferences and
    custom fields it holds with another value (lists are united: nothing of them is left out).
    `survivor_is`: how the report names it ("contact <id>", "row 3 of this file")."""
    left: list[Problem] = []

    def keep(name: str, kept: str, given: str) -> None:
        left.append(Problem(name, "", f"merged into {survivor_is}, which keeps '{kept}': the file's value is not "
                                      "applied", given))

    for name in MERGED_SCALARS:
        kept, given = getattr(survivor, name), getattr(row, name)
        if kept and given and kept != given:
            keep(name, kept, given)
    for name in ASSIGNMENT:
        kept, given = getattr(survivor, name), typed.get(name, "")
        if kept and given and kept != given:
            keep(name, kept, given)
    for name in ("social", "preferences"):
        kept_map, given_map = getattr(survivor, name), getattr(row, name)
        for key, given in given_map.items():
            if key in kept_map and kept_map[key] != given:
                keep(f"{name}.{key}", kept_map[key], given)
    for key, value in row.custom_fields.items():
        if key in survivor.custom_fields and survivor.custom_fields[key] != value:
            keep(f"custom_fields.{key}", _text(survivor.custom_fields[key]), _text(value))
    return left


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)
