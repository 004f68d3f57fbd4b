// One campaign: its details and the status moves marketing allows, the audience with each
// segment's size (the API's count), the results over every send (sent, opened, clicked,
// unsubscribed), its send waves (each with its results), the forms to send an email or an SMS wave,
// its A/B tests, and its invitees with the door's check-in. A campaign the caller may not see is
// the API's 404.
import { Alert, Button, Card, Col, Descriptions, Row, Space, Spin, Statistic, Tabs, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { TONE } from "../../components/tones";
import { formatDate, formatMoney, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { NEXT_STATUS, campaignStatus, campaignType, formatRate, type T } from "./labels";
import { m } from "./messages";
import { SendWaves } from "./SendWaves";
import { AbTests } from "./AbTests";
import { a } from "./automationMessages";
import { Invitees } from "./Invitees";
import { audienceUpperBound, useSegmentCounts } from "./useSegmentCounts";

type Campaign = Schema<"Campaign">;
type Results = Schema<"CampaignResults">;

export default function CampaignView() {
  const { id = "" } = useParams();
  const t = useT(m);
  const ta = useT(a);
  const { locale } = useLocale();
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [results, setResults] = useState<Results | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [moveError, setMoveError] = useState<ApiError | null>(null);
  const [toast, holder] = message.useMessage();

  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/campaigns/{id}", { params: { path: { id } } }))
      .then(setCampaign)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  const loadResults = useCallback(() => {
    unwrap(api.GET("/api/v1/campaigns/{id}/results", { params: { path: { id } } }))
      .then(setResults)
      .catch(() => setResults(null));
  }, [id]);
  useEffect(load, [load]);
  useEffect(loadResults, [loadResults]);

  async function move(status: string) {
    setMoveError(null);
    try {
      setCampaign(await unwrap(api.POST("/api/v1/campaigns/{id}/status", { params: { path: { id } }, body: { status } })));
      void toast.success(t("moved"));
    } catch (err) {
      if (err instanceof ApiError) setMoveError(err);
    }
  }

  if (error) return <LoadError error={error} retry={load} />;
  if (!campaign) return <Spin />;
  const moves = NEXT_STATUS[campaign.status ?? ""] ?? [];
  return (
    <>
      {holder}
      <Link to="/campaigns">← {t("back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {campaign.name} <Tag style={campaign.status === "active" ? TONE.green : TONE.grey} data-testid="campaign-status">{campaignStatus(t, campaign.status)}</Tag>
      </Typography.Title>
      {moves.length > 0 && (
        <Space wrap style={{ marginBottom: 16 }}>
          {moves.map((s) => <Button key={s} onClick={() => void move(s)}>{t("moveTo", { status: campaignStatus(t, s) })}</Button>)}
        </Space>
      )}
      {moveError && <Alert type="error" showIcon role="alert" style={{ marginBottom: 16 }} title={moveError.problem.detail} />}
      <Row gutter={[24, 24]}>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-title">{t("details")}</h2>}>
            <Descriptions column={1} size="small">
              <Descriptions.Item label={t("colType")}>{campaignType(t, campaign.type)}</Descriptions.Item>
              <Descriptions.Item label={t("colDates")}>
                {[formatDate(campaign.start_date, locale, "UTC"), formatDate(campaign.end_date, locale, "UTC")].filter(Boolean).join(" – ")}
              </Descriptions.Item>
              <Descriptions.Item label={t("colBudget")}>{formatMoney(campaign.budget, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("actualCost")}>{formatMoney(campaign.actual_cost, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("owner")}>{campaign.owner_id}</Descriptions.Item>
            </Descriptions>
            {campaign.description && <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{campaign.description}</Typography.Paragraph>}
          </Card>
          <Card title={<h2 className="card-title">{t("audience")}</h2>} style={{ marginTop: 24 }}>
            <Audience campaign={campaign} t={t} />
          </Card>
        </Col>
        <Col xs={24} lg={14}>
          <Card title={<h2 className="card-title">{t("results")}</h2>}>
            {results ? <ResultFigures results={results} t={t} /> : <Spin />}
          </Card>
          <Card title={<h2 className="card-title">{t("waves")}</h2>} style={{ marginTop: 24 }}>
            <SendWaves campaign={campaign} onChange={loadResults} />
          </Card>
        </Col>
      </Row>
      {/* A/B tests and the guest list: each tab's list loads when it is opened */}
      <Card style={{ marginTop: 24 }} data-testid="campaign-tabs">
        <Tabs items={[
          { key: "ab", label: ta("abTab"), children: <AbTests campaign={campaign} /> },
          { key: "invitees", label: ta("inviteesTab"), children: <Invitees campaign={campaign} /> },
        ]} />
      </Card>
    </>
  );
}

function Audience({ campaign, t }: { campaign: Campaign; t: T }) {
  const { locale } = useLocale();
  const ids = campaign.audience?.segment_ids ?? [];
  const counts = useSegmentCounts(ids);
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    for (const id of ids) {
      unwrap(api.GET("/api/v1/segments/{id}", { params: { path: { id } } }))
        .then((s) => setNames((n) => ({ ...n, [id]: s.name ?? id })))
        .catch(() => undefined); // the id stands in for a segment the caller may not read
    }
  }, [ids.join(",")]); // asked again only when the segments change
  const tags = campaign.audience?.tags ?? [];
  if (ids.length === 0 && tags.length === 0) return <Typography.Text type="secondary">{t("audienceNone")}</Typography.Text>;
  const total = audienceUpperBound(ids, counts);
  return (
    <>
      <Descriptions column={1} size="small">
        {ids.map((id) => (
          <Descriptions.Item key={id} label={names[id] ?? id}>
            <span data-testid={`segment-count-${id}`}>
              {counts[id] === undefined ? <Spin size="small" /> : counts[id] === "error" ? "—" : t("members", { n: formatNumber(counts[id], locale) })}
            </span>
          </Descriptions.Item>
        ))}
        {tags.length > 0 && <Descriptions.Item label={t("audienceTags")}>{tags.map((x) => <Tag key={x}>{x}</Tag>)}</Descriptions.Item>}
      </Descriptions>
      {total !== null && ids.length > 1 && <Typography.Text type="secondary">{t("audienceTotal", { n: formatNumber(total, locale) })}</Typography.Text>}
    </>
  );
}

function ResultFigures({ results, t }: { results: Results; t: T }) {
  const { locale } = useLocale();
  const e = results.email ?? {};
  const figures: [string, string][] = [
    [t("recipients"), formatNumber(e.recipients ?? 0, locale)],
    [t("sent"), formatNumber(e.sent ?? 0, locale)],
    [t("opened"), formatNumber(e.opened ?? 0, locale)],
    [t("clicked"), formatNumber(e.clicked ?? 0, locale)],
    [t("unsubscribed"), formatNumber(e.unsubscribed ?? 0, locale)],
    [t("failed"), formatNumber(e.failed ?? 0, locale)],
    [t("openRate"), formatRate(e.open_rate, locale)],
    [t("clickRate"), formatRate(e.click_rate, locale)],
  ];
  const sms = results.sms;
  // SMS sends count apart (their own provider and receipts): shown once a campaign has any
  const smsFigures: [string, string][] = sms?.recipients ? [
    [t("smsSent"), formatNumber(sms.sent ?? 0, locale)],
    [t("smsDelivered"), formatNumber(sms.delivered ?? 0, locale)],
    [t("smsFailed"), formatNumber(sms.failed ?? 0, locale)],
    [t("smsOptedOut"), formatNumber(sms.opted_out ?? 0, locale)],
  ] : [];
  return (
    <Row gutter={[16, 16]} data-testid="campaign-results">
      {[...figures, ...smsFigures].map(([title, value]) => (
        <Col key={title} xs={12} md={6}><Statistic title={title} value={value} /></Col>
      ))}
    </Row>
  );
}
