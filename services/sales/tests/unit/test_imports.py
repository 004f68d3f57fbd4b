"""Lead and product import jobs on the real schema (crmkit.imports with sales' importer): every
problem of every bad row in the report while the good rows commit, an unverified phone kept,
duplicates within the file and against the database flagged or merged, the same file twice
changes nothing, a dry run writes nothing, and a run stopped between batches resumes."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from crm.common.v1.imports_pb2 import ColumnMapping, ListImportsRequest, ValueMap
from crm.sales.v1.sales_pb2 import Lead
from crm_sales.store import records
from crm_sales.tables import leads as leads_table
from crm_sales.tables import products as products_table
from crm_sales.usecases import imports
from crm_sales.usecases import leads as lead_cases
from crmkit.auth import Principal
from crmkit.errors import InvalidArgument
from crmkit.imports import jobs
from crmkit.imports.runner import ImportRunner

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
REP = Principal("rep.north.1", ("rep",), "north-sales", "north")
MANAGER = Principal("manager.north", ("manager",), "north-sales", "north")
LEADS = [
    ["姓名", "公司", "手机", "邮箱", "来源", "预算"],
    ["王芳", "华为", "13800138000", "wf@example.cn", "website", "1000"],
    ["", "", "", "bad-email", "webinar", "abc"],            # four problems
    ["李雷", "", "140 1234 5678", "", "referral", ""],       # an invalid prefix: kept unverified
    ["王芳二", "", "138 0013 8000", "", "", ""],              # the same mobile as row 1
    ["韩梅梅", "", "", "hm@example.cn", "cold_call", ""],     # mapped by the value map
]
MAPPING = ColumnMapping(columns={"姓名": "name", "公司": "company", "手机": "phone", "邮箱": "email", "来源": "source",
                                 "预算": "budget"},
                        values={"source": ValueMap(values={"cold_call": "other"})})


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


def run(sales: Any, content: bytes, *, principal: Principal = REP, entity: str = "lead", batch_rows: int = 2,
        **options: Any) -> Any:
    job = jobs.submit(sales.db, kind=imports.KIND, principal=principal, now=NOW, entity=entity,
                      file_name=f"{entity}s.csv", content=content, chunk=50, **options)
    if not job.reused:
        ImportRunner("test", sales.db, lambda: NOW, kind=imports.KIND, importer=imports.SalesImporter(),
                     batch_rows=batch_rows).tick(NOW)
    return sales.read(lambda s: jobs.get_import(s, kind=imports.KIND, principal=principal, now=NOW, job_id=job.id))


def report(sales: Any, job_id: str, principal: Principal = REP) -> list[list[str]]:
    data = sales.read(lambda s: jobs.report_csv(s, kind=imports.KIND, principal=principal, job_id=job_id))
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def all_leads(sales: Any) -> list[Lead]:
    return sales.read(lambda s: [Lead.FromString(d) for d in s.execute(
        select(leads_table.c.data).order_by(leads_table.c.seq)).scalars()])


def test_bad_rows_are_reported_with_every_reason_and_the_rest_is_created(sales: Any) -> None:
    job = run(sales, csv_bytes(LEADS), mapping=MAPPING, batch_rows=10)
    assert job.id.startswith("sales-") and job.status == "done"
    assert (job.rows_done, job.accepted, job.rejected, job.warnings) == (5, 3, 2, 1)
    rows = report(sales, job.id)
    assert rows[0][:3] == ["row", "reasons", "姓名"]
    bad = {r[0]: r[1] for r in rows[1:]}
    assert set(bad) == {"2", "4"}
    for reason in ("a lead needs a name or a company", "'bad-email' is not an email address", "'webinar'", "'abc' is not a decimal number"):
        assert reason in bad["2"]
    assert "duplicate of row 1 of this file (+8613800138000)" in bad["4"]
    created = {lead.name: lead for lead in all_leads(sales)}
    assert set(created) == {"王芳", "李雷", "韩梅梅"}
    kept = created["李雷"]
    assert (kept.phone, kept.phone_raw, kept.phone_unverified) == ("14012345678", "140 1234 5678", True)
    assert created["韩梅梅"].source == "other" and created["王芳"].budget == "1000.00"
    assert created["王芳"].owner_id == REP.user_id and created["王芳"].status == "new"  # as a create does
    assert "crm.sales.lead.created" in sales.events()


def test_the_same_file_twice_changes_nothing_and_a_dry_run_writes_nothing(sales: Any) -> None:
    content = csv_bytes(LEADS)
    dry = run(sales, content, mapping=MAPPING, dry_run=True)
    assert (dry.accepted, dry.rejected) == (3, 2) and all_leads(sales) == []
    first = run(sales, content, mapping=MAPPING)
    again = run(sales, content, mapping=MAPPING)
    assert again.id == first.id  # that job, answered again (reused), nothing run twice
    assert len(all_leads(sales)) == 3


def test_duplicates_of_leads_in_the_database_are_flagged_or_merged(sales: Any) -> None:
    existing = sales.write(lambda uow: lead_cases.create_lead(
        uow, principal=REP, now=NOW, lead=Lead(name="老客户", email="wf@example.cn")))
    rows = [["name", "email", "title"], ["王芳", "WF@example.cn", "采购经理"]]
    flagged = run(sales, csv_bytes(rows))
    assert flagged.rejected == 1 and f"lead {existing.id}" in report(sales, flagged.id)[1][1]
    merged = run(sales, csv_bytes(rows), on_duplicate="merge")
    assert (merged.merged, merged.accepted) == (1, 0)
    lead = sales.read(lambda s: records.load(s, Lead, existing.id))
    assert lead.title == "采购经理" and lead.name == "老客户"  # blanks filled, nothing overwritten
    assert "crm.sales.lead.updated" in sales.events()


def test_a_duplicate_another_region_owns_is_neither_named_nor_merged_into(sales: Any) -> None:
    existing = sales.write(lambda uow: lead_cases.create_lead(
        uow, principal=REP, now=NOW, lead=Lead(name="老客户", email="wf@example.cn")))
    south = Principal("rep.south.1", ("rep",), "south-sales", "south")
    rows = [["name", "email", "title"], ["王芳", "wf@example.cn", "南方经理"]]
    flagged = run(sales, csv_bytes(rows), principal=south)
    reason = report(sales, flagged.id, principal=south)[1][1]
    assert flagged.rejected == 1 and existing.id not in reason and "a lead you cannot see" in reason
    merged = run(sales, csv_bytes(rows), principal=south, on_duplicate="merge")
    assert (merged.merged, merged.accepted, merged.rejected) == (0, 0, 1)
    assert existing.id not in report(sales, merged.id, principal=south)[1][1]
    lead = sales.read(lambda s: records.load(s, Lead, existing.id))
    assert lead.title == "" and lead.version == existing.version  # nothing written into the north's lead
    kept = run(sales, csv_bytes(rows), principal=south, on_duplicate="create")
    assert kept.accepted == 1


def test_a_duplicate_of_a_committed_batch_is_found_in_the_database(sales: Any) -> None:
    job = run(sales, csv_bytes(LEADS), mapping=MAPPING, batch_rows=2)  # row 1 committed before row 4 is read
    [row_4] = [r for r in report(sales, job.id) if r[0] == "4"]
    [first] = [lead for lead in all_leads(sales) if lead.name == "王芳"]
    assert f"duplicate of lead {first.id} (+8613800138000)" in row_4[1]


def test_a_stopped_run_resumes_after_its_checkpoint(sales: Any) -> None:
    content = csv_bytes([["name", "email"], *[[f"客户{i}", f"c{i}@example.cn"] for i in range(7)]])
    job = jobs.submit(sales.db, kind=imports.KIND, principal=REP, now=NOW, entity="lead", file_name="l.csv",
                      content=content)
    runner = ImportRunner("test", sales.db, lambda: NOW, kind=imports.KIND, importer=imports.SalesImporter(),
                          batch_rows=3)
    calls = 0
    original = runner.importer.batch

    def stop_after_first(*args: Any, **kw: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            runner._stopping = True  # as a SIGTERM would between two batches
        return original(*args, **kw)

    runner.importer.batch = stop_after_first  # type: ignore[method-assign]
    runner.run(job.id)
    half = sales.read(lambda s: jobs.get_import(s, kind=imports.KIND, principal=REP, now=NOW, job_id=job.id))
    assert (half.status, half.rows_done) == ("running", 6)
    ImportRunner("test", sales.db, lambda: NOW, kind=imports.KIND, importer=imports.SalesImporter()).tick(NOW)
    done = sales.read(lambda s: jobs.get_import(s, kind=imports.KIND, principal=REP, now=NOW, job_id=job.id))
    assert (done.status, done.rows_done, done.accepted) == ("done", 7, 7)
    assert sorted(lead.name for lead in all_leads(sales)) == sorted(f"客户{i}" for i in range(7))


def test_products_by_sku_flagged_merged_and_refused_to_reps(sales: Any) -> None:
    rows = [["SKU", "名称", "单位", "active"], ["crm-pro", "CRM 专业版", "套", "yes"], ["CRM-PRO", "重复", "", ""],
            ["", "无编码", "", "maybe"], ["CRM-STD", "CRM 标准版", "", ""]]
    mapping = ColumnMapping(columns={"SKU": "sku", "名称": "name", "单位": "unit"})
    job = run(sales, csv_bytes(rows), principal=MANAGER, entity="product", mapping=mapping)
    assert (job.accepted, job.rejected) == (2, 1 + 1)
    bad = {r[0]: r[1] for r in report(sales, job.id, MANAGER)[1:]}
    assert "duplicate of row 1 of this file (CRM-PRO)" in bad["2"]
    assert "a product needs a SKU" in bad["3"] and "must be true or false" in bad["3"]
    count = sales.read(lambda s: s.execute(select(func.count()).select_from(products_table)).scalar_one())
    assert count == 2
    fill = [["sku", "name", "description"], ["CRM-STD", "别的名字", "入门版"]]
    merged = run(sales, csv_bytes(fill), principal=MANAGER, entity="product", on_duplicate="merge")
    assert merged.merged == 1
    with pytest.raises(InvalidArgument, match="flagged or merged"):
        run(sales, csv_bytes(fill), principal=MANAGER, entity="product", on_duplicate="create")
    try:
        run(sales, csv_bytes(fill), entity="product")
    except Exception as exc:  # noqa: BLE001  (PermissionDenied: a rep maintains no products)
        assert "cannot import products" in str(exc)
    else:
        raise AssertionError("a rep imported products")


def test_a_source_the_administrator_added_is_accepted_from_a_file(sales: Any) -> None:
    from crm.common.v1.picklists_pb2 import Picklist, PicklistValue
    from crm_sales.store.picklists import PICKLISTS
    from crmkit import picklists

    base = picklists.defaults()
    source = next(p for p in base.picklists if p.name == "source")
    values = [PicklistValue(key=v.key) for v in source.values]
    values.append(PicklistValue(key="webinar", label_zh="线上研讨会", label_en="Webinar"))
    document = picklists.updated(base, Picklist(name="source", values=values, restricted=True))
    with sales.db.unit_of_work() as uow:
        PICKLISTS.apply(uow.session, document)  # as the contacts event brings it
        uow.commit()
    job = run(sales, csv_bytes([["name", "source"], ["李雷", "webinar"], ["韩梅梅", "cold_call"]]),
              mapping=ColumnMapping(), batch_rows=10)
    assert (job.accepted, job.rejected) == (1, 1)
    assert [lead.source for lead in all_leads(sales)] == ["webinar"]


def test_a_file_with_chinese_headers_and_labels_imports_without_a_mapping(sales: Any) -> None:
    rows = [["姓名", "公司名称", "手机号", "来源", "行业", "备注"],
            ["王芳", "华为", "13800138000", "展会", "制造业", "老客户介绍"],
            ["李雷", "", "13800138001", "Trade Show", "造船与海工", ""]]
    job = run(sales, csv_bytes(rows), batch_rows=10)
    assert (job.accepted, job.rejected, list(job.unmapped_columns)) == (2, 0, [])
    assert dict(job.columns) == {"姓名": "name", "公司名称": "company", "手机号": "phone", "来源": "source",
                                 "行业": "industry", "备注": "notes"}  # the mapping as applied, shown
    created = {lead.name: lead for lead in all_leads(sales)}
    assert (created["王芳"].source, created["王芳"].industry, created["王芳"].notes) == (
        "trade_show", "manufacturing", "老客户介绍")
    assert (created["李雷"].source, created["李雷"].industry) == ("trade_show", "造船与海工")  # open list: as typed


def test_a_rep_lists_their_lead_and_product_jobs_on_the_real_schema(sales: Any) -> None:
    leads = run(sales, csv_bytes([["name"], ["王芳"]]), batch_rows=10)
    products = run(sales, csv_bytes([["sku", "name"], ["P-1", "打印机"]]), principal=MANAGER, entity="product",
                   batch_rows=10)

    def listed(principal: Principal, **fields: Any) -> list[str]:
        return sales.read(lambda s: [j.id for j in jobs.list_imports(
            s, kind=imports.KIND, principal=principal, now=NOW, request=ListImportsRequest(**fields)).jobs])

    assert listed(REP) == [leads.id]  # not the manager's products job
    assert listed(MANAGER, entity="product", status="done") == [products.id]
    assert listed(MANAGER, entity="lead") == []
    with pytest.raises(InvalidArgument) as refused:
        listed(REP, entity="ticket")  # support's, not sales'
    assert refused.value.field == "entity"
