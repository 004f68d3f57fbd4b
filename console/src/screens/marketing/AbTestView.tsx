// One A/B test: its variants with their counts and rate on the test's metric, the verdict as the
// API decided it (the winner, whether the difference is significant, z and p, its reasoning), the
// sizes of the test and of the rest, the winner's send to the rest; start (mails the variants) or
// cancel (what was not mailed stays unmailed). A test the caller may not see is the API's 404.
import { Alert, Button, Card, Col, Descriptions, Row, Space, Spin, Statistic, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { TONE } from "../../components/tones";
import { LoadError } from "../../components/StatusPage";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { AB_METRICS, formatP, ifMatch, known, variantRate, verdictOf } from "./automation";
import { a } from "./automationMessages";
import { AB_TONE, useAbStatus } from "./AbTests";
import { formatRate } from "./labels";
import { nameOf, useChoices } from "./useChoices";

type AbTest = Schema<"AbTest">;
type Variant = Schema<"AbVariant">;

export default function AbTestView() {
  const { id = "" } = useParams();
  const t = useT(a);
  const { locale } = useLocale();
  const abStatus = useAbStatus();
  const templates = useChoices("templates");
  const [test, setTest] = useState<AbTest | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [toast, holder] = message.useMessage();

  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/ab-tests/{id}", { params: { path: { id } } }))
      .then(setTest)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);

  async function act(what: "start" | "cancel") {
    setActionError(null);
    try {
      const path = what === "start" ? "/api/v1/ab-tests/{id}/start" : "/api/v1/ab-tests/{id}/cancel";
      setTest(await unwrap(api.POST(path, { params: { path: { id }, header: ifMatch(test?.version) } })));
      void toast.success(t(what === "start" ? "abStarted" : "abCancelled"));
    } catch (err) {
      if (err instanceof ApiError) setActionError(err);
    }
  }

  const metric = test?.metric;
  const winner = test?.winner;
  const columns = useMemo(() => [
    { title: t("colVariant"), dataIndex: "name", key: "name",
      render: (v: string) => <>{v}{v === winner && <Tag style={{ ...TONE.green, marginInlineStart: 8 }}>{t("winnerTag")}</Tag>}</> },
    { title: t("colSubject"), dataIndex: "subject", key: "subject" },
    { title: t("template"), dataIndex: "template_id", key: "template", render: (v: string) => nameOf(templates, v) },
    { title: t("sent"), key: "sent", render: (_: unknown, v: Variant) => formatNumber(v.counts?.sent ?? 0, locale) },
    { title: t("opened"), key: "opened", render: (_: unknown, v: Variant) => formatNumber(v.counts?.opened ?? 0, locale) },
    { title: t("clicked"), key: "clicked", render: (_: unknown, v: Variant) => formatNumber(v.counts?.clicked ?? 0, locale) },
    { title: t("colRate"), key: "rate", render: (_: unknown, v: Variant) => <strong>{formatRate(variantRate(v, metric), locale)}</strong> },
    { title: "", key: "wave",
      render: (_: unknown, v: Variant) => (v.wave_id ? <Link to={`/waves/${encodeURIComponent(v.wave_id)}`}>{t("results")}</Link> : null) },
  ], [t, locale, templates, metric, winner]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!test) return <Spin />;
  const verdict = verdictOf(test);
  const z = typeof test.z === "number" ? test.z.toLocaleString(locale, { maximumFractionDigits: 2 }) : "";
  const p = formatP(test.p_value, locale);
  const verdictText = verdict.kind === "winner" ? t("verdictWinner", { winner: verdict.winner, p, z })
    : verdict.kind === "fallback" ? t("verdictFallback", { winner: verdict.winner, p })
      : verdict.kind === "cancelled" ? t("verdictCancelled")
        : [t("verdictPending"), test.decide_at ? t("verdictDecideAt", { at: formatDateTime(test.decide_at, locale) }) : ""].filter(Boolean).join(" ");
  const canStart = test.status === "ready";
  const canCancel = test.status === "ready" || test.status === "testing" || test.status === "sending_winner";
  return (
    <>
      {holder}
      <Link to={`/campaigns/${encodeURIComponent(test.campaign_id ?? "")}`}>← {t("backToCampaign")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {t("abTitle")}: {test.name || test.id}{" "}
        <Tag style={AB_TONE[test.status ?? ""] ?? TONE.grey} data-testid="ab-status">{abStatus(test.status)}</Tag>
      </Typography.Title>
      <Space wrap style={{ marginBottom: 16 }}>
        {canStart && <Button type="primary" onClick={() => void act("start")}>{t("abStart")}</Button>}
        {canCancel && <Button onClick={() => void act("cancel")}>{t("abCancel")}</Button>}
      </Space>
      {actionError && <Alert type="error" showIcon role="alert" style={{ marginBottom: 16 }} title={actionError.problem.detail} />}
      <Card title={<h2 className="card-title">{t("verdict")}</h2>}>
        <Typography.Paragraph strong data-testid="ab-verdict" style={{ fontSize: 16 }}>{verdictText}</Typography.Paragraph>
        {test.decision && (
          <Descriptions column={1} size="small">
            <Descriptions.Item label={t("decisionWhy")}>{test.decision}</Descriptions.Item>
          </Descriptions>
        )}
        <Row gutter={[16, 16]} style={{ marginTop: 8 }}>
          <Col xs={12} md={6}><Statistic title={t("colMetric")} value={known(AB_METRICS, metric) ? t(`metric_${metric}`) : metric ?? ""} /></Col>
          <Col xs={12} md={6}><Statistic title={t("significance")} value={(test.significance ?? 0).toLocaleString(locale)} /></Col>
          <Col xs={12} md={6}><Statistic title={t("testSize")} value={formatNumber(test.test_size ?? 0, locale)} /></Col>
          <Col xs={12} md={6}><Statistic title={t("restSize")} value={formatNumber(test.rest_size ?? 0, locale)} /></Col>
        </Row>
      </Card>
      <Card title={<h2 className="card-title">{t("variants")}</h2>} style={{ marginTop: 24 }}>
        <div tabIndex={0} role="region" aria-label={t("variants")} style={{ overflowX: "auto" }} data-testid="ab-variants">
          <Table<Variant> rowKey="name" columns={columns} dataSource={test.variants ?? []} pagination={false} size="small" />
        </div>
        <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>
          {t("shareEach", { share: ((test.test_percent ?? 20) / Math.max(1, (test.variants ?? []).length)).toLocaleString(locale, { maximumFractionDigits: 1 }) })}
        </Typography.Paragraph>
      </Card>
      {test.winner_counts && (test.winner_counts.recipients ?? 0) > 0 && (
        <Card title={<h2 className="card-title">{t("winnerSend")}</h2>} style={{ marginTop: 24 }}>
          <Row gutter={[16, 16]}>
            <Col xs={12} md={6}><Statistic title={t("sent")} value={formatNumber(test.winner_counts.sent ?? 0, locale)} /></Col>
            <Col xs={12} md={6}><Statistic title={t("opened")} value={formatNumber(test.winner_counts.opened ?? 0, locale)} /></Col>
            <Col xs={12} md={6}><Statistic title={t("clicked")} value={formatNumber(test.winner_counts.clicked ?? 0, locale)} /></Col>
            <Col xs={12} md={6}><Statistic title={t("unsubscribed")} value={formatNumber(test.winner_counts.unsubscribed ?? 0, locale)} /></Col>
          </Row>
          {test.winner_wave_id && <Link to={`/waves/${encodeURIComponent(test.winner_wave_id)}`}>{t("results")}</Link>}
        </Card>
      )}
    </>
  );
}
