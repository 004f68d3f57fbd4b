// Reporting names its columns in English (the catalogue's labels). In Chinese the console shows
// its own word for the labels it knows, and the API's label for any it does not (a new measure
// is never hidden for want of a translation).
import type { Locale } from "../../i18n";
import type { Column } from "./cells";

const ZH: Record<string, string> = {
  Stage: "阶段", "Status (open, won, lost)": "状态（进行中、赢单、输单）", Status: "状态", "Owner (rep)": "负责人（销售）",
  Owner: "负责人", Team: "团队", Region: "区域", Currency: "币种", "First-touch campaign": "首次触达活动",
  "Last-touch campaign": "末次触达活动", Source: "来源", Campaign: "营销活动", Priority: "优先级", Type: "类型",
  Channel: "渠道", Assignee: "处理人", "Rating (1-5)": "评分（1-5）", "Issue (tag; untagged: the ticket's type)": "问题（标签；无标签时为工单类型）",
  Opportunities: "商机", "CSAT answers": "满意度答卷", Open: "进行中", Won: "赢单", Lost: "输单", Amount: "金额", Pipeline: "管道金额",
  "Won amount": "赢单金额", "Weighted pipeline": "加权管道金额", "Average amount": "平均金额",
  "Average probability": "平均赢率", "Average deal cycle": "平均成交周期（天）", "Win rate": "赢率", Leads: "线索数",
  Converted: "已转化", Disqualified: "已取消资格", "Conversion rate": "转化率", Tickets: "工单数", Unsolved: "未解决",
  Solved: "已解决", "SLA breached": "SLA 超时", "Average resolution time": "平均解决时长（小时）",
  "Average first response": "平均首次响应（小时）", Answers: "答卷数", "Average rating": "平均评分", Satisfied: "满意占比",
  Month: "月份", Week: "周", Day: "日期", Quarter: "季度", Year: "年份", "Rep (empty: the team)": "销售（空：团队）",
  Target: "目标", "Deals won": "赢单数", "Attainment (won / target)": "达成率（赢单 / 目标）",
};

export function columnLabel(c: Column, locale: Locale): string {
  const label = c.label || c.name || "";
  return locale === "zh-CN" ? ZH[label] ?? label : label;
}
