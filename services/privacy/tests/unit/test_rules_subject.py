"""What a data-subject request must name: every bad value is named, not only the first."""
from __future__ import annotations

import pytest

from crm_privacy import rules
from crmkit.errors import InvalidArgument


def test_every_bad_identifier_is_named_by_its_path() -> None:
    with pytest.raises(InvalidArgument) as refused:
        rules.subject_of([" "], ["li@example.com", "not-an-email"], ["12", "+8613800138000"])
    listed = refused.value.details["errors"]
    assert [e["field"] for e in listed] == ["contact_ids[0]", "emails[1]", "phones[0]"]
    assert refused.value.field == "contact_ids[0]"
    assert "not-an-email" in listed[1]["message"]


def test_good_identifiers_are_kept_normalized() -> None:
    subject = rules.subject_of(["c1"], [" Li@Example.com "], ["+86 138-0013-8000"])
    assert list(subject.emails) == ["li@example.com"] and list(subject.phones) == ["+8613800138000"]
