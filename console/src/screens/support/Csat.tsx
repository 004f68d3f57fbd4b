// CSAT results and the service figures beside them, for a period (the reporting service's
// support summary: what the caller may see of it): the average rating, the share of satisfied
// answers (rated 4 or 5), answers per day, SLA breaches, first-response and resolution times.
// Average and share are absent when nobody has answered: "—", never 0.
import { Card, Col, DatePicker, Flex, Row, Spin, Statistic, Table, Typography } from "antd";
import type { Dayjs } from "dayjs";
import { useCallback, useEffect, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatDate, formatNumber } from "../../i18n/format";
import { useLocale, useT, type Locale } from "../../i18n";
import { EMPTY_TEXT } from "../../components/tones";
import { m } from "./messages";

type Summary = Schema<"SupportSummary">;
type Day = Schema<"CsatDay">;

export function formatDuration(seconds: number | undefined, locale: Locale): string {
  if (!seconds) return "—";
  const unit = seconds >= 86_400 ? "day" : seconds >= 3_600 ? "hour" : "minute";
  const size = { day: 86_400, hour: 3_600, minute: 60 }[unit];
  return new Intl.NumberFormat(locale, { style: "unit", unit, unitDisplay: "long", maximumFractionDigits: 1 }).format(seconds / size);
}

export default function Csat() {
  const t = useT(m);
  const { locale } = useLocale();
  const [range, setRange] = useState<[Dayjs | null, Dayjs | null] | null>(null);
  const [summary, setSummary] = useState<Summary | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const from = range?.[0]?.format("YYYY-MM-DD");
  const to = range?.[1]?.format("YYYY-MM-DD");

  const load = useCallback(() => {
    setError(null);
    setSummary(null);
    unwrap(api.GET("/api/v1/reports/support", { params: { query: { from_day: from, to_day: to } } }))
      .then(setSummary)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [from, to]);
  useEffect(load, [load]);

  const avg = (n: number | undefined) => new Intl.NumberFormat(locale, { maximumFractionDigits: 2 }).format(n ?? 0);
  const share = (n: number | undefined) =>
    n === undefined ? "—" : new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(n);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("csatTitle")}</Typography.Title>
      <Flex gap="small" style={{ marginBottom: 16 }}>
        <DatePicker.RangePicker aria-label={`${t("from")} – ${t("to")}`} value={range} onChange={(v) => setRange(v)}
          placeholder={[t("from"), t("to")]} />
      </Flex>
      {error ? <LoadError error={error} retry={load} /> : !summary ? <Spin /> : (
        <>
          <Row gutter={[16, 16]} data-testid="csat-figures">
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("csatAverage")} value={summary.csat_average === undefined ? "—" : t("ofFive", { n: avg(summary.csat_average) })} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("csatSatisfied")} value={share(summary.csat_satisfied_share)} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("csatCount")} value={formatNumber(summary.csat_count ?? 0, locale)} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("tickets")} value={formatNumber(summary.total ?? 0, locale)} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("slaBreaches")} value={formatNumber(summary.sla_breaches ?? 0, locale)} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("avgFirstResponse")} value={formatDuration(summary.avg_first_response_seconds, locale)} /></Card></Col>
            <Col xs={12} md={8} lg={4}><Card><Statistic title={t("avgResolution")} value={formatDuration(summary.avg_resolution_seconds, locale)} /></Card></Col>
          </Row>
          <Typography.Title level={2} style={{ fontSize: 18, marginTop: 24 }}>{t("perDay")}</Typography.Title>
          <Table<Day>
            rowKey="day"
            size="small"
            pagination={false}
            dataSource={summary.csat_per_day ?? []}
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("csatEmpty")}</span> }}
            columns={[
              { title: t("colDay"), dataIndex: "day", key: "day", render: (v: string) => formatDate(v, locale, "UTC") },
              { title: t("colAnswers"), dataIndex: "count", key: "count", render: (v: number) => formatNumber(v, locale) },
              { title: t("colAverage"), dataIndex: "average", key: "average", render: (v: number) => avg(v) },
              { title: t("csatSatisfied"), key: "satisfied", render: (_: unknown, d: Day) => share(d.count ? (d.satisfied ?? 0) / d.count : undefined) },
            ]}
          />
        </>
      )}
    </>
  );
}
