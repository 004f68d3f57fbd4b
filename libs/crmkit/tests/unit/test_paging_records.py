"""Page tokens and the versioned-record helpers every service's store and use cases share."""
from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from crm.sales.v1.sales_pb2 import Lead
from crmkit.errors import Conflict, InvalidArgument
from crmkit.paging import DEFAULT_PAGE, MAX_PAGE, decode_cursor, decode_key, encode_cursor, encode_key, page_size
from crmkit.records import aware, bump, check_date, check_version, dt, new_id, stamp_new

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def token_of(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("seq", [0, 1, 49, 10**12, 2**63 - 1])
def test_a_page_token_round_trips(seq):
    token = encode_cursor(seq)
    assert "=" not in token and decode_cursor(token) == seq


@pytest.mark.parametrize("token", [
    "garbage!!", "", "s", token_of("x12"), token_of("s-1"), token_of("s12a"), token_of("s 12"),
    token_of("s١٢"),  # digits, but not ours
    token_of("s" + "9" * 5000),  # more digits than int() takes
    "czk5OTk5OTk5OTk5OTk5OTk5OTk",  # "s9999999999999999999": larger than any BIGINT sequence
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
])
def test_a_token_this_service_did_not_issue_is_the_callers_mistake(token):
    with pytest.raises(InvalidArgument) as refused:
        decode_cursor(token)
    assert refused.value.field == "page_token"


@pytest.mark.parametrize(("requested", "size"), [(0, DEFAULT_PAGE), (-5, DEFAULT_PAGE), (1, 1), (MAX_PAGE, MAX_PAGE),
                                                 (MAX_PAGE + 1, MAX_PAGE), (10**9, MAX_PAGE)])
def test_page_sizes_are_bounded(requested, size):
    assert page_size(requested) == size
    assert page_size(0, default=10, maximum=20) == 10 and page_size(99, default=10, maximum=20) == 20


def test_a_new_record_gets_an_id_version_one_and_both_stamps():
    lead = Lead(name="李雷")
    stamp_new(lead, NOW)
    assert uuid.UUID(lead.id) and lead.version == 1
    assert dt(lead.created_at) == dt(lead.updated_at) == NOW
    given = Lead(id="lead-given")
    stamp_new(given, NOW)
    assert given.id == "lead-given"
    assert new_id() != new_id()


def test_a_bump_moves_the_version_and_only_the_updated_stamp():
    lead = Lead()
    stamp_new(lead, NOW)
    bump(lead, NOW + timedelta(hours=1))
    assert lead.version == 2
    assert dt(lead.created_at) == NOW and dt(lead.updated_at) == NOW + timedelta(hours=1)


def test_a_stale_version_is_a_conflict_naming_if_match():
    check_version(3, 0)  # no If-Match: no check
    check_version(3, 3)
    with pytest.raises(Conflict) as stale:
        check_version(4, 3)
    assert stale.value.field == "If-Match" and stale.value.details == {"current_version": 4}


def test_timestamps_come_back_aware_and_utc():
    ts = Timestamp()
    ts.FromDatetime(NOW)
    assert dt(ts) == NOW and dt(ts).tzinfo is UTC
    assert aware(datetime(2026, 11, 3, 9, 30)) == NOW
    assert aware(None) is None
    east8 = datetime(2026, 11, 3, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    assert aware(east8) is east8


def test_a_calendar_day_is_normalized_or_refused_naming_the_field():
    assert check_date("", "due_date") == ""
    assert check_date("2026-3-1", "due_date") == "2026-03-01"
    for bad in ("2026-02-30", "31/03/2026", "tomorrow"):
        with pytest.raises(InvalidArgument) as refused:
            check_date(bad, "due_date")
        assert refused.value.field == "due_date"


def test_key_cursors_carry_text_keys_and_refuse_anything_else() -> None:
    token = encode_key("销售漏斗", "d-1")
    assert decode_key(token, 2) == ("销售漏斗", "d-1")
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    deep = base64.urlsafe_b64encode(b"k" + b"[" * 899).decode()
    for bad in ("", "czE", encode_key("only one"), encode_key("a", "b", "c"), deep, "@@@@"):
        with pytest.raises(InvalidArgument) as err:
            decode_key(bad, 2)
        assert err.value.field == "page_token"
