"""Audience set algebra, pure: the union of the included groups (segments, tags, explicit
contacts) minus the union of the excluded ones, in a stable order (first appearance), so a frozen
list and its counts are the same whichever way the groups were fetched."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def evaluate(include: Sequence[Iterable[str]], exclude: Sequence[Iterable[str]] = ()) -> list[str]:
    excluded: set[str] = set()
    for group in exclude:
        excluded.update(group)
    members: dict[str, None] = {}
    for group in include:
        for contact_id in group:
            if contact_id and contact_id not in excluded:
                members.setdefault(contact_id, None)
    return list(members)
