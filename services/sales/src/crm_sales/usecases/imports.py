"""Lead and product imports as jobs (crmkit.imports: the job, its upload, progress, report and
resume are shared with contacts and support). What is sales' own: a row → a lead or product with
every problem (rules.imports), duplicates within the file and against the database (leads by
email or phone, products by SKU) flagged, merged (blank fields filled) or created per
`on_duplicate`, and the writes. A lead is created by `leads.create_lead`, so an imported lead is
scored, assigned by the rules and given its response deadline exactly as one created by hand."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from crm.common.v1.imports_pb2 import ImportJob
from crm.sales.v1 import events_pb2 as ev
from crm.sales.v1.sales_pb2 import Lead, Product
from crm_sales.events import SALES, emit
from crm_sales.rules import imports as rules
from crm_sales.rules import leads as lead_rules
from crm_sales.store import catalogue, records
from crm_sales.store import imports as import_store
from crm_sales.store.picklists import PICKLISTS
from crm_sales.usecases import leads
from crm_sales.usecases.access import visible
from crmkit.auth import Principal
from crmkit.db import UnitOfWork
from crmkit.errors import DomainError, NotFound, PermissionDenied
from crmkit.imports.jobs import ImportKind, Rejected, RunState
from crmkit.imports.mapping import Cells, Problem
from crmkit.records import bump, new_id
from crmkit.visibility import check_assignable, check_scope

KIND = ImportKind(entities=rules.ENTITIES, store=import_store.STORE, id_prefix="sales-")


def _duplicate(state: RunState, owners: dict[str, str], values: Sequence[str], what: str) -> tuple[str, str, str] | None:
    """(where, record id, the value) of the first match: an earlier row of this file, else the database."""
    found = state.duplicate(values)
    if found is not None:
        n, record_id, value = found
        return f"row {n} of this file", record_id, value
    for value in values:
        if value in owners:
            return f"{what} {owners[value]}", owners[value], value
    return None


def _flag(cells: Cells, field: str, where: str, value: str) -> None:
    cells.problems.append(Problem(field, "", f"duplicate of {where} ({value}): choose on_duplicate merge or create "
                                  "to keep it", value))


def _access(uow: UnitOfWork, principal: Principal, now: datetime, lead_id: str, seen: dict[str, str]) -> str:
    """Whether a matching lead in the database may be merged into by the uploader ("own"), only read
    ("read") or not even seen ("hidden"): a merge writes only into a lead the uploader may change."""
    if lead_id not in seen:
        try:
            visible(uow.session, Lead, lead_id, principal=principal, now=now, write=True)
            seen[lead_id] = "own"
        except NotFound:
            seen[lead_id] = "hidden"
        except PermissionDenied:
            seen[lead_id] = "read"
    return seen[lead_id]


class SalesImporter:
    """crmkit.imports.jobs.Importer for leads and products."""

    def __init__(self, refuse: Callable[[Lead], None] | None = None) -> None:
        self.refuse = refuse  # erased people's emails and phones (usecases.subject.refuse_suppressed)

    def batch(self, uow: UnitOfWork, *, now: datetime, job: ImportJob, principal: Principal, first_row: int,
              rows: Sequence[list[str]], state: RunState) -> list[Rejected]:
        if job.entity == "product":
            return self._products(uow, job, first_row, rows, state)
        return self._leads(uow, now, job, principal, first_row, rows, state)

    def _leads(self, uow: UnitOfWork, now: datetime, job: ImportJob, principal: Principal, first_row: int,
               rows: Sequence[list[str]], state: RunState) -> list[Rejected]:
        vocabulary = PICKLISTS.current(uow.session)
        built = [rules.build_lead(state.header, state.targets, values, job.mapping, vocabulary) for values in rows]
        owners = import_store.lead_owners(uow.session, [v for lead, cells in built if not cells.problems
                                                        for v in rules.lead_identities(lead)])
        rejected: list[Rejected] = []
        merged: dict[str, tuple[Lead, list[str]]] = {}
        seen: dict[str, str] = {}  # lead id → the uploader's access to it
        for offset, ((lead, cells), values) in enumerate(zip(built, rows, strict=True)):
            n = first_row + offset
            if not cells.problems:
                self._check_lead(lead, principal, cells)
            identities = rules.lead_identities(lead)
            if not cells.problems and job.on_duplicate != "create":
                duplicate = _duplicate(state, owners, identities, "lead")
                if duplicate is not None:
                    where, match_id, value = duplicate
                    access = "own" if not where.startswith("lead ") else _access(uow, principal, now, match_id, seen)
                    if access == "hidden":  # named as the API's 409 names it: no id the caller may not see
                        where = "a lead you cannot see"
                    field = "email" if "@" in value else "phone"
                    if job.on_duplicate == "flag":
                        _flag(cells, field, where, value)
                    elif access != "own":
                        cells.problems.append(Problem(field, "", f"duplicate of {where} ({value}), which you may not "
                                                      "change: choose on_duplicate create to keep it", value))
                    else:
                        if not job.dry_run:
                            target = merged.get(match_id)
                            existing = target[0] if target else records.load(uow.session, Lead, match_id,
                                                                             for_update=True)
                            if existing is not None:
                                filled = rules.merge_lead(existing, lead)
                                merged[match_id] = (existing, (target[1] if target else []) + filled)
                        job.merged += 1
                        state.remember(identities, n, match_id)
                        continue
            if cells.problems:
                rejected.append(Rejected(n, cells.problems, list(values)))
                continue
            if cells.notes:
                job.warnings += 1
            job.accepted += 1
            if job.dry_run:
                state.remember(identities, n, f"row {n}")
                continue
            created = leads.create_lead(uow, principal=principal, now=now, lead=lead, channel="import")
            state.remember(identities, n, created.id)
        for lead, filled in merged.values():
            if filled:
                lead_rules.normalize(lead, vocabulary)
                bump(lead, now)
                records.update_record(uow.session, lead)
                emit(uow, principal, SALES.LEAD_UPDATED, lead.id, lead.version,
                     ev.LeadUpdated(lead=lead, changed_fields=filled), now)
        return rejected

    def _check_lead(self, lead: Lead, principal: Principal, cells: Cells) -> None:
        """What create_lead would refuse, found before it is called (so it is a row's problem)."""
        checks: list[tuple[str, Callable[[], object]]] = [
            ("region", lambda: check_scope(principal, team="", region=lead.region)),
            ("owner_id", lambda: check_assignable(principal, lead.owner_id) if lead.owner_id else None),
            ("email", lambda: self.refuse(lead) if self.refuse is not None else None),
        ]
        for name, check in checks:
            try:
                check()
            except DomainError as exc:
                field = exc.field or name
                cells.problems.append(Problem(field, "", exc.message, str(getattr(lead, field, ""))))

    def _products(self, uow: UnitOfWork, job: ImportJob, first_row: int, rows: Sequence[list[str]],
                  state: RunState) -> list[Rejected]:
        built = [rules.build_product(state.header, state.targets, values) for values in rows]
        existing = import_store.products_by_sku(uow.session, [p.sku for p, cells in built if p.sku])
        rejected: list[Rejected] = []
        fresh: list[Product] = []
        changed: dict[str, Product] = {}
        for offset, ((product, cells), values) in enumerate(zip(built, rows, strict=True)):
            n = first_row + offset
            in_file = state.duplicate([product.sku]) if not cells.problems else None
            known = existing.get(product.sku) if not cells.problems else None
            if in_file is not None or known is not None:
                where = f"row {in_file[0]} of this file" if in_file else f"product {known.id}"  # type: ignore[union-attr]
                if job.on_duplicate == "merge":
                    target = changed.get(product.sku) or known or next(
                        (p for p in fresh if p.sku == product.sku), None)
                    if target is not None and rules.merge_product(target, product) and target is known:
                        changed[target.sku] = target
                    job.merged += 1
                    continue
                # a SKU is unique: "create" cannot make a second one
                cells.problems.append(Problem("sku", "", f"duplicate of {where} ({product.sku}): choose "
                                              "on_duplicate merge to fill that product's blank fields", product.sku))
            if cells.problems:
                rejected.append(Rejected(n, cells.problems, list(values)))
                continue
            product.id = new_id()
            state.remember([product.sku], n, product.id)
            fresh.append(product)
            job.accepted += 1
        if not job.dry_run:
            import_store.insert_products(uow.session, fresh)
            for product in changed.values():
                catalogue.save_product(uow.session, product, new=False)
        return rejected
