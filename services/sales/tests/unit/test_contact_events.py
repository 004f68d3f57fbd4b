"""Which contact interactions count as lead activity."""
from __future__ import annotations

import pytest

from crm_sales.rules import scoring
from crm_sales.rules.scoring import activity_for


@pytest.mark.parametrize(("kind", "direction", "activity"), [
    ("email", "inbound", "inbound_email"),
    ("email", "outbound", "outbound_email"),
    ("call", "inbound", "call"),
    ("call", "outbound", "call"),
    ("call", "", "call"),
    ("meeting", "", "meeting"),
    ("meeting", "outbound", "meeting"),
])
def test_interactions_map_to_lead_activities(kind: str, direction: str, activity: str) -> None:
    assert activity_for(kind, direction) == activity
    assert activity in scoring.ACTIVITIES


@pytest.mark.parametrize(("kind", "direction"), [
    ("note", ""), ("note", "inbound"), ("email", ""), ("email", "sideways"), ("sms", "inbound"), ("", ""),
])
def test_notes_and_unknown_interactions_are_ignored(kind: str, direction: str) -> None:
    assert activity_for(kind, direction) is None
