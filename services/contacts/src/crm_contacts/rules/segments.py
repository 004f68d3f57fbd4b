"""Segments: validation of a saved filter, the spend band, the typed text a custom field value is
matched as, and the calendar that "this year" and "N days ago" are read in. Pure: the store turns
a normalized filter into SQL."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableSequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from crm.contacts.v1.contacts_pb2 import CustomFieldDefinition, Segment, SegmentFilter
from crm_contacts.rules.records import normalize_tags
from crmkit import picklists
from crmkit.consent_purposes import PURPOSES
from crmkit.errors import InvalidArgument

MAX_VALUES = 100  # values per list criterion
MAX_VALUE = 100  # characters of a region, province, city or industry (the columns' width)
MAX_MATCHABLE = 200  # characters of a custom field value a filter can match (longer ones are not indexed)
MAX_DAYS = 36500
MAX_NAME, MAX_DESCRIPTION = 200, 2000
SPEND_CURRENCY = "CNY"  # bands are in yuan; deals in other currencies are kept but not in the band
SPEND_SCOPES = ("contact", "account")
# The business calendar: a deal closed at 2026-12-31T20:00Z is Beijing's 2027.
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
# Timeline entries that are bookkeeping, not contact with the customer.
NOT_INTERACTIONS = ("merged", "owner_changed", "pool_returned", "pool_released", "pool_claimed", "pool_assigned")

_BAND = re.compile(r"^\s*(\d{1,12})\s*-\s*(\d{1,12})?\s*$")


@dataclass(frozen=True)
class SpendBand:
    low_cents: int
    high_cents: int | None  # None: no upper bound

    def __str__(self) -> str:
        high = "" if self.high_cents is None else str(self.high_cents // 100)
        return f"{self.low_cents // 100}-{high}"


def parse_spend_band(text: str, field: str = "filter.spend_band") -> SpendBand | None:
    """'0-10000', '10000-100000', '100000-' (whole yuan; from inclusive, to exclusive)."""
    if not text:
        return None
    match = _BAND.match(text)
    if match is None:
        raise InvalidArgument("use <from>-<to> in whole yuan, e.g. 0-10000, 10000-100000 or 100000-",
                              field=field)
    low, high = int(match.group(1)), match.group(2)
    if high is not None and int(high) <= low:
        raise InvalidArgument("the upper bound must be above the lower bound", field=field)
    if high is None and low == 0:
        raise InvalidArgument("'0-' matches everyone: leave spend_band empty", field=field)
    return SpendBand(low * 100, None if high is None else int(high) * 100)


def spend_year(at: datetime) -> int:
    """The calendar year a deal closed at `at` counts in (and the year `now` is in)."""
    return at.astimezone(BUSINESS_TZ).year


def interaction_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def custom_value_text(value: Any) -> str | None:
    """A stored custom field value as the text filters compare with; None when no filter can
    match it (a null, a list, an object, or longer than MAX_MATCHABLE)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = _number_text(float(value))
    elif isinstance(value, str):
        text = value
    else:
        return None
    return text if len(text) <= MAX_MATCHABLE else None


def _number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() else repr(number)


def _filter_value(raw: str, definition: CustomFieldDefinition, field: str) -> str:
    """The filter's text for a custom field, read as the field's type: '5000.0' → '5000' for a
    number, 'TRUE' → 'true' for a boolean; an impossible value is the caller's mistake."""
    kind = definition.type
    if len(raw) > MAX_MATCHABLE:
        raise InvalidArgument(f"at most {MAX_MATCHABLE} characters", field=field)
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise InvalidArgument("must be a number", field=field) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidArgument("must be a finite number", field=field)
        return _number_text(number)
    if kind == "boolean":
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise InvalidArgument("must be true or false", field=field)
        return lowered
    if kind == "choice" and raw not in definition.choices:
        raise InvalidArgument(f"must be one of {', '.join(definition.choices)}", field=field)
    if kind == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            raise InvalidArgument("must be a date like 2026-03-31", field=field) from None
        if len(raw) != 10:
            raise InvalidArgument("must be a date like 2026-03-31", field=field)
    return raw


def _values(values: MutableSequence[str], field: str, allowed: tuple[str, ...] = ()) -> None:
    """Trimmed, de-duplicated in place; each non-blank, at most MAX_VALUE long, one of `allowed`."""
    if len(values) > MAX_VALUES:
        raise InvalidArgument(f"at most {MAX_VALUES} values", field=field)
    seen: dict[str, None] = {}
    for i, raw in enumerate(values):
        value = raw.strip()
        if not value:
            raise InvalidArgument("a value must not be blank", field=f"{field}[{i}]")
        if len(value) > MAX_VALUE:
            raise InvalidArgument(f"at most {MAX_VALUE} characters", field=f"{field}[{i}]")
        if allowed and value not in allowed:
            raise InvalidArgument(f"must be one of {', '.join(allowed)}", field=f"{field}[{i}]")
        seen.setdefault(value, None)
    del values[:]
    values.extend(seen)


def normalize_filter(flt: SegmentFilter, definitions: Mapping[str, CustomFieldDefinition],
                     field: str = "filter", vocabulary: picklists.Vocabulary = picklists.DEFAULTS) -> None:
    """Validates in place and writes values in the form the store compares: every error names
    the criterion (e.g. filter.levels[1])."""
    for name in ("regions", "provinces", "cities", "industries"):
        _values(getattr(flt, name), f"{field}.{name}")
    # any key the picklist ever had: a retired one still finds the contacts that hold it
    _values(flt.levels, f"{field}.levels", vocabulary.filterable("level"))
    _values(flt.sources, f"{field}.sources", vocabulary.filterable("source"))
    _values(flt.lifecycle_stages, f"{field}.lifecycle_stages", vocabulary.filterable("lifecycle_stage"))
    for name in ("tags_all", "tags_any"):
        tags = getattr(flt, name)
        if len(tags) > MAX_VALUES:
            raise InvalidArgument(f"at most {MAX_VALUES} tags", field=f"{field}.{name}")
        normalized = normalize_tags(tags, f"{field}.{name}")
        del tags[:]
        tags.extend(normalized)
    checked = {}
    for key, raw in flt.custom_fields.items():
        where = f"{field}.custom_fields.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise InvalidArgument(f"no contact custom field '{key}' is defined", field=where)
        checked[key] = _filter_value(raw, definition, where)
    flt.custom_fields.clear()
    flt.custom_fields.update(checked)
    if flt.no_interaction_days < 0:
        raise InvalidArgument("must be a number of days, 0 or more (0: no criterion)",
                              field=f"{field}.no_interaction_days")
    if flt.no_interaction_days > MAX_DAYS:
        raise InvalidArgument(f"at most {MAX_DAYS} days", field=f"{field}.no_interaction_days")
    band = parse_spend_band(flt.spend_band, f"{field}.spend_band")
    flt.spend_band = str(band) if band is not None else ""
    if flt.spend_of and flt.spend_of not in SPEND_SCOPES:
        raise InvalidArgument(f"must be one of {', '.join(SPEND_SCOPES)}", field=f"{field}.spend_of")
    if flt.spend_of and not flt.spend_band:
        raise InvalidArgument("spend_of needs a spend_band", field=f"{field}.spend_of")
    if flt.consent_purpose and flt.consent_purpose not in PURPOSES:
        raise InvalidArgument(f"must be one of {', '.join(PURPOSES)}", field=f"{field}.consent_purpose")


def normalize_segment(segment: Segment, definitions: Mapping[str, CustomFieldDefinition],
                      vocabulary: picklists.Vocabulary = picklists.DEFAULTS) -> None:
    segment.name = segment.name.strip()
    if not segment.name:
        raise InvalidArgument("name is required", field="name")
    if len(segment.name) > MAX_NAME:
        raise InvalidArgument(f"name is at most {MAX_NAME} characters", field="name")
    if len(segment.description) > MAX_DESCRIPTION:
        raise InvalidArgument(f"description is at most {MAX_DESCRIPTION} characters", field="description")
    normalize_filter(segment.filter, definitions, vocabulary=vocabulary)


def custom_field_rows(values: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """(key, text) of the values a filter can match."""
    rows = []
    for key, value in values:
        text = custom_value_text(value)
        if text is not None:
            rows.append((key, text))
    return rows
