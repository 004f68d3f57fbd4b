"""Segments: saved dynamic filters over contacts. A segment is a versioned record (create, read,
update with If-Match, delete, list) with its own events; its members are never stored but
evaluated in SQL when asked, always with the caller's own visibility of contacts, so the same
segment shows a rep their customers and a manager their team's."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from crm.contacts.v1 import events_pb2 as ev
from crm.contacts.v1.contacts_pb2 import Contact, PreviewSegmentResponse, Segment, SegmentFilter
from crm_contacts import store
from crm_contacts.events import CONTACTS, emit
from crm_contacts.rules import segments as rules
from crm_contacts.rules.visibility import SEGMENTS, masked
from crm_contacts.store import segments as segment_store
from crm_contacts.store.picklists import PICKLISTS
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import InvalidArgument, NotFound, PermissionDenied
from crmkit.fields import immutable, patchable
from crmkit.records import bump, check_version, new_id, stamp_new
from crmkit.visibility import check_assignable

CREATORS = ("rep", "manager", "marketing", "analyst")
MAX_MEMBERS_PAGE = 1000  # a sender streams a large audience in few calls
PREVIEW_DEFAULT, PREVIEW_MAX = 10, 100


def _changed(uow: UnitOfWork, principal: Principal, now: datetime, action: str, segment: Segment,
             payload: ev.SegmentCreated | ev.SegmentUpdated | ev.SegmentDeleted, detail: str = "") -> None:
    emit(uow, principal, CONTACTS.of("segment", action), segment.id, segment.version, payload, now)
    store.audit(uow.session, at=now, actor=principal.user_id, action=action, entity="segment",
                entity_id=segment.id, detail=detail)


def visible_segment(session: Session, *, principal: Principal, segment_id: str, write: bool = False) -> Segment:
    """The live segment (every user may use any), or NOT_FOUND; `write` checks who may change it."""
    if not segment_id:
        raise InvalidArgument("id is required", field="id")
    segment = segment_store.load_segment(session, segment_id, for_update=write)
    if segment is None or segment.deleted:
        raise NotFound(f"segment {segment_id} not found", field="id")
    if write and not SEGMENTS.can_write(principal, segment.owner_id, segment.team, segment.region):
        raise PermissionDenied("you may use but not change this segment")
    return segment


def create_segment(uow: UnitOfWork, *, principal: Principal, now: datetime, segment: Segment) -> Segment:
    if not principal.has_role(*CREATORS):
        raise PermissionDenied("your role cannot create a segment")
    rules.normalize_segment(segment, store.definitions(uow.session, "contact"), PICKLISTS.current(uow.session))
    segment.owner_id = segment.owner_id or principal.user_id
    segment.team = segment.team or principal.team
    segment.region = segment.region or principal.region
    check_assignable(principal, segment.owner_id)
    segment.id = new_id()  # the server's (OUTPUT_ONLY), whatever the caller sent
    segment.deleted = False
    stamp_new(segment, now)
    segment_store.insert_segment(uow.session, segment)
    _changed(uow, principal, now, "created", segment, ev.SegmentCreated(segment=segment))
    return segment


def get_segment(session: Session, *, principal: Principal, segment_id: str) -> Segment:
    return visible_segment(session, principal=principal, segment_id=segment_id)


def _paths(mask: Sequence[str]) -> list[str]:
    paths = list(dict.fromkeys(p.split(".")[0] for p in mask))
    if not paths:
        raise InvalidArgument("nothing to update: the update mask is empty", field="update_mask")
    allowed = patchable(Segment)
    for path in paths:
        if path not in Segment.DESCRIPTOR.fields_by_name:
            raise InvalidArgument(f"unknown field '{path}'", field=path)
        if path not in allowed:
            fixed = "cannot change after creation" if path in immutable(Segment) else "is set by the server"
            raise InvalidArgument(f"'{path}' {fixed}", field=path)
    return paths


def update_segment(uow: UnitOfWork, *, principal: Principal, now: datetime, patch: Segment, mask: Sequence[str],
                   expected_version: int) -> Segment:
    paths = _paths(mask)
    segment = visible_segment(uow.session, principal=principal, segment_id=patch.id, write=True)
    check_version(segment.version, expected_version)
    before = segment.SerializeToString(deterministic=True)
    for path in paths:  # every patchable field is a scalar or the filter, replaced as a whole
        if path == "filter":
            segment.filter.CopyFrom(patch.filter)
        else:
            setattr(segment, path, getattr(patch, path))
    rules.normalize_segment(segment, store.definitions(uow.session, "contact"), PICKLISTS.current(uow.session))
    if "owner_id" in paths:
        if not segment.owner_id:
            raise InvalidArgument("a segment needs an owner", field="owner_id")
        check_assignable(principal, segment.owner_id)
    if segment.SerializeToString(deterministic=True) == before:
        return segment  # nothing changed: no new version, no event
    bump(segment, now)
    segment_store.update_segment(uow.session, segment)
    changed = sorted(paths)
    _changed(uow, principal, now, "updated", segment, ev.SegmentUpdated(segment=segment, changed_fields=changed),
             ",".join(changed))
    return segment


def delete_segment(uow: UnitOfWork, *, principal: Principal, now: datetime, segment_id: str,
                   expected_version: int) -> None:
    segment = visible_segment(uow.session, principal=principal, segment_id=segment_id, write=True)
    check_version(segment.version, expected_version)
    segment.deleted = True
    bump(segment, now)
    segment_store.update_segment(uow.session, segment)
    _changed(uow, principal, now, "deleted", segment, ev.SegmentDeleted(segment=segment))


def list_segments(session: Session, *, principal: Principal, page_size: int, page_token: str) -> tuple[list[Segment], str]:
    return segment_store.list_segments(session, page_size, page_token)


# -- members -------------------------------------------------------------------------------------

def list_members(session: Session, *, principal: Principal, now: datetime, segment_id: str, page_size: int,
                 page_token: str) -> tuple[list[Contact], str]:
    """The segment's members the caller sees, in a stable order: page to the end for all of them."""
    segment = visible_segment(session, principal=principal, segment_id=segment_id)
    where = segment_store.conditions(segment.filter, principal, now, paging=True)
    found, token = segment_store.members(session, where, page_size, page_token, maximum=MAX_MEMBERS_PAGE)
    return [masked(principal, c) for c in found], token


def count_members(session: Session, *, principal: Principal, now: datetime, segment_id: str) -> int:
    segment = visible_segment(session, principal=principal, segment_id=segment_id)
    return segment_store.count(session, segment_store.conditions(segment.filter, principal, now, paging=False))


def preview(session: Session, *, principal: Principal, now: datetime, filter: SegmentFilter,
            page_size: int) -> PreviewSegmentResponse:
    """An unsaved filter: validated as a save would, counted and sampled for the caller."""
    if page_size < 0 or page_size > PREVIEW_MAX:
        raise InvalidArgument(f"page_size is 0 to {PREVIEW_MAX}", field="page_size")
    rules.normalize_filter(filter, store.definitions(session, "contact"), vocabulary=PICKLISTS.current(session))
    sample, _ = segment_store.members(session, segment_store.conditions(filter, principal, now, paging=True),
                                      page_size or PREVIEW_DEFAULT, "", maximum=PREVIEW_MAX)
    total = segment_store.count(session, segment_store.conditions(filter, principal, now, paging=False))
    return PreviewSegmentResponse(count=total, contacts=[masked(principal, c) for c in sample])
