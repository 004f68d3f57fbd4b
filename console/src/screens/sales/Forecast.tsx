// My forecast: the open pipeline the API weights by stage, by forecast category (pipeline, best
// case, commit) and what is closed, for a quarter; one total per currency and the same split by
// month, team or owner. The figures are the API's; the console only formats them.
import { Card, Col, Flex, Row, Select, Statistic, Table, Typography } from "antd";
import { useEffect, useMemo, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { useLocale, useT } from "../../i18n";
import { formatMoney, formatNumber } from "../../i18n/format";
import { m } from "./messages";
import { quarter } from "./time";

type Row = Schema<"ForecastRow">;
type GroupBy = "month" | "owner" | "team";
const OFFSETS = [-1, 0, 1, 2] as const;

export default function Forecast() {
  const t = useT(m);
  const { locale } = useLocale();
  const quarters = useMemo(() => OFFSETS.map((o) => quarter(new Date(), o)), []);
  const [q, setQ] = useState(quarters[1]!.id);
  const [groupBy, setGroupBy] = useState<GroupBy>("month");
  const [totals, setTotals] = useState<Row[] | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  const period = quarters.find((x) => x.id === q) ?? quarters[1]!;

  useEffect(() => {
    let stale = false;
    setRows(null);
    setTotals(null);
    const base = { period_start: period.start, period_end: period.end };
    Promise.all([
      unwrap(api.GET("/api/v1/sales/forecast", { params: { query: base } })),
      unwrap(api.GET("/api/v1/sales/forecast", { params: { query: { ...base, group_by: groupBy } } })),
    ]).then(([total, split]) => {
      if (stale) return;
      setTotals(total.rows ?? []);
      setRows(split.rows ?? []);
      setError(null);
    }).catch((err: unknown) => { if (!stale) setError(err instanceof ApiError ? err : null); });
    return () => { stale = true; };
  }, [period.start, period.end, groupBy, tick]);

  const money = (v: Schema<"Money"> | undefined) => formatMoney(v, locale) || formatMoney({ ...v, amount: "0" }, locale);
  const columns = useMemo(() => [
    { title: t(`group_${groupBy}`), dataIndex: "key", key: "key", render: (k: string) => k || t("unowned") },
    { title: t("colCurrency"), dataIndex: "currency_code", key: "cur" },
    { title: t("colOpen"), dataIndex: "open_count", key: "open", align: "end" as const, render: (n: number) => formatNumber(n ?? 0, locale) },
    { title: t("fc_pipeline"), key: "pipeline", align: "end" as const, render: (_: unknown, r: Row) => money(r.pipeline) },
    { title: t("fc_best_case"), key: "best", align: "end" as const, render: (_: unknown, r: Row) => money(r.best_case) },
    { title: t("fc_commit"), key: "commit", align: "end" as const, render: (_: unknown, r: Row) => money(r.commit) },
    { title: t("fc_weighted"), key: "weighted", align: "end" as const, render: (_: unknown, r: Row) => money(r.weighted) },
    { title: t("fc_closed"), key: "closed", align: "end" as const, render: (_: unknown, r: Row) => money(r.closed) },
  ], [t, locale, groupBy]);

  return (
    <>
      <Flex justify="space-between" align="center" wrap gap="small">
        <Typography.Title level={1} style={{ fontSize: 22 }}>{t("forecastTitle")}</Typography.Title>
        <Flex gap="small">
          <Select aria-label={t("quarter")} value={q} onChange={setQ} style={{ width: 130 }}
            options={quarters.map((x) => ({ value: x.id, label: x.id }))} />
          <Select<GroupBy> aria-label={t("groupBy")} value={groupBy} onChange={setGroupBy} style={{ width: 150 }}
            options={(["month", "team", "owner"] as const).map((g) => ({ value: g, label: t(`group_${g}`) }))} />
        </Flex>
      </Flex>
      <Typography.Paragraph type="secondary">{t("forecastHint", { start: period.start, end: period.end })}</Typography.Paragraph>
      {error ? <LoadError error={error} retry={() => setTick((n) => n + 1)} /> : (
        <>
          <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
            {(totals ?? []).map((r) => (
              <Col key={r.currency_code} xs={24}>
                <Card size="small" title={<h2 className="card-title">{t("forecastTotal", { currency: r.currency_code ?? "" })}</h2>}>
                  <Flex wrap gap={32}>
                    <Statistic title={t("fc_weighted")} value={money(r.weighted)} />
                    <Statistic title={t("fc_commit")} value={money(r.commit)} />
                    <Statistic title={t("fc_best_case")} value={money(r.best_case)} />
                    <Statistic title={t("fc_pipeline")} value={money(r.pipeline)} />
                    <Statistic title={t("fc_closed")} value={money(r.closed)} />
                    <Statistic title={t("colOpen")} value={formatNumber(r.open_count ?? 0, locale)} />
                  </Flex>
                </Card>
              </Col>
            ))}
          </Row>
          <Table<Row> rowKey={(r) => `${r.key}|${r.currency_code}`} columns={columns} dataSource={rows ?? []} loading={rows === null}
            pagination={false} size="middle" locale={{ emptyText: t("forecastEmpty") }} />
        </>
      )}
    </>
  );
}
