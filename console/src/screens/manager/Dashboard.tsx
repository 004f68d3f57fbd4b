// One dashboard as the caller sees it: every widget's figure over the records the API lets them
// see, coloured green / amber / red by the widget's thresholds (the API's word), with the limits
// stated; the figure and each row lead to the records behind them.
import { Button, Card, Col, Empty, Row, Space, Spin, Statistic, Tag, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { figureUnit, formatMeasure } from "./cells";
import { widgetRecordsPath } from "./drill";
import { m } from "./messages";
import { ResultTable } from "./ResultTable";
import { STATUS_TAG, thresholdLimits, widgetStatus } from "./thresholds";

type View = Schema<"DashboardView">;
type WidgetView = Schema<"WidgetView">;
type Widget = Schema<"Widget">;

export default function Dashboard() {
  const { id = "" } = useParams();
  const t = useT(m);
  const { locale } = useLocale();
  const [view, setView] = useState<View | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const load = useCallback(() => {
    setError(null);
    setLoading(true);
    unwrap(api.GET("/api/v1/reports/dashboards/{id}/view", { params: { path: { id } } }))
      .then(setView)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null))
      .finally(() => setLoading(false));
  }, [id]);
  useEffect(load, [load]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!view) return <Spin />;
  const definitions = new Map((view.dashboard?.widgets ?? []).map((w) => [w.id ?? "", w]));
  return (
    <>
      <div><Link to="/dashboards">← {t("allDashboards")}</Link></div>
      <Space align="baseline" style={{ width: "100%", justifyContent: "space-between", marginTop: 8 }}>
        <Typography.Title level={1} style={{ fontSize: 22 }}>{view.dashboard?.name}</Typography.Title>
        <Space>
          <Typography.Text type="secondary">{t("asOf", { n: formatNumber(view.events_applied ?? 0, locale) })}</Typography.Text>
          <Button onClick={load} loading={loading}>{t("refresh")}</Button>
        </Space>
      </Space>
      {(view.widgets ?? []).length === 0 ? <Empty /> : (
        <Row gutter={[16, 16]}>
          {(view.widgets ?? []).map((w) => (
            <Col key={w.widget_id} xs={24} md={w.kind === "figure" ? 12 : 24} xl={w.kind === "figure" ? 8 : 12}>
              <WidgetCard dashboardId={id} view={w} widget={definitions.get(w.widget_id ?? "")} />
            </Col>
          ))}
        </Row>
      )}
    </>
  );
}

export function WidgetCard({ dashboardId, view, widget }: { dashboardId: string; view: WidgetView; widget?: Widget }) {
  const t = useT(m);
  const { locale } = useLocale();
  const status = widgetStatus(view.status, view.figure, widget?.thresholds);
  const unit = figureUnit(view.result?.columns);
  const figure = typeof view.figure === "number" ? formatMeasure(view.figure, unit, locale) : "—";
  const limits = thresholdLimits(widget?.thresholds, (n) => formatMeasure(n, unit, locale));
  const title = view.title || view.widget_id || "";
  const canDrill = Boolean(view.widget_id) && typeof view.figure === "number";
  return (
    <Card
      title={<h2 className="card-title">{title}</h2>}
      extra={status ? <Tag color={STATUS_TAG[status]} data-testid="widget-status">{t(`status_${status}`)}</Tag> : undefined}
      data-testid={`widget-${view.widget_id}`}
    >
      <Statistic
        value={figure}
        valueRender={() => (canDrill ? (
          <Link to={widgetRecordsPath(dashboardId, view.widget_id ?? "", title)}
                aria-label={t("drillFigure", { figure: `${title} ${figure}` })} data-testid="widget-figure">
            {figure}
          </Link>
        ) : figure)}
      />
      <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: view.kind === "figure" ? 0 : 12 }}>
        {limits.green || limits.amber
          ? [limits.green && t("greenAt", { limit: limits.green }), limits.amber && t("amberAt", { limit: limits.amber })]
            .filter(Boolean).join(" · ")
          : t("noThresholds")}
      </Typography.Paragraph>
      {view.kind !== "figure" && (
        <ResultTable
          result={view.result}
          drillTo={(row) => widgetRecordsPath(dashboardId, view.widget_id ?? "",
            `${title} · ${(row.keys ?? []).filter(Boolean).join(" · ")}`, row.keys ?? [])}
        />
      )}
    </Card>
  );
}
