import { BranchesOutlined, FormOutlined, FundOutlined, MailOutlined, MessageOutlined, NotificationOutlined, SettingOutlined, ThunderboltOutlined } from "@ant-design/icons";
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
    // a send wave's results (email or SMS) and an A/B test, both reached from their campaign
    { path: "waves/:id", load: () => import("./WaveResults"), roles: MARKETERS },
    { path: "ab-tests/:id", load: () => import("./AbTestView"), roles: MARKETERS },
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
    {
      path: "sequences",
      load: () => import("./Sequences"),
      roles: MARKETERS,
      nav: { label: { en: "Drip sequences", "zh-CN": "培育序列" }, icon: BranchesOutlined, order: 47 },
    },
    { path: "sequences/:id", load: () => import("./SequenceView"), roles: MARKETERS },
    {
      path: "automation-rules",
      load: () => import("./AutomationRules"),
      roles: MARKETERS,
      nav: { label: { en: "Automation rules", "zh-CN": "自动化规则" }, icon: ThunderboltOutlined, order: 48 },
    },
    {
      path: "sms-replies",
      load: () => import("./SmsReplies"),
      roles: MARKETERS,
      nav: { label: { en: "SMS replies", "zh-CN": "短信回复" }, icon: MessageOutlined, order: 49 },
    },
    {
      path: "automation-settings",
      load: () => import("./AutomationSettings"),
      roles: MARKETERS,
      nav: { label: { en: "Automation settings", "zh-CN": "自动化设置" }, icon: SettingOutlined, order: 50 },
    },
  ],
};
