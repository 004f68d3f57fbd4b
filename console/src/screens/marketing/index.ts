import { FormOutlined, FundOutlined, MailOutlined, NotificationOutlined } from "@ant-design/icons";
import type { Area } from "../../app/registry";

// Marketers run campaigns; managers read them (the API decides what each may change).
const MARKETERS = ["marketing", "manager"] as const;

export const marketing: Area = {
  id: "marketing",
  label: { en: "Marketing", "zh-CN": "市场营销" },
  routes: [
    {
      path: "campaigns",
      load: () => import("./CampaignList"),
      roles: MARKETERS,
      nav: { label: { en: "Campaigns", "zh-CN": "营销活动" }, icon: NotificationOutlined, order: 40 },
    },
    { path: "campaigns/:id", load: () => import("./CampaignView"), roles: MARKETERS },
    {
      path: "email-templates",
      load: () => import("./Templates"),
      roles: MARKETERS,
      nav: { label: { en: "Email templates", "zh-CN": "邮件模板" }, icon: MailOutlined, order: 42 },
    },
    {
      path: "forms",
      load: () => import("./Forms"),
      roles: MARKETERS,
      nav: { label: { en: "Forms", "zh-CN": "表单" }, icon: FormOutlined, order: 44 },
    },
    {
      path: "campaign-roi",
      load: () => import("./Roi"),
      roles: MARKETERS,
      nav: { label: { en: "Campaign ROI", "zh-CN": "活动投资回报" }, icon: FundOutlined, order: 46 },
    },
  ],
};
