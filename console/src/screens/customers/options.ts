// Picklist values the API accepts for the list filters, typed against the generated client so a
// value the API drops becomes a type error here.
import type { paths } from "../../api";
import type { Label } from "../../i18n";

type ListQuery = NonNullable<paths["/api/v1/contacts"]["get"]["parameters"]["query"]>;

export const LEVELS = ["vip", "regular", "prospect"] as const satisfies readonly NonNullable<ListQuery["level"]>[];

// `source` is now a picklist the admin edits (GET /api/v1/admin/picklists); these are the built-in
// keys and their labels, so the filter offers them before (and without) that call.
export const SOURCES = {
  website: { en: "Website", "zh-CN": "官网" },
  web_form: { en: "Web form", "zh-CN": "网页表单" },
  trade_show: { en: "Trade show", "zh-CN": "展会" },
  ads: { en: "Ads", "zh-CN": "广告" },
  social: { en: "Social media", "zh-CN": "社交媒体" },
  referral: { en: "Referral", "zh-CN": "转介绍" },
  partner: { en: "Partner", "zh-CN": "合作伙伴" },
  event: { en: "Event", "zh-CN": "活动" },
  campaign: { en: "Campaign", "zh-CN": "营销活动" },
  marketing_qualified: { en: "Marketing qualified", "zh-CN": "市场合格线索" },
  import: { en: "Import", "zh-CN": "导入" },
  api: { en: "API", "zh-CN": "API" },
  other: { en: "Other", "zh-CN": "其他" },
} as const satisfies Record<NonNullable<ListQuery["source"]>, Label>;

export type Level = (typeof LEVELS)[number];

// `level` is a picklist too: these stand in until GET /api/v1/admin/picklists answers (or if it fails).
export const LEVEL_LABELS = {
  vip: { en: "VIP", "zh-CN": "VIP" },
  regular: { en: "Regular", "zh-CN": "普通" },
  prospect: { en: "Prospect", "zh-CN": "潜在" },
} as const satisfies Record<Level, Label>;
export type Source = keyof typeof SOURCES;

export function isLevel(value: string | undefined): value is Level {
  return (LEVELS as readonly string[]).includes(value ?? "");
}
