"""The demo users of `make run` and of the tests."""
from __future__ import annotations

from crmkit.auth import SYSTEM, Principal

# Demo users for `make run`: two regions (north = 华北, south = 华南), a manager and reps in each.
DEMO_USERS: dict[str, Principal] = {
    p.user_id: p
    for p in (
        Principal("admin", ("admin",), "hq", "", "系统管理员 Admin"),
        Principal("manager.north", ("manager",), "north-sales", "north", "王经理 Wang Li"),
        Principal("rep.north.1", ("rep",), "north-sales", "north", "张伟 Zhang Wei"),
        Principal("rep.north.2", ("rep",), "north-sales", "north", "李娜 Li Na"),
        Principal("manager.south", ("manager",), "south-sales", "south", "陈经理 Chen Jing"),
        Principal("rep.south.1", ("rep",), "south-sales", "south", "刘洋 Liu Yang"),
        Principal("rep.south.2", ("rep",), "south-sales", "south", "Emily Zhao"),
        Principal("marketing.hq", ("marketing",), "marketing", "", "市场部 Marketing"),
        Principal("legal.hq", ("legal",), "hq", "", "法务 Legal"),
        Principal("finance.hq", ("finance",), "hq", "", "财务 Finance"),
        Principal("analyst.hq", ("analyst",), "bi", "", "数据分析 Analyst"),  # aggregates, masked phones and emails
        Principal("dpo.hq", ("dpo", "legal"), "hq", "", "数据保护官 DPO"),  # data-subject requests
        Principal("agent.support", ("support",), "support", "", "客服 王芳 Wang Fang"),  # a support agent
        Principal("auditor.hq", ("auditor",), "hq", "", "审计 Auditor"),  # reads every service's audit log
        # an ERP's account: manages its own webhook subscriptions, gets phones and emails masked
        Principal("erp.integration", ("integration",), "hq", "", "ERP 集成 Integration"),
        SYSTEM,
    )
}


