// A new dashboard: a name, who sees it, and its widgets — each one measure of a catalogue source,
// optionally by one dimension, with green / amber limits (higher or lower is better). The
// catalogue offers only what reporting can count; its refusals sit beside the widget's field.
import { Button, Card, Checkbox, Form, Input, InputNumber, Radio, Select, Space, Spin, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { columnLabel } from "./columnLabels";
import { m } from "./messages";

type Catalogue = Schema<"Catalogue">;
type Dashboard = Schema<"Dashboard">;
type DashboardInput = Schema<"DashboardInput">;
const KINDS = ["figure", "funnel", "table", "series"] as const;
const SHARING = ["private", "team", "everyone"] as const;

interface WidgetValues {
  title?: string;
  kind: (typeof KINDS)[number];
  query: { source?: string; measures?: string; dimensions?: string; time_grain?: string };
  thresholds?: { green?: number | null; amber?: number | null; lower_is_better?: boolean };
}
interface Values { name: string; sharing: (typeof SHARING)[number]; widgets?: WidgetValues[] }

const WIDGET_FIELDS = ["title", "kind", "query.source", "query.measures", "query.dimensions", "query.time_grain",
                       "thresholds.green", "thresholds.amber", "thresholds.lower_is_better"];

/** The form's values as the API's Dashboard (ids from the order; empty limits left out). */
export function toDashboard(v: Values): DashboardInput {
  return {
    name: v.name, sharing: v.sharing,
    widgets: (v.widgets ?? []).map((w, i) => {
      const t = w.thresholds ?? {};
      return {
        id: `w${i + 1}`, title: w.title ?? "", kind: w.kind,
        query: {
          source: w.query.source as Schema<"Query">["source"],
          measures: w.query.measures ? [w.query.measures] : [],
          dimensions: w.query.dimensions ? [w.query.dimensions] : [],
          time_grain: w.query.time_grain ?? "",
        },
        thresholds: {
          ...(typeof t.green === "number" ? { green: t.green } : {}),
          ...(typeof t.amber === "number" ? { amber: t.amber } : {}),
          lower_is_better: Boolean(t.lower_is_better),
        },
      };
    }),
  };
}

export default function NewDashboard() {
  const t = useT(m);
  const { locale } = useLocale();
  const navigate = useNavigate();
  const [catalogue, setCatalogue] = useState<Catalogue | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/reports/catalogue")).then(setCatalogue)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(load, [load]);
  const [count, setCount] = useState(1);
  const f = useApiForm<Values, Dashboard>({
    fields: ["name", "sharing", ...Array.from({ length: count }, (_, i) => WIDGET_FIELDS.map((x) => `widgets.${i}.${x}`)).flat()],
    strip: ["dashboard."],
    resetOnSuccess: false,
    submit: (v) => unwrap(api.POST("/api/v1/reports/dashboards", { body: toDashboard(v) })),
    onSuccess: (board) => navigate(`/dashboards/${encodeURIComponent(board.id ?? "")}`),
  });
  const widgets = Form.useWatch("widgets", f.form) as WidgetValues[] | undefined;
  useEffect(() => setCount(widgets?.length ?? 0), [widgets?.length]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!catalogue) return <Spin />;
  const sources = catalogue.sources ?? [];
  const sourceOf = (i: number) => sources.find((s) => s.name === widgets?.[i]?.query?.source);
  const label = (x: { name?: string; label?: string }) => columnLabel(x, locale);
  return (
    <>
      <div><Link to="/dashboards">← {t("allDashboards")}</Link></div>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>{t("newDashboard")}</Typography.Title>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish} style={{ maxWidth: 900 }}
            initialValues={{ sharing: "team", widgets: [{ kind: "figure", query: { source: "opportunities", measures: "open" } }] }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="name" label={t("colName")} rules={[{ required: true, whitespace: true, message: t("colName") }]}>
          <Input maxLength={300} />
        </Form.Item>
        <Form.Item name="sharing" label={t("colSharing")}>
          <Radio.Group options={SHARING.map((s) => ({ value: s, label: t(`sharing_${s}`) }))} />
        </Form.Item>
        <Form.List name="widgets">
          {(items, { add, remove }) => (
            <Space direction="vertical" style={{ width: "100%" }}>
              {items.map(({ key, name }) => (
                <Card key={key} size="small" title={<h2 className="card-title">{t("widgetN", { n: name + 1 })}</h2>}
                      extra={<Button onClick={() => remove(name)}>{t("removeWidget")}</Button>}>
                  <Space wrap align="start">
                    <Form.Item name={[name, "title"]} label={t("widgetTitle")}><Input style={{ width: 220 }} maxLength={300} /></Form.Item>
                    <Form.Item name={[name, "kind"]} label={t("widgetKind")}>
                      <Select style={{ width: 140 }} options={KINDS.map((k) => ({ value: k, label: t(`kind_${k}`) }))} />
                    </Form.Item>
                    <Form.Item name={[name, "query", "source"]} label={t("widgetSource")}>
                      <Select style={{ width: 160 }} options={sources.map((s) => ({ value: s.name ?? "", label: label(s) }))} />
                    </Form.Item>
                    <Form.Item name={[name, "query", "measures"]} label={t("widgetMeasure")}>
                      <Select style={{ width: 200 }} options={(sourceOf(name)?.measures ?? []).map((x) => ({ value: x.name ?? "", label: label(x) }))} />
                    </Form.Item>
                    <Form.Item name={[name, "query", "dimensions"]} label={t("widgetDimension")}>
                      <Select allowClear style={{ width: 180 }} options={(sourceOf(name)?.dimensions ?? []).map((x) => ({ value: x.name ?? "", label: label(x) }))} />
                    </Form.Item>
                    <Form.Item name={[name, "query", "time_grain"]} label={t("widgetGrain")}>
                      <Select allowClear style={{ width: 120 }} options={(catalogue.time_grains ?? []).map((g) => ({ value: g, label: g }))} />
                    </Form.Item>
                  </Space>
                  <Space wrap align="start">
                    <Form.Item name={[name, "thresholds", "green"]} label={t("greenLimit")}><InputNumber style={{ width: 140 }} /></Form.Item>
                    <Form.Item name={[name, "thresholds", "amber"]} label={t("amberLimit")}><InputNumber style={{ width: 140 }} /></Form.Item>
                    <Form.Item name={[name, "thresholds", "lower_is_better"]} valuePropName="checked" label=" ">
                      <Checkbox>{t("lowerIsBetter")}</Checkbox>
                    </Form.Item>
                  </Space>
                </Card>
              ))}
              <Button onClick={() => add({ kind: "figure", query: {} })}>{t("addWidget")}</Button>
            </Space>
          )}
        </Form.List>
        <Button type="primary" htmlType="submit" loading={f.submitting} style={{ marginTop: 16 }}>{t("save")}</Button>
      </Form>
    </>
  );
}
