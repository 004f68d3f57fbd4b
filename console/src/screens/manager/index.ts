import { DashboardOutlined, RiseOutlined, AlertOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// Managers and executives (the manager role) read dashboards shared with them, their team's
// ranking and what is escalated to them; analysts read dashboards too. The API decides the
// figures each one sees; a rep's copy of a shared dashboard counts only their own records.
const READERS = ["manager", "analyst"] as const;

export const manager: Area = {
  id: "manager",
  label: { en: "Management", "zh-CN": "管理" },
  routes: [
    {
      path: "dashboards",
      load: () => import("./Dashboards"),
      roles: READERS,
      nav: { label: { en: "Dashboards", "zh-CN": "仪表盘" }, icon: DashboardOutlined, order: 60 },
    },
    { path: "dashboards/new", load: () => import("./NewDashboard"), roles: READERS },
    { path: "dashboards/:id", load: () => import("./Dashboard"), roles: READERS },
    { path: "dashboards/:id/widgets/:widgetId/records", load: () => import("./DrillDown"), roles: READERS },
    { path: "reports/records", load: () => import("./DrillDown"), roles: READERS },
    {
      path: "team",
      load: () => import("./Team"),
      roles: ["manager"],
      nav: { label: { en: "Team performance", "zh-CN": "团队业绩" }, icon: RiseOutlined, order: 62 },
    },
    {
      path: "escalations",
      load: () => import("./Escalations"),
      roles: ["manager", "support"],
      nav: { label: { en: "Escalations", "zh-CN": "升级工单" }, icon: AlertOutlined, order: 64 },
    },
  ],
};
