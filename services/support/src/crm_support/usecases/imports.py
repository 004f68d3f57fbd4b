"""Ticket imports as jobs (crmkit.imports: the job, its upload, progress, report and resume are
shared with contacts and sales). Support's own part: a row → a ticket with every problem
(rules.imports); duplicates by this CRM's ticket number (the `number` column of a ticket export:
re-imported, the file matches its tickets) or by the external id column when the file has one (an
earlier row, or a ticket already holding it) flagged, merged (the row's tags added, a blank description or group
filled) or created per `on_duplicate`; each ticket opened by `tickets.open_ticket`, so it is
numbered, routed and given its SLA clocks exactly as one created by hand."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from crm.common.v1.imports_pb2 import ImportJob
from crm.support.v1 import events_pb2 as ev
from crm.support.v1.support_pb2 import Ticket
from crm_support import store
from crm_support.events import SUPPORT, emit
from crm_support.rules import imports as rules
from crm_support.rules import tickets as ticket_rules
from crm_support.rules.access import is_agent
from crm_support.usecases import tickets
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError
from crmkit.imports.jobs import ImportKind, Rejected, RunState
from crmkit.imports.mapping import Problem
from crmkit.records import bump

KIND = ImportKind(entities=rules.ENTITIES, store=store.IMPORTS, id_prefix="support-")


def _identities(number: str, external_ref: str) -> list[str]:
    """What makes two rows (or a row and a ticket) the same ticket: this CRM's number, the old
    system's reference (apart: a reference may look like a number)."""
    return ([f"number:{number}"] if number else []) + ([external_ref] if external_ref else [])


def _merge(into: Ticket, row: Ticket) -> list[str]:
    changed = []
    new_tags = [t for t in row.tags if t not in into.tags]
    if new_tags:
        into.tags.extend(new_tags)
        changed.append("tags")
    for name in ("description", "group"):
        if not getattr(into, name) and getattr(row, name):
            setattr(into, name, getattr(row, name))
            changed.append(name)
    return changed


class TicketImporter:
    """crmkit.imports.jobs.Importer for tickets."""

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: RunState) -> list[Rejected]:
        built = [rules.build_ticket(state.header, state.targets, values, job.mapping) for values in rows]
        known = store.tickets_by_external_ref(uow.session, [t.external_ref for t, c in built if t.external_ref])
        numbered = store.tickets_by_number(uow.session, [t.number for t, c in built if t.number])
        rejected: list[Rejected] = []
        merged: dict[str, tuple[Ticket, list[str]]] = {}
        for offset, ((ticket, cells), values) in enumerate(zip(built, rows, strict=True)):
            n = first_row + offset
            number, ticket.number = ticket.number, ""  # a new ticket gets its own
            if number and number not in numbered and not cells.problems:
                cells.problems.append(Problem("number", "", f"no ticket {number} here: leave the number blank to open "
                                              "a new ticket (or map the column to external_ref)", number))
            ref = _identities(number, ticket.external_ref)
            if ticket.assignee_id and not is_agent(principal):
                cells.problems.append(Problem("assignee_id", "", "only agents assign tickets", ticket.assignee_id))
            if not cells.problems and ref and job.on_duplicate != "create":
                in_file = state.duplicate(ref)
                match_id = in_file[1] if in_file else numbered.get(number) or known.get(ticket.external_ref)
                if match_id is not None:
                    where = f"row {in_file[0]} of this file" if in_file else f"ticket {match_id}"
                    if job.on_duplicate == "flag":
                        by_number = in_file[2] == ref[0] if in_file else bool(number)  # a number found is its ticket
                        field, value = ("number", number) if number and by_number else ("external_ref",
                                                                                         ticket.external_ref)
                        cells.problems.append(Problem(
                            field, "", f"duplicate of {where} ({value}): choose on_duplicate merge or create to keep "
                            "it", value))
                    else:
                        if not job.dry_run:
                            held = merged.get(match_id)
                            target = held[0] if held else store.load_ticket(uow.session, match_id, for_update=True)
                            if target is not None:
                                merged[match_id] = (target, sorted({*(held[1] if held else []),
                                                                    *_merge(target, ticket)}))
                        job.merged += 1
                        continue
            if not cells.problems:
                try:  # the service's own rules as the last word: an accepted row is what a create accepts
                    check = Ticket()
                    check.CopyFrom(ticket)
                    ticket_rules.normalize_new(check)
                except DomainError as exc:
                    cells.problems.append(Problem(exc.field or "", "", exc.message))
            if cells.problems:
                rejected.append(Rejected(n, cells.problems, list(values)))
                continue
            if cells.notes:
                job.warnings += 1
            job.accepted += 1
            if job.dry_run:
                state.remember(ref, n, f"row {n}")
                continue
            ticket.channel = ticket.channel or "api"
            opened = tickets.open_ticket(uow, principal=principal, now=now, ticket=ticket)
            state.remember(ref, n, opened.id)
        for ticket, changed in merged.values():
            if changed:
                bump(ticket, now)
                store.update_ticket(uow.session, ticket)
                emit(uow, principal, SUPPORT.TICKET_UPDATED, ticket.id, ticket.version,
                     ev.TicketUpdated(ticket=ticket, changed_fields=changed), now)
        return rejected
