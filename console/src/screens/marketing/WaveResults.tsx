// One send wave's results, email or SMS: its figures as the API counts them (sent, delivered,
// failed, opted out or opened / clicked / unsubscribed, skipped by reason), start or stop, and the
// frozen recipient list a cursor page at a time, filtered by status. A wave the caller may not see
// is the API's 404.
import { Button, Card, Col, Descriptions, Row, Select, Space, Spin, Statistic, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { RECIPIENT_STATUSES, known } from "./automation";
import { a } from "./automationMessages";
import { formatRate, waveStatus } from "./labels";
import { m } from "./messages";

type Wave = Schema<"SendWave">;
type Recipient = Schema<"Recipient">;
type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];
const SKIPS = ["no_consent", "unsubscribed", "suppressed", "no_email", "duplicate_email", "unknown_contact",
  "render_failed", "cancelled", "no_phone", "duplicate_phone"] as const;

export function useSkipLabel() {
  const t = useT(a);
  return useCallback((reason: string | undefined) => (known(SKIPS, reason) ? t(`skip_${reason}`) : reason ?? ""), [t]);
}

export default function WaveResults() {
  const { id = "" } = useParams();
  const t = useT(a);
  const tm = useT(m);
  const { locale } = useLocale();
  const skipLabel = useSkipLabel();
  const [wave, setWave] = useState<Wave | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [status, setStatus] = useState<RecipientStatus>();
  const [toast, holder] = message.useMessage();

  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/send-waves/{id}", { params: { path: { id } } }))
      .then(setWave)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);

  const key = JSON.stringify([id, status]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Recipient>> =>
      unwrap(api.GET("/api/v1/send-waves/{id}/recipients", {
        params: { path: { id }, query: { status, page_size: 20, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Recipient>(fetchPage, key);

  async function act(what: "start" | "cancel") {
    setActionError(null);
    try {
      const path = what === "start" ? "/api/v1/send-waves/{id}/start" : "/api/v1/send-waves/{id}/cancel";
      await unwrap(api.POST(path, { params: { path: { id } } }));
      void toast.success(t(what === "start" ? "started" : "stopped"));
      load();
      pages.reload();
    } catch (err) {
      if (err instanceof ApiError) setActionError(err);
    }
  }

  const sms = wave?.channel === "sms";
  const columns = useMemo(() => [
    { title: t("colContact"), dataIndex: "contact_id", key: "contact",
      render: (v: string) => <Link to={`/customers/${encodeURIComponent(v)}`} style={{ wordBreak: "break-all" }}>{v}</Link> },
    sms ? { title: t("colPhone"), dataIndex: "phone", key: "phone" } : { title: t("colEmail"), dataIndex: "email", key: "email" },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "failed" ? TONE.red : v === "sent" ? TONE.green : TONE.grey}>{known(RECIPIENT_STATUSES, v) ? t(`recipientStatus_${v}`) : v}</Tag> },
    { title: t("colSkipReason"), dataIndex: "skip_reason", key: "skip", render: (v: string) => skipLabel(v) },
    { title: t("colSentAt"), dataIndex: "sent_at", key: "sent", render: (v: string) => formatDateTime(v, locale) },
    sms ? { title: t("colDeliveredAt"), dataIndex: "delivered_at", key: "delivered", render: (v: string) => formatDateTime(v, locale) }
      : { title: t("colOpens"), dataIndex: "open_count", key: "opens", render: (v: number) => formatNumber(v ?? 0, locale) },
    ...(sms ? [] : [{ title: t("colClicks"), dataIndex: "click_count", key: "clicks", render: (v: number) => formatNumber(v ?? 0, locale) }]),
    { title: t("colError"), dataIndex: "error", key: "error" },
  ], [t, locale, sms, skipLabel]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!wave) return <Spin />;
  const counts = sms ? wave.sms_counts ?? {} : wave.counts ?? {};
  const n = (v: number | undefined) => formatNumber(v ?? 0, locale);
  const figures: [string, string][] = sms ? [
    [t("recipients"), n(wave.sms_counts?.recipients)], [t("pending"), n(wave.sms_counts?.pending)],
    [t("sent"), n(wave.sms_counts?.sent)], [t("delivered"), n(wave.sms_counts?.delivered)],
    [t("failed"), n(wave.sms_counts?.failed)], [t("optedOut"), n(wave.sms_counts?.opted_out)],
  ] : [
    [t("recipients"), n(wave.counts?.recipients)], [t("sent"), n(wave.counts?.sent)],
    [t("failed"), n(wave.counts?.failed)],
    [t("opened"), `${n(wave.counts?.opened)} (${formatRate(wave.counts?.open_rate, locale)})`],
    [t("clicked"), `${n(wave.counts?.clicked)} (${formatRate(wave.counts?.click_rate, locale)})`],
    [t("unsubscribed"), n(wave.counts?.unsubscribed)],
  ];
  const skipped = Object.entries(counts.skipped ?? {}).filter(([, v]) => Number(v) > 0);
  return (
    <>
      {holder}
      <Link to={`/campaigns/${encodeURIComponent(wave.campaign_id ?? "")}`}>← {t("backToCampaign")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {t(sms ? "waveSms" : "waveEmail")} · {formatDateTime(wave.created_at, locale)}{" "}
        <Tag style={wave.status === "sending" ? TONE.blue : TONE.grey} data-testid="wave-status">{waveStatus(tm, wave.status)}</Tag>
      </Typography.Title>
      <Space wrap style={{ marginBottom: 16 }}>
        {wave.status === "ready" && <Button type="primary" onClick={() => void act("start")}>{t("startWave")}</Button>}
        {(wave.status === "ready" || wave.status === "sending") && <Button onClick={() => void act("cancel")}>{t("stopWave")}</Button>}
      </Space>
      {actionError && <Typography.Paragraph type="danger" role="alert">{actionError.problem.detail}</Typography.Paragraph>}
      <Row gutter={[24, 24]}>
        <Col xs={24} lg={14}>
          <Card title={<h2 className="card-title">{t("waveFigures")}</h2>}>
            <Row gutter={[16, 16]} data-testid="wave-figures">
              {figures.map(([title, value]) => <Col key={title} xs={12} md={8}><Statistic title={title} value={value} /></Col>)}
            </Row>
            {wave.sms && (
              <Descriptions column={1} size="small" style={{ marginTop: 16 }}>
                <Descriptions.Item label={t("smsTemplateCode")}>{wave.sms.template_code}</Descriptions.Item>
                {wave.sms.sign_name && <Descriptions.Item label={t("smsSignName")}>{wave.sms.sign_name}</Descriptions.Item>}
                {Object.entries(wave.sms.params ?? {}).map(([k, v]) => <Descriptions.Item key={k} label={k}><code>{v}</code></Descriptions.Item>)}
              </Descriptions>
            )}
          </Card>
        </Col>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-title">{t("skippedBy")}</h2>}>
            {skipped.length === 0 ? <Typography.Text type="secondary">{t("noneSkipped")}</Typography.Text> : (
              <Descriptions column={1} size="small" data-testid="wave-skipped">
                {skipped.map(([reason, v]) => <Descriptions.Item key={reason} label={skipLabel(reason)}>{n(Number(v))}</Descriptions.Item>)}
              </Descriptions>
            )}
          </Card>
        </Col>
      </Row>
      <Card title={<h2 className="card-title">{t("recipients")}</h2>} style={{ marginTop: 24 }}>
        <Select aria-label={t("status")} placeholder={t("anyStatus")} allowClear style={{ width: 160, marginBottom: 12 }}
          value={status} onChange={setStatus} options={RECIPIENT_STATUSES.map((v) => ({ value: v, label: t(`recipientStatus_${v}`) }))} />
        {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
          <div tabIndex={0} role="region" aria-label={t("recipients")} style={{ overflowX: "auto" }}>
            <Table<Recipient> rowKey="contact_id" columns={columns} dataSource={pages.items} loading={pages.loading}
              pagination={false} size="small" locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} />
            <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
          </div>
        )}
      </Card>
    </>
  );
}
