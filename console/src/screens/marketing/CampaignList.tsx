// Campaigns the caller may see, filtered by status and type, a cursor page at a time, and the form
// to start a new one (a draft owned by the caller; the API's errors beside their fields).
import { Button, Card, DatePicker, Flex, Form, Input, InputNumber, Select, Table, Tag, Typography, message } from "antd";
import type { Dayjs } from "dayjs";
import { useCallback, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDate, formatMoney } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { CAMPAIGN_STATUSES, CAMPAIGN_TYPES, campaignStatus, campaignType } from "./labels";
import { m } from "./messages";

type Campaign = Schema<"Campaign">;
type Status = (typeof CAMPAIGN_STATUSES)[number];
type Kind = (typeof CAMPAIGN_TYPES)[number];

const PAGE_SIZE = 20;

export default function CampaignList() {
  const t = useT(m);
  const { locale } = useLocale();
  const [status, setStatus] = useState<Status>();
  const [type, setType] = useState<Kind>();
  const key = JSON.stringify([status, type]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Campaign>> =>
      unwrap(api.GET("/api/v1/campaigns", {
        params: { query: { status, type, page_size: PAGE_SIZE, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Campaign>(fetchPage, key);

  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (name: string, c: Campaign) => <Link to={`/campaigns/${encodeURIComponent(c.id ?? "")}`}>{name || c.id}</Link> },
    { title: t("colType"), dataIndex: "type", key: "type", render: (v: string) => campaignType(t, v) },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "active" ? TONE.green : TONE.grey}>{campaignStatus(t, v)}</Tag> },
    { title: t("colDates"), key: "dates",
      render: (_: unknown, c: Campaign) => [formatDate(c.start_date, locale, "UTC"), formatDate(c.end_date, locale, "UTC")].filter(Boolean).join(" – ") },
    { title: t("colBudget"), dataIndex: "budget", key: "budget", render: (v: Campaign["budget"]) => formatMoney(v, locale) },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDate(v, locale) },
  ], [t, locale]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("campaignsTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Select aria-label={t("filterStatus")} placeholder={t("filterStatus")} allowClear style={{ width: 150 }}
          value={status} onChange={setStatus} options={CAMPAIGN_STATUSES.map((v) => ({ value: v, label: campaignStatus(t, v) }))} />
        <Select aria-label={t("filterType")} placeholder={t("filterType")} allowClear style={{ width: 150 }}
          value={type} onChange={setType} options={CAMPAIGN_TYPES.map((v) => ({ value: v, label: campaignType(t, v) }))} />
      </Flex>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Campaign> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
      <Card title={<h2 className="card-title">{t("newCampaign")}</h2>} style={{ marginTop: 24, maxWidth: 640 }}>
        <NewCampaign />
      </Card>
    </>
  );
}

interface Values {
  name?: string;
  type?: Kind;
  budget?: string | number;
  start_date?: Dayjs;
  end_date?: Dayjs;
}

function NewCampaign() {
  const t = useT(m);
  const navigate = useNavigate();
  const [toast, holder] = message.useMessage();
  const f = useApiForm<Values, Campaign>({
    fields: ["name", "type", "budget", "start_date", "end_date"],
    aliases: { "budget.amount": "budget", "budget.currency_code": "budget" },
    strip: ["campaign."],
    submit: (v) =>
      unwrap(api.POST("/api/v1/campaigns", {
        body: {
          name: v.name ?? "",
          type: v.type as Kind, // none chosen: the API refuses it, naming the field
          // the amount as typed, a decimal string: money never goes through a float
          ...(v.budget !== undefined && v.budget !== null ? { budget: { currency_code: "CNY", amount: String(v.budget) } } : {}),
          ...(v.start_date ? { start_date: v.start_date.format("YYYY-MM-DD") } : {}),
          ...(v.end_date ? { end_date: v.end_date.format("YYYY-MM-DD") } : {}),
        },
      })),
    onSuccess: (c) => {
      void toast.success(t("created"));
      navigate(`/campaigns/${encodeURIComponent(c.id ?? "")}`);
    },
  });
  return (
    <Form form={f.form} layout="vertical" onFinish={f.onFinish}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="name" label={t("name")}><Input maxLength={300} /></Form.Item>
      <Form.Item name="type" label={t("type")}>
        <Select options={CAMPAIGN_TYPES.map((v) => ({ value: v, label: campaignType(t, v) }))} />
      </Form.Item>
      <Form.Item name="budget" label={t("budget")}><InputNumber min={0} stringMode style={{ width: 200 }} /></Form.Item>
      <Flex gap="middle">
        <Form.Item name="start_date" label={t("startDate")}><DatePicker /></Form.Item>
        <Form.Item name="end_date" label={t("endDate")}><DatePicker /></Form.Item>
      </Flex>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button>
    </Form>
  );
}
