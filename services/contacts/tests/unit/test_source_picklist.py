"""Contacts and accounts take the customer-source picklist leads use (picklists.proto), so a lead's
source survives conversion; anything else is refused naming the allowed keys, never rewritten."""
from __future__ import annotations

import pytest

from crm.contacts.v1.contacts_pb2 import Account, Contact
from crm_contacts.rules.records import normalize_account, normalize_contact
from crmkit import picklists
from crmkit.errors import InvalidArgument


@pytest.mark.parametrize("source", ["website", "web_form", "marketing_qualified", "api", "trade_show"])
def test_every_lead_source_is_a_contact_and_account_source_kept_as_typed(source: str) -> None:
    contact, account = Contact(name="李雷", source=source), Account(name="天津港集团", source=source)
    normalize_contact(contact)
    normalize_account(account)
    assert (contact.source, account.source) == (source, source)


def test_an_unknown_source_is_refused_naming_the_picklist() -> None:
    with pytest.raises(InvalidArgument) as err:
        normalize_contact(Contact(name="李雷", source="展会"))
    assert err.value.field == "source"
    assert ", ".join(picklists.SOURCES) in str(err.value)
