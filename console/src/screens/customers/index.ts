import { TeamOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// Reps and their managers work their customers here; support and finance read what the API
// lets them see.
const READERS = ["rep", "manager", "support", "finance", "marketing", "analyst"] as const;

export const customers: Area = {
  id: "customers",
  label: { en: "Customers", "zh-CN": "客户" },
  routes: [
    {
      path: "customers",
      load: () => import("./CustomerList"),
      roles: READERS,
      nav: { label: { en: "My customers", "zh-CN": "我的客户" }, icon: TeamOutlined, order: 10 },
    },
    { path: "customers/:id", load: () => import("./Customer360"), roles: READERS },
  ],
};
