"""Applying a consumer's batch of events in runs: a handler that writes one event at a time
spends most of its CPU on per-statement overhead (a bulk import's million `contact.created`
cost each consumer a few statements per event), so a service may give the consumer a batch
handler that applies consecutive events of the kinds it can take in bulk with a statement per
kind of row for the whole run, and the others one by one as before.

A run holds each aggregate at most once: within it, order does not matter, so the bulk path
has the same effect as applying its events one by one in stream order."""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from crm.common.v1.envelope_pb2 import EventEnvelope
from crmkit.db import UnitOfWork

Handler = Callable[[UnitOfWork, EventEnvelope], None]
BatchHandler = Callable[[UnitOfWork, Sequence[EventEnvelope]], None]


def runs(envs: Sequence[EventEnvelope], bulk: Collection[str]) -> Iterator[tuple[bool, list[EventEnvelope]]]:
    """(True, run) for consecutive events whose type is in `bulk`, no aggregate twice in a run;
    (False, [event]) for each other event. Stream order is kept between runs."""
    run: list[EventEnvelope] = []
    aggregates: set[tuple[str, str]] = set()
    for env in envs:
        key = (env.aggregate_type, env.aggregate_id)
        if env.event_type in bulk and key not in aggregates:
            run.append(env)
            aggregates.add(key)
            continue
        if run:
            yield True, run
            run, aggregates = [], set()
        if env.event_type in bulk:  # the same aggregate again: it starts the next run
            run.append(env)
            aggregates.add(key)
        else:
            yield False, [env]
    if run:
        yield True, run


def in_runs(one: Handler, many: BatchHandler, bulk: Collection[str]) -> BatchHandler:
    """A batch handler: runs of `bulk` event types through `many` (a run of one through `one`),
    every other event through `one`."""

    def apply(uow: UnitOfWork, envs: Sequence[EventEnvelope]) -> None:
        for is_run, run in runs(envs, bulk):
            if is_run and len(run) > 1:
                many(uow, run)
            else:
                for env in run:
                    one(uow, env)

    return apply
