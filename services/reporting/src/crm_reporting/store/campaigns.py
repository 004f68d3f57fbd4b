"""Writes of the campaign read models that are not one snapshot per aggregate: first engagement per
(wave, recipient, kind), touches, lead ↔ contact links, attributed leads, and each won deal's first-
and last-touch campaign.

Attribution is recomputed from what is stored whenever one of its inputs changes (a touch, a link,
a deal), for every deal of the person concerned, so it is the same whatever order the events came
in: a touch that arrives after the win still counts if it happened before it."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from crm_reporting.rules import Touch, first_and_last, week_of
from crm_reporting.store import email_rollup, rollups
from crm_reporting.tables import (
    campaign_leads,
    email_engagements,
    opportunities,
    person_links,
    submission_leads,
    touches,
)
from crmkit.records import aware

# A person is the leads and contacts linked to each other; past this many (a shared placeholder
# contact, bad data) the walk stops rather than attributing half the customer base at once.
MAX_PERSON = 500

# Statements are built once and executed with parameters (see store.upsert_newest).
_INSERT_ENGAGEMENT = insert(email_engagements)
_EARLIER_ENGAGEMENT = update(email_engagements).where(
    email_engagements.c.wave_id == bindparam("w"), email_engagements.c.contact_id == bindparam("c"),
    email_engagements.c.kind == bindparam("k"))

_TOUCH = select(touches.c.campaign_id, touches.c.lead_id, touches.c.contact_id, touches.c.at).where(
    touches.c.touch_id == bindparam("tid"))
_INSERT_TOUCH = insert(touches)
_UPDATE_TOUCH = update(touches).where(touches.c.touch_id == bindparam("tid"))
_DELETE_TOUCH = delete(touches).where(touches.c.touch_id == bindparam("tid"))

_LINKED = select(person_links.c.lead_id).where(
    person_links.c.lead_id == bindparam("lid"), person_links.c.contact_id == bindparam("cid"))
_INSERT_LINK = insert(person_links)
_CONTACTS_OF = select(person_links.c.contact_id).where(person_links.c.lead_id.in_(bindparam("ids", expanding=True)))
_LEADS_OF = select(person_links.c.lead_id).where(person_links.c.contact_id.in_(bindparam("ids", expanding=True)))

_CAMPAIGN_LEAD = select(campaign_leads.c.campaign_id).where(
    campaign_leads.c.campaign_id == bindparam("camp"), campaign_leads.c.lead_key == bindparam("key"),
    campaign_leads.c.source == bindparam("src"))
_INSERT_CAMPAIGN_LEAD = insert(campaign_leads)
_SALES_LEAD_ROWS = select(campaign_leads.c.campaign_id).where(
    campaign_leads.c.lead_key == bindparam("key"), campaign_leads.c.source == bindparam("src"))
_DELETE_CAMPAIGN_LEAD = delete(campaign_leads).where(
    campaign_leads.c.campaign_id == bindparam("camp"), campaign_leads.c.lead_key == bindparam("key"),
    campaign_leads.c.source == bindparam("src"))

_LEAD_OF_SUBMISSION = select(submission_leads.c.lead_id).where(submission_leads.c.submission_id == bindparam("sid"))
_INSERT_SUBMISSION_LEAD = insert(submission_leads)
_ROWS_OF_KEY = select(campaign_leads.c.campaign_id, campaign_leads.c.source).where(
    campaign_leads.c.lead_key == bindparam("key"))
_DELETE_KEY = delete(campaign_leads).where(campaign_leads.c.lead_key == bindparam("key"))
_SET_TOUCH_LEAD = update(touches).where(touches.c.touch_id == bindparam("tid")).values(lead_id=bindparam("lead"))

_OPPS_OF_PERSON = select(
    opportunities.c.opportunity_id, opportunities.c.status, opportunities.c.closed_at,
    opportunities.c.first_campaign_id, opportunities.c.last_campaign_id, opportunities.c.currency_code,
    opportunities.c.amount_units,
).where(or_(opportunities.c.lead_id.in_(bindparam("leads", expanding=True)),
            opportunities.c.contact_id.in_(bindparam("contacts", expanding=True)),
            opportunities.c.opportunity_id.in_(bindparam("opps", expanding=True))))
_TOUCHES_OF_PERSON = select(touches.c.at, touches.c.touch_id, touches.c.campaign_id).where(
    or_(touches.c.lead_id.in_(bindparam("leads", expanding=True)),
        touches.c.contact_id.in_(bindparam("contacts", expanding=True))))
_ATTRIBUTE = update(opportunities).where(opportunities.c.opportunity_id == bindparam("oid"))
_UNATTRIBUTE = update(opportunities).where(
    opportunities.c.opportunity_id == bindparam("oid"),
    or_(opportunities.c.first_campaign_id != "", opportunities.c.last_campaign_id != "")
).values(first_campaign_id="", last_campaign_id="")


def record_engagement(session: Session, *, wave_id: str, contact_id: str, kind: str, campaign_id: str,
                      at: datetime) -> bool:
    """The first `kind` of this recipient of this wave; a repeat only moves it earlier. True when new."""
    key = {"w": wave_id, "c": contact_id, "k": kind}
    day = at.date().isoformat()
    when = {"first_at": at, "day": day, "week": week_of(day)}
    before = email_rollup.mail(session, wave_id, contact_id)   # the mail's rows: its rollup contribution
    current = before.get(kind)
    if current is None:
        row = {"wave_id": wave_id, "contact_id": contact_id, "kind": kind, "campaign_id": campaign_id, **when}
        session.execute(_INSERT_ENGAGEMENT, row)
    elif at < aware(current.first_at):
        session.execute(_EARLIER_ENGAGEMENT, {**key, **when})
        row = {"kind": kind, "campaign_id": current.campaign_id, **when}
    else:
        return False
    after = {**before, kind: SimpleNamespace(**row)}
    rollups.apply(session, email_rollup.EMAIL, email_rollup.as_row(wave_id, before), email_rollup.as_row(wave_id, after))
    return current is None


def put_touch(session: Session, touch_id: str, *, campaign_id: str, lead_id: str, contact_id: str, source: str,
              at: datetime) -> bool:
    """Insert or change a touch; True when that changed anything (attribution is then due)."""
    current = session.execute(_TOUCH, {"tid": touch_id}).first()
    values = {"campaign_id": campaign_id, "lead_id": lead_id, "contact_id": contact_id, "source": source, "at": at}
    if current is None:
        session.execute(_INSERT_TOUCH, {"touch_id": touch_id, **values})
        return True
    if (current.campaign_id, current.lead_id, current.contact_id, aware(current.at)) == (
            campaign_id, lead_id, contact_id, at):
        return False
    session.execute(_UPDATE_TOUCH, {"tid": touch_id, **values})
    return True


def drop_touch(session: Session, touch_id: str) -> bool:
    if session.execute(_TOUCH, {"tid": touch_id}).first() is None:
        return False
    session.execute(_DELETE_TOUCH, {"tid": touch_id})
    return True


def link(session: Session, lead_id: str, contact_id: str) -> bool:
    """Lead and contact are one person from now on; True when that is news."""
    if not lead_id or not contact_id:
        return False
    row = {"lid": lead_id, "cid": contact_id}
    if session.execute(_LINKED, row).first() is not None:
        return False
    session.execute(_INSERT_LINK, {"lead_id": lead_id, "contact_id": contact_id})
    return True


def add_campaign_lead(session: Session, campaign_id: str, lead_key: str, source: str, lead_id: str) -> None:
    key = {"camp": campaign_id, "key": lead_key, "src": source}
    if campaign_id and lead_key and session.execute(_CAMPAIGN_LEAD, key).first() is None:
        session.execute(_INSERT_CAMPAIGN_LEAD, {"campaign_id": campaign_id, "lead_key": lead_key, "source": source,
                                                "lead_id": lead_id})


def set_only_campaign_lead(session: Session, campaign_id: str, lead_id: str, source: str) -> None:
    """The lead counts for `campaign_id` (its newest snapshot's) by `source`, and for no other one."""
    for (old,) in session.execute(_SALES_LEAD_ROWS, {"key": lead_id, "src": source}).all():
        if old != campaign_id:
            session.execute(_DELETE_CAMPAIGN_LEAD, {"camp": old, "key": lead_id, "src": source})
    add_campaign_lead(session, campaign_id, lead_id, source, lead_id)


def submission_key(submission_id: str) -> str:
    """A form submission's attributed-lead key until a hand-off names the sales lead it became."""
    return f"submission:{submission_id}"


def lead_of_submission(session: Session, submission_id: str) -> str:
    return session.execute(_LEAD_OF_SUBMISSION, {"sid": submission_id}).scalar_one_or_none() or ""


def submission_became(session: Session, submission_id: str, lead_id: str, touch_id: str) -> None:
    """A hand-off said which sales lead a form submission became: from now on they are one lead
    (the submission's rows move to the lead's key) and the submission's touch names the lead."""
    if not submission_id or not lead_id or lead_of_submission(session, submission_id):
        return
    session.execute(_INSERT_SUBMISSION_LEAD, {"submission_id": submission_id, "lead_id": lead_id})
    old_key = submission_key(submission_id)
    moved = session.execute(_ROWS_OF_KEY, {"key": old_key}).all()
    session.execute(_DELETE_KEY, {"key": old_key})
    for campaign_id, source in moved:
        add_campaign_lead(session, campaign_id, lead_id, source, lead_id)
    session.execute(_SET_TOUCH_LEAD, {"tid": touch_id, "lead": lead_id})


def person(session: Session, lead_ids: Iterable[str], contact_ids: Iterable[str]) -> tuple[set[str], set[str]]:
    """Every lead and contact linked, directly or not, to the given ones."""
    leads, contacts = {x for x in lead_ids if x}, {x for x in contact_ids if x}
    new_leads, new_contacts = set(leads), set(contacts)
    while (new_leads or new_contacts) and len(leads) + len(contacts) < MAX_PERSON:
        found_contacts = set(session.execute(_CONTACTS_OF, {"ids": list(new_leads)}).scalars()) if new_leads else set()
        found_leads = set(session.execute(_LEADS_OF, {"ids": list(new_contacts)}).scalars()) if new_contacts else set()
        new_leads, new_contacts = found_leads - leads, found_contacts - contacts
        leads |= new_leads
        contacts |= new_contacts
    return leads, contacts


def unattribute(session: Session, opportunity_id: str) -> None:
    """A deal that is not won (any more) has no campaigns: one statement, no walk (and nothing in
    the campaign revenue rollup, which counts won deals only)."""
    session.execute(_UNATTRIBUTE, {"oid": opportunity_id})


def reattribute(session: Session, *, lead_ids: Iterable[str] = (), contact_ids: Iterable[str] = (),
                opportunity_ids: Iterable[str] = ()) -> int:
    """Recompute the first- and last-touch campaigns of every deal of the person these ids belong
    to (and of `opportunity_ids`); a deal that is not won has none. Returns how many changed."""
    leads, contacts = person(session, lead_ids, contact_ids)
    opps = [o for o in opportunity_ids if o]
    if not (leads or contacts or opps):
        return 0
    deals = session.execute(_OPPS_OF_PERSON, {"leads": list(leads), "contacts": list(contacts), "opps": opps}).all()
    if not deals:
        return 0
    seen: list[Touch] = []
    if any(d.status == "won" for d in deals) and (leads or contacts):
        seen = [Touch(aware(at), tid, cid) for at, tid, cid in session.execute(
            _TOUCHES_OF_PERSON, {"leads": list(leads), "contacts": list(contacts)})]
    changed = 0
    for deal in deals:
        first, last = first_and_last(seen, aware(deal.closed_at)) if deal.status == "won" else ("", "")
        if (first, last) != (deal.first_campaign_id, deal.last_campaign_id):
            session.execute(_ATTRIBUTE, {"oid": deal.opportunity_id, "first_campaign_id": first,
                                         "last_campaign_id": last})
            before = dict(deal._mapping)
            rollups.apply(session, rollups.CAMPAIGN_REVENUE, before,
                          {**before, "first_campaign_id": first, "last_campaign_id": last})
            changed += 1
    return changed
