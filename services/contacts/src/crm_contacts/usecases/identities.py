"""Looking a contact up by a social identity: a WeChat or WeCom message knows the sender's
openid / external_userid, not their contact."""
from __future__ import annotations

from sqlalchemy.orm import Session

from crm.contacts.v1.contacts_pb2 import Contact, SocialIdentity
from crm_contacts import store
from crm_contacts.rules import identities
from crmkit.auth import Principal
from crmkit.errors import NotFound, PermissionDenied


def find_contact_by_identity(session: Session, *, principal: Principal, identity: SocialIdentity) -> Contact:
    """Admins and services only: an identity names a person whatever their owner."""
    if not principal.is_admin:
        raise PermissionDenied("only an admin or a service can look a contact up by a social identity")
    found = store.contact_by_identity(session, identities.key(identities.check(identity, "identity")))
    if found is None:
        raise NotFound("no contact has this identity", field="identity")
    return found
