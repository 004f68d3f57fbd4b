import { BookOutlined, CustomerServiceOutlined, MessageOutlined, SmileOutlined, TeamOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// Support agents work every ticket; managers those of their region and team (the API decides).
const AGENTS = ["support", "manager"] as const;

export const support: Area = {
  id: "support",
  label: { en: "Support", "zh-CN": "客服" },
  routes: [
    {
      path: "tickets",
      load: () => import("./TicketQueue"),
      roles: AGENTS,
      nav: { label: { en: "Ticket queue", "zh-CN": "工单队列" }, icon: CustomerServiceOutlined, order: 30 },
    },
    { path: "tickets/new", load: () => import("./NewTicket"), roles: AGENTS },
    { path: "tickets/:id", load: () => import("./TicketView"), roles: AGENTS },
    {
      path: "kb",
      load: () => import("./KnowledgeBase"),
      roles: AGENTS,
      nav: { label: { en: "Knowledge base", "zh-CN": "知识库" }, icon: BookOutlined, order: 32 },
    },
    {
      path: "csat",
      load: () => import("./Csat"),
      roles: AGENTS,
      nav: { label: { en: "Satisfaction", "zh-CN": "满意度" }, icon: SmileOutlined, order: 34 },
    },
    {
      path: "support/macros",
      load: () => import("./Macros"),
      roles: AGENTS,
      nav: { label: { en: "Macros", "zh-CN": "快捷回复" }, icon: MessageOutlined, order: 36 },
    },
    {
      path: "support/staff",
      load: () => import("./Staff"),
      roles: AGENTS,
      nav: { label: { en: "Support staff", "zh-CN": "客服人员" }, icon: TeamOutlined, order: 37 },
    },
  ],
};
