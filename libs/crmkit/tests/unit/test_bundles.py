"""Bundles (crmkit.bundles): what goes in one message, and how a consumer reads it back."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.protobuf.message import DecodeError

from crmkit import bundles
from crmkit.outbox import OutboxRelay


def test_split_caps_events_and_bytes_but_never_drops_or_reorders() -> None:
    items = list(range(10))
    assert list(bundles.split(items, [1] * 10, max_events=4, max_bytes=100)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    sizes = [40, 40, 40, 300, 10, 10]   # the 300-byte row is too big for any bundle: it goes alone
    assert list(bundles.split(list("abcdef"), sizes, max_events=50, max_bytes=100)) == [
        ["a", "b"], ["c"], ["d"], ["e", "f"]]


def test_a_bundle_round_trips_its_envelopes_in_order_and_counts_itself_in_its_header() -> None:
    envelopes = [b"first", b"\x00second", b"third"]
    headers = bundles.headers(["id-1", "id-2", "id-3"])
    assert bundles.is_bundle(headers) and bundles.size(headers) == 3
    assert bundles.unpack(bundles.pack(envelopes)) == envelopes
    # the same events give the same id (JetStream drops the copy); others another
    assert headers["Nats-Msg-Id"] == bundles.headers(["id-1", "id-2", "id-3"])["Nats-Msg-Id"]
    assert headers["Nats-Msg-Id"] != bundles.headers(["id-1", "id-2"])["Nats-Msg-Id"]
    assert not bundles.is_bundle({"Nats-Msg-Id": "id-1"}) and bundles.size(None) == 1
    assert bundles.size({bundles.HEADER: "many"}) == 1


def test_an_empty_or_broken_bundle_does_not_read_as_one() -> None:
    with pytest.raises(ValueError):
        bundles.unpack(bundles.pack([]))
    with pytest.raises(DecodeError):
        bundles.unpack(b"\x0a\x50truncated")


def _relay(**options: int) -> OutboxRelay:
    fake_db = SimpleNamespace(on_events_committed=lambda callback: None)
    return OutboxRelay(fake_db, nats_url="", service="contacts", **options)  # type: ignore[arg-type]


def _wave(n: int, payload: bytes = b"x" * 100) -> list[tuple[str, tuple[int, str, str, bytes]]]:
    return [(f"agg-{i}", (i, f"ev-{i}", "crm.contacts.contact.created", payload)) for i in range(n)]


def test_everyday_writes_stay_one_message_per_event_and_bulk_ones_are_bundled() -> None:
    relay = _relay(bundle_events=50, bundle_from=8)
    assert [len(u) for u in relay._units(_wave(3))] == [1, 1, 1]
    assert [len(u) for u in relay._units(_wave(120))] == [50, 50, 20]
    assert [len(u) for u in _relay(bundle_events=1)._units(_wave(120))] == [1] * 120
    big = _relay(bundle_events=50, bundle_from=8, bundle_bytes=1000)
    assert [len(u) for u in big._units(_wave(25))] == [10, 10, 5]
