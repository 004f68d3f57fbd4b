// A campaign's sends: each wave with its counts (sent, opened, clicked, unsubscribed, skipped),
// "start" for a ready one, and the form that freezes an audience and a template into a new wave
// (marketing keeps the recipients without consent, unsubscribed or suppressed, with the reason
// they are skipped). The audience size shown while choosing is the API's count per segment.
import { Button, Form, Input, Select, Space, Table, Tabs, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { formatRate, waveStatus } from "./labels";
import { a } from "./automationMessages";
import { m } from "./messages";
import { NewSmsWave } from "./SmsWave";
import { audienceUpperBound, useSegmentCounts } from "./useSegmentCounts";

type Campaign = Schema<"Campaign">;
type Wave = Schema<"SendWave">;
type Template = Schema<"Template">;
type Segment = Schema<"Segment">;

export function SendWaves({ campaign, onChange }: { campaign: Campaign; onChange: () => void }) {
  const t = useT(m);
  const ta = useT(a);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const campaignId = campaign.id ?? "";
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Wave>> =>
      unwrap(api.GET("/api/v1/send-waves", { params: { query: { campaign_id: campaignId, page_size: 10, page_token: pageToken || undefined } } })),
    [campaignId],
  );
  const pages = useCursorPages<Wave>(fetchPage, campaignId);

  async function start(wave: Wave) {
    setActionError(null);
    try {
      await unwrap(api.POST("/api/v1/send-waves/{id}/start", { params: { path: { id: wave.id ?? "" } } }));
      void toast.success(t("started"));
      pages.reload();
      onChange();
    } catch (err) {
      if (err instanceof ApiError) setActionError(err);
    }
  }

  const columns = useMemo(() => [
    { title: t("colCreated"), dataIndex: "created_at", key: "created", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colChannel"), dataIndex: "channel", key: "channel", render: (v: string) => (v === "sms" ? t("channel_sms") : !v || v === "email" ? t("channel_email") : v) },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "sending" ? TONE.blue : TONE.grey}>{waveStatus(t, v)}</Tag> },
    { title: t("sent"), key: "sent",
      render: (_: unknown, w: Wave) => formatNumber((w.channel === "sms" ? w.sms_counts?.sent : w.counts?.sent) ?? 0, locale) },
    { title: t("opened"), key: "opened",
      render: (_: unknown, w: Wave) => `${formatNumber(w.counts?.opened ?? 0, locale)} (${formatRate(w.counts?.open_rate, locale)})` },
    { title: t("clicked"), key: "clicked",
      render: (_: unknown, w: Wave) => `${formatNumber(w.counts?.clicked ?? 0, locale)} (${formatRate(w.counts?.click_rate, locale)})` },
    { title: t("unsubscribed"), key: "unsub", render: (_: unknown, w: Wave) => formatNumber(w.counts?.unsubscribed ?? 0, locale) },
    { title: t("skipped"), key: "skipped",
      render: (_: unknown, w: Wave) => formatNumber(skippedOf(w), locale) },
    { title: "", key: "act",
      render: (_: unknown, w: Wave) => (
        <Space size="small">
          {w.status === "ready" && <Button size="small" type="primary" onClick={() => void start(w)}>{t("start")}</Button>}
          <Link to={`/waves/${encodeURIComponent(w.id ?? "")}`}>{ta("results")}</Link>
        </Space>
      ) },
  ], [t, ta, locale]); // start() only reads the latest pages and toast

  return (
    <>
      {holder}
      {actionError && <Typography.Paragraph type="danger" role="alert">{actionError.problem.detail}</Typography.Paragraph>}
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        // a wide table scrolls inside a region the keyboard can reach
        <div data-testid="send-waves" tabIndex={0} role="region" aria-label={t("waves")} style={{ overflowX: "auto" }}>
          <Table<Wave> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("wavesEmpty")}</span> }} size="small" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </div>
      )}
      <Typography.Title level={3} style={{ fontSize: 16, marginTop: 24 }}>{t("sendTitle")}</Typography.Title>
      <Tabs items={[
        { key: "email", label: ta("emailTab"), children: <NewWave campaign={campaign} onCreated={() => { pages.reload(); onChange(); }} /> },
        { key: "sms", label: ta("smsTab"), children: <NewSmsWave campaign={campaign} onCreated={() => { pages.reload(); onChange(); }} /> },
      ]} />
    </>
  );
}

/** Skipped recipients over every reason (the API counts them per reason). */
export function skippedOf(w: Wave): number {
  const byReason = (w.channel === "sms" ? w.sms_counts?.skipped : w.counts?.skipped) ?? {};
  return Object.values(byReason).reduce<number>((sum, n) => sum + Number(n ?? 0), 0);
}

interface Values {
  template_id?: string;
  segment_ids?: string[];
  purpose?: string;
  sender?: string;
}

function NewWave({ campaign, onCreated }: { campaign: Campaign; onCreated: () => void }) {
  const t = useT(m);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [templates, setTemplates] = useState<Template[]>([]);
  const [segments, setSegments] = useState<Segment[]>([]);
  useEffect(() => {
    // the first page of each is what a picker can offer; more is the list screens' job
    unwrap(api.GET("/api/v1/email-templates", { params: { query: { page_size: 100 } } })).then((p) => setTemplates(p.items)).catch(() => setTemplates([]));
    unwrap(api.GET("/api/v1/segments", { params: { query: { page_size: 100 } } })).then((p) => setSegments(p.items)).catch(() => setSegments([]));
  }, []);
  const f = useApiForm<Values, Wave>({
    fields: ["template_id", "segment_ids", "purpose", "sender"],
    aliases: { "audience.segment_ids": "segment_ids", audience: "segment_ids" },
    strip: ["wave."],
    submit: (v) =>
      unwrap(api.POST("/api/v1/send-waves", {
        body: {
          campaign_id: campaign.id ?? "",
          template_id: v.template_id ?? "",
          audience: { segment_ids: v.segment_ids ?? [] },
          ...(v.purpose ? { purpose: v.purpose } : {}),
          ...(v.sender ? { sender: v.sender } : {}),
        },
      })),
    onSuccess: () => { void toast.success(t("prepared")); onCreated(); },
  });
  const chosen: string[] = Form.useWatch("segment_ids", f.form) ?? [];
  const counts = useSegmentCounts(chosen);
  const total = audienceUpperBound(chosen, counts);
  return (
    <Form form={f.form} layout="vertical" onFinish={f.onFinish}
      initialValues={{ segment_ids: campaign.audience?.segment_ids ?? [] }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="template_id" label={t("template")}>
        <Select showSearch optionFilterProp="label" options={templates.map((x) => ({ value: x.id ?? "", label: x.name ?? x.id }))} />
      </Form.Item>
      <Form.Item name="segment_ids" label={t("segments")}
        extra={total !== null && chosen.length > 0 ? <span data-testid="audience-size">{t("audienceTotal", { n: formatNumber(total, locale) })}</span> : undefined}>
        <Select mode="multiple" optionFilterProp="label" options={segments.map((s) => {
          const n = counts[s.id ?? ""];
          return { value: s.id ?? "", label: typeof n === "number" ? `${s.name} · ${t("members", { n: formatNumber(n, locale) })}` : s.name ?? s.id };
        })} />
      </Form.Item>
      <Space wrap>
        <Form.Item name="purpose" label={t("purpose")}><Input placeholder="marketing_email" style={{ width: 200 }} /></Form.Item>
        <Form.Item name="sender" label={t("sender")}><Input type="email" style={{ width: 260 }} /></Form.Item>
      </Space>
      <div><Button type="primary" htmlType="submit" loading={f.submitting}>{t("prepare")}</Button></div>
    </Form>
  );
}
