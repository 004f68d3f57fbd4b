import { ApiOutlined, AuditOutlined, ExportOutlined, ImportOutlined, SafetyOutlined, SettingOutlined, SwapOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// The administrator's screens. `admin` opens them all; the roles below are the others the API
// lets do the same thing (managers read settings and move their team's work, reps and marketers
// import, auditors read the log, the DPO answers data-subject requests).
export const admin: Area = {
  id: "admin",
  label: { en: "Administration", "zh-CN": "系统管理" },
  routes: [
    {
      path: "admin/settings",
      load: () => import("./Settings"),
      roles: ["manager"],
      nav: { label: { en: "Settings", "zh-CN": "系统设置" }, icon: SettingOutlined, order: 80 },
    },
    {
      path: "admin/imports",
      load: () => import("./Imports"),
      roles: ["manager", "marketing", "rep", "finance", "support"],
      nav: { label: { en: "Imports", "zh-CN": "导入" }, icon: ImportOutlined, order: 82 },
    },
    { path: "admin/imports/:id", load: () => import("./Imports"), roles: ["manager", "marketing", "rep", "finance", "support"] },
    // every signed-in user exports what their lists show them (the API applies visibility)
    {
      path: "admin/exports",
      load: () => import("./Exports"),
      nav: { label: { en: "Exports", "zh-CN": "导出" }, icon: ExportOutlined, order: 83 },
    },
    { path: "admin/exports/:id", load: () => import("./Exports") },
    {
      path: "admin/offboarding",
      load: () => import("./Offboarding"),
      roles: ["manager"],
      nav: { label: { en: "Offboarding", "zh-CN": "离职交接" }, icon: SwapOutlined, order: 84 },
    },
    {
      path: "admin/audit",
      load: () => import("./Audit"),
      roles: ["auditor"],
      nav: { label: { en: "Audit log", "zh-CN": "审计日志" }, icon: AuditOutlined, order: 86 },
    },
    {
      path: "admin/privacy",
      load: () => import("./Privacy"),
      roles: ["dpo"],
      nav: { label: { en: "Data-subject requests", "zh-CN": "数据主体请求" }, icon: SafetyOutlined, order: 88 },
    },
    { path: "admin/privacy/:kind/:id", load: () => import("./Privacy"), roles: ["dpo"] },
    {
      path: "admin/webhooks",
      load: () => import("./Webhooks"),
      roles: ["integration"],
      nav: { label: { en: "Webhooks", "zh-CN": "Webhook 订阅" }, icon: ApiOutlined, order: 89 },
    },
  ],
};
