// Campaign ROI from the reporting service: per campaign its mail figures, leads, conversions,
// cost, revenue and ROI (first and last touch; "—" when nothing was spent, as the API leaves it
// out), sortable the ways the API sorts, a cursor page at a time; and the totals per channel.
import { DatePicker, Flex, Select, Table, Typography } from "antd";
import type { Dayjs } from "dayjs";
import { useCallback, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages } from "../../components/useCursorPages";
import { formatMoney, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { campaignStatus, formatRate } from "./labels";
import { EMPTY_TEXT } from "../../components/tones";
import { m } from "./messages";

type RoiRow = Schema<"CampaignRoi">;
type ChannelRow = Schema<"ChannelRoi">;
type Money = Schema<"CampaignMoney">;

const ORDERS = ["-last_touch_roi", "-first_touch_roi", "-last_touch_revenue", "-leads", "-conversions", "-open_rate", "-start_date", "name"] as const;
type Order = (typeof ORDERS)[number];
const ORDER_LABEL: Record<Order, "colRoi" | "colFirstRoi" | "colRevenue" | "colLeads" | "colConversions" | "openRate" | "startDate" | "colName"> = {
  "-last_touch_roi": "colRoi", "-first_touch_roi": "colFirstRoi", "-last_touch_revenue": "colRevenue", "-leads": "colLeads",
  "-conversions": "colConversions", "-open_rate": "openRate", "-start_date": "startDate", name: "colName",
};

export function roiText(roi: number | undefined | null, locale: string): string {
  return roi === undefined || roi === null ? "—" : formatRate(roi, locale);
}

function amount(money: Money | undefined, field: "actual_cost" | "last_touch_revenue", locale: "zh-CN" | "en"): string {
  return money ? formatMoney({ currency_code: money.currency_code, amount: money[field] }, locale) : "";
}

export default function Roi() {
  const t = useT(m);
  const { locale } = useLocale();
  const [range, setRange] = useState<[Dayjs | null, Dayjs | null] | null>(null);
  const [order, setOrder] = useState<Order>("-last_touch_roi");
  const [channels, setChannels] = useState<ChannelRow[]>([]);
  const from = range?.[0]?.format("YYYY-MM-DD");
  const to = range?.[1]?.format("YYYY-MM-DD");
  const key = JSON.stringify([from, to, order]);
  const latestKey = useRef(key);
  latestKey.current = key;
  const fetchPage = useCallback(async (pageToken: string) => {
    const table = await unwrap(api.GET("/api/v1/reports/campaigns", {
      params: { query: { from_day: from, to_day: to, order_by: order, page_size: 20, page_token: pageToken || undefined } },
    }));
    if (latestKey.current === key) setChannels(table.channels ?? []); // a late answer's totals are not shown
    return { items: table.campaigns ?? [], next_page_token: table.page?.next_page_token ?? "" };
  }, [key]); // key holds every parameter
  const pages = useCursorPages<RoiRow>(fetchPage, key);

  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (name: string, r: RoiRow) => <Link to={`/campaigns/${encodeURIComponent(r.campaign_id ?? "")}`}>{name || r.campaign_id}</Link> },
    { title: t("colChannel"), dataIndex: "channel", key: "channel" },
    { title: t("colStatus"), dataIndex: "status", key: "status", render: (v: string) => campaignStatus(t, v) },
    { title: t("sent"), key: "sent", render: (_: unknown, r: RoiRow) => formatNumber(r.email?.sent ?? 0, locale) },
    { title: t("openRate"), key: "open", render: (_: unknown, r: RoiRow) => formatRate(r.email?.open_rate, locale) },
    { title: t("clickRate"), key: "click", render: (_: unknown, r: RoiRow) => formatRate(r.email?.click_rate, locale) },
    { title: t("colLeads"), dataIndex: "leads", key: "leads", render: (v: number) => formatNumber(v ?? 0, locale) },
    { title: t("colConversions"), dataIndex: "conversions", key: "conv", render: (v: number) => formatNumber(v ?? 0, locale) },
    { title: t("colCost"), key: "cost", render: (_: unknown, r: RoiRow) => amount(r.money, "actual_cost", locale) },
    { title: t("colRevenue"), key: "rev", render: (_: unknown, r: RoiRow) => amount(r.money, "last_touch_revenue", locale) },
    { title: t("colRoi"), key: "roi", render: (_: unknown, r: RoiRow) => roiText(r.money?.last_touch_roi, locale) },
    { title: t("colFirstRoi"), key: "roi1", render: (_: unknown, r: RoiRow) => roiText(r.money?.first_touch_roi, locale) },
  ], [t, locale]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("roiTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <DatePicker.RangePicker aria-label={`${t("from")} – ${t("to")}`} value={range} onChange={(v) => setRange(v)} placeholder={[t("from"), t("to")]} />
        <Select aria-label={t("orderBy")} value={order} onChange={setOrder} style={{ width: 200 }}
          options={ORDERS.map((o) => ({ value: o, label: t(ORDER_LABEL[o]) }))} />
      </Flex>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <div tabIndex={0} role="region" aria-label={t("roiTitle")} style={{ overflowX: "auto" }}>
          <Table<RoiRow> rowKey="campaign_id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
          </div>
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
          {channels.length > 0 && <ChannelTable rows={channels} />}
        </>
      )}
    </>
  );
}

function ChannelTable({ rows }: { rows: ChannelRow[] }) {
  const t = useT(m);
  const { locale } = useLocale();
  // a channel has one money line per currency: one row each, never summed across currencies
  const flat = rows.flatMap((r) => (r.money?.length ? r.money : [undefined]).map((money, i) => ({ key: `${r.channel}|${i}`, r, money })));
  return (
    <>
      <Typography.Title level={2} style={{ fontSize: 18, marginTop: 24 }}>{t("byChannel")}</Typography.Title>
      <Table rowKey="key" size="small" pagination={false} dataSource={flat} columns={[
        { title: t("colChannel"), key: "channel", render: (_: unknown, x: (typeof flat)[number]) => x.r.channel },
        { title: t("colLeads"), key: "leads", render: (_: unknown, x: (typeof flat)[number]) => formatNumber(x.r.leads ?? 0, locale) },
        { title: t("colConversions"), key: "conv", render: (_: unknown, x: (typeof flat)[number]) => formatNumber(x.r.conversions ?? 0, locale) },
        { title: t("colCost"), key: "cost", render: (_: unknown, x: (typeof flat)[number]) => amount(x.money, "actual_cost", locale) },
        { title: t("colRevenue"), key: "rev", render: (_: unknown, x: (typeof flat)[number]) => amount(x.money, "last_touch_revenue", locale) },
        { title: t("colRoi"), key: "roi", render: (_: unknown, x: (typeof flat)[number]) => roiText(x.money?.last_touch_roi, locale) },
      ]} />
    </>
  );
}
