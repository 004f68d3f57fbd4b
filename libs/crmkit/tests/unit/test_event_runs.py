"""A consumer batch split into runs: consecutive bulk-able events, each aggregate at most once
per run, the others one by one, in stream order (what makes a bulk write equal to applying the
events one at a time)."""
from __future__ import annotations

from collections.abc import Sequence

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit.event_runs import in_runs, runs

CREATED, MERGED = "crm.contacts.contact.created", "crm.contacts.contact.merged"


def _env(n: int, event_type: str, aggregate: str) -> EventEnvelope:
    return EventEnvelope(event_id=f"e{n}", event_type=event_type, aggregate_type="contact", aggregate_id=aggregate)


def test_consecutive_bulk_events_form_one_run_and_the_others_stay_single() -> None:
    envs = [_env(1, CREATED, "a"), _env(2, CREATED, "b"), _env(3, MERGED, "a"), _env(4, CREATED, "c")]
    split = [(bulk, [e.event_id for e in run]) for bulk, run in runs(envs, {CREATED})]
    assert split == [(True, ["e1", "e2"]), (False, ["e3"]), (True, ["e4"])]


def test_an_aggregate_seen_again_starts_the_next_run() -> None:
    envs = [_env(1, CREATED, "a"), _env(2, CREATED, "b"), _env(3, CREATED, "a"), _env(4, CREATED, "d")]
    split = [[e.event_id for e in run] for _, run in runs(envs, {CREATED})]
    assert split == [["e1", "e2"], ["e3", "e4"]]


def test_in_runs_sends_runs_to_the_bulk_path_and_keeps_stream_order() -> None:
    seen: list[str] = []

    def one(uow: object, env: EventEnvelope) -> None:
        seen.append(f"one:{env.event_id}")

    def many(uow: object, envs: Sequence[EventEnvelope]) -> None:
        seen.append("many:" + ",".join(e.event_id for e in envs))

    apply = in_runs(one, many, {CREATED})  # type: ignore[arg-type]
    apply(None, [_env(1, CREATED, "a"), _env(2, CREATED, "b"), _env(3, MERGED, "a"), _env(4, CREATED, "c")])  # type: ignore[arg-type]
    assert seen == ["many:e1,e2", "one:e3", "one:e4"]
