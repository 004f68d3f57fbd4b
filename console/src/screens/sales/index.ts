import { ApartmentOutlined, AuditOutlined, CalendarOutlined, FileDoneOutlined, FileTextOutlined, FunnelPlotOutlined, InboxOutlined, LineChartOutlined, UserSwitchOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// A rep's day: leads, the board, tasks, quotes and the forecast; managers see their team's (the
// API decides what each sees). Approvals wait for the roles the approval policies name.
const SELLERS = ["rep", "manager"] as const;
const APPROVERS = ["manager", "legal", "finance"] as const;

export const sales: Area = {
  id: "sales",
  label: { en: "Sales", "zh-CN": "销售" },
  routes: [
    { path: "leads", load: () => import("./Leads"), roles: SELLERS,
      nav: { label: { en: "Leads", "zh-CN": "线索" }, icon: InboxOutlined, order: 20 } },
    { path: "pipeline", load: () => import("./Pipeline"), roles: SELLERS,
      nav: { label: { en: "Pipeline", "zh-CN": "销售管道" }, icon: FunnelPlotOutlined, order: 21 } },
    { path: "tasks", load: () => import("./Tasks"), roles: SELLERS,
      nav: { label: { en: "Tasks", "zh-CN": "任务" }, icon: CalendarOutlined, order: 22 } },
    { path: "quotes", load: () => import("./Quotes"), roles: [...SELLERS, "finance", "legal"],
      nav: { label: { en: "Quotes", "zh-CN": "报价" }, icon: FileTextOutlined, order: 23 } },
    { path: "quotes/:id", load: () => import("./Quote"), roles: [...SELLERS, "finance", "legal"] },
    { path: "forecast", load: () => import("./Forecast"), roles: SELLERS,
      nav: { label: { en: "My forecast", "zh-CN": "我的预测" }, icon: LineChartOutlined, order: 24 } },
    { path: "approvals", load: () => import("./Approvals"), roles: APPROVERS,
      nav: { label: { en: "Approvals", "zh-CN": "审批" }, icon: AuditOutlined, order: 25 } },
    { path: "pool", load: () => import("./Pool"), roles: SELLERS,
      nav: { label: { en: "Public pool", "zh-CN": "公海" }, icon: ApartmentOutlined, order: 26 } },
    { path: "delegations", load: () => import("./Delegations"), roles: SELLERS,
      nav: { label: { en: "Delegations", "zh-CN": "工作委托" }, icon: UserSwitchOutlined, order: 27 } },
    { path: "contracts", load: () => import("./Contracts"), roles: [...SELLERS, "finance", "legal"],
      nav: { label: { en: "Contracts", "zh-CN": "合同" }, icon: FileDoneOutlined, order: 28 } },
  ],
};
