// A campaign's A/B tests, newest first a cursor page at a time (status, metric, winner), and the
// form that freezes an audience into a new one: variants of subject and body (a template each,
// the test's own when empty), the share tested (split evenly between them; the rest gets the
// winner), the metric (opens or clicks), the wait before deciding and the significance level.
import { Button, Flex, Form, Input, InputNumber, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { AB_METRICS, AB_STATUSES, abVariants, known, shareOfEach, type VariantRow } from "./automation";
import { a } from "./automationMessages";
import { useChoices } from "./useChoices";

type Campaign = Schema<"Campaign">;
type AbTest = Schema<"AbTest">;

export function useAbStatus() {
  const t = useT(a);
  return useCallback((v: string | undefined) => (known(AB_STATUSES, v) ? t(`abStatus_${v}`) : v ?? ""), [t]);
}
export const AB_TONE: Record<string, (typeof TONE)[keyof typeof TONE]> = {
  testing: TONE.blue, sending_winner: TONE.blue, completed: TONE.green, ready: TONE.grey, cancelled: TONE.grey,
};

export function AbTests({ campaign }: { campaign: Campaign }) {
  const t = useT(a);
  const { locale } = useLocale();
  const abStatus = useAbStatus();
  const campaignId = campaign.id ?? "";
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<AbTest>> =>
      unwrap(api.GET("/api/v1/ab-tests", { params: { query: { campaign_id: campaignId, page_size: 10, page_token: pageToken || undefined } } })),
    [campaignId],
  );
  const pages = useCursorPages<AbTest>(fetchPage, campaignId);
  const [creating, setCreating] = useState(false);
  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (v: string, x: AbTest) => <Link to={`/ab-tests/${encodeURIComponent(x.id ?? "")}`}>{v || x.id}</Link> },
    { title: t("colStatus"), dataIndex: "status", key: "status", render: (v: string) => <Tag style={AB_TONE[v] ?? TONE.grey}>{abStatus(v)}</Tag> },
    { title: t("colMetric"), dataIndex: "metric", key: "metric", render: (v: string) => (known(AB_METRICS, v) ? t(`metric_${v}`) : v) },
    { title: t("variants"), key: "variants", render: (_: unknown, x: AbTest) => (x.variants ?? []).map((v) => v.name).join(" / ") },
    { title: t("colWinner"), dataIndex: "winner", key: "winner" },
    { title: t("colCreated"), dataIndex: "created_at", key: "created", render: (v: string) => formatDateTime(v, locale) },
  ], [t, locale, abStatus]);
  return (
    <>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <div tabIndex={0} role="region" aria-label={t("abTab")} style={{ overflowX: "auto" }} data-testid="ab-tests">
          <Table<AbTest> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} size="small" locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </div>
      )}
      {/* the form opens on demand: the campaign page already has a send form with a template */}
      {creating ? (
        <>
          <Typography.Title level={3} style={{ fontSize: 16, marginTop: 24 }}>{t("newAbTest")}</Typography.Title>
          <NewAbTest campaign={campaign} onCreated={() => { setCreating(false); pages.reload(); }} />
        </>
      ) : <Button style={{ marginTop: 16 }} onClick={() => setCreating(true)}>{t("newAbTest")}</Button>}
    </>
  );
}

interface Values {
  name?: string;
  template_id?: string;
  variants?: VariantRow[];
  segment_ids?: string[];
  test_percent?: number | null;
  metric?: string;
  wait_hours?: number | null;
  significance?: number | null;
  default_variant?: string;
  purpose?: string;
}

const VARIANT_FIELDS = ["name", "subject", "template_id"];

function NewAbTest({ campaign, onCreated }: { campaign: Campaign; onCreated: () => void }) {
  const t = useT(a);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const templates = useChoices("templates");
  const segments = useChoices("segments");
  const sent = useRef(2); // the variants of the last submit: each row's fields take its errors
  const f = useApiForm<Values, AbTest>({
    get fields() {
      return ["name", "template_id", "variants", "segment_ids", "test_percent", "metric", "wait_hours", "significance",
        "default_variant", "purpose", ...Array.from({ length: sent.current }, (_, i) => VARIANT_FIELDS.map((x) => `variants.${i}.${x}`)).flat()];
    },
    aliases: { "audience.segment_ids": "segment_ids", audience: "segment_ids" },
    strip: ["test.", "ab_test."],
    submit: (v) => {
      sent.current = v.variants?.length ?? 0;
      return unwrap(api.POST("/api/v1/ab-tests", {
        body: {
          campaign_id: campaign.id ?? "",
          template_id: v.template_id ?? "",
          variants: abVariants(v.variants),
          audience: { segment_ids: v.segment_ids ?? [] },
          ...(v.name ? { name: v.name } : {}),
          ...(typeof v.test_percent === "number" ? { test_percent: v.test_percent } : {}),
          ...(v.metric ? { metric: v.metric } : {}),
          ...(typeof v.wait_hours === "number" ? { wait_hours: v.wait_hours } : {}),
          ...(typeof v.significance === "number" ? { significance: v.significance } : {}),
          ...(v.default_variant ? { default_variant: v.default_variant } : {}),
          ...(v.purpose ? { purpose: v.purpose } : {}),
        },
      }));
    },
    onSuccess: () => { void toast.success(t("abCreated")); onCreated(); },
  });
  const rows: VariantRow[] = Form.useWatch("variants", f.form) ?? [];
  const percent: number | null | undefined = Form.useWatch("test_percent", f.form);
  const names = rows.map((r, i) => r?.name?.trim() || String.fromCharCode(65 + i));
  return (
    <Form form={f.form} name="ab-test" layout="vertical" onFinish={f.onFinish} data-testid="new-ab-test"
      initialValues={{ variants: [{ name: "A" }, { name: "B" }], test_percent: 20, metric: "open", wait_hours: 4, significance: 0.05,
        segment_ids: campaign.audience?.segment_ids ?? [] }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Flex gap="middle" wrap>
        <Form.Item name="name" label={t("name")} style={{ minWidth: 240 }}><Input maxLength={200} /></Form.Item>
        <Form.Item name="template_id" label={t("baseTemplate")} style={{ minWidth: 280 }}>
          <Select showSearch optionFilterProp="label" options={templates} />
        </Form.Item>
      </Flex>
      <Form.List name="variants">
        {(items, { add, remove }, { errors }) => (
          <fieldset style={{ border: 0, padding: 0, margin: "0 0 12px" }}>
            <legend style={{ fontSize: 14, border: 0, marginBottom: 4 }}>{t("variants")}</legend>
            {items.map((item, i) => {
              const label = t("variantN", { n: i + 1 });
              return (
                <Flex key={item.key} gap="small" wrap align="start" role="group" aria-label={label}>
                  <Form.Item name={[item.name, "name"]} style={{ marginBottom: 8 }}>
                    <Input aria-label={`${label}: ${t("variantName")}`} placeholder={t("variantName")} style={{ width: 150 }} />
                  </Form.Item>
                  <Form.Item name={[item.name, "subject"]} style={{ marginBottom: 8 }}>
                    <Input aria-label={`${label}: ${t("variantSubject")}`} placeholder={t("variantSubject")} style={{ width: 280 }} />
                  </Form.Item>
                  <Form.Item name={[item.name, "template_id"]} style={{ marginBottom: 8 }}>
                    <Select aria-label={`${label}: ${t("variantTemplate")}`} placeholder={t("variantTemplate")} allowClear showSearch
                      optionFilterProp="label" options={templates} style={{ width: 220 }} />
                  </Form.Item>
                  <Button onClick={() => remove(item.name)} aria-label={`${t("remove")}: ${label}`}>{t("remove")}</Button>
                </Flex>
              );
            })}
            <Form.ErrorList errors={errors} />
            <Button size="small" onClick={() => add({ name: String.fromCharCode(65 + items.length) })}>{t("addVariant")}</Button>
          </fieldset>
        )}
      </Form.List>
      <Form.Item name="segment_ids" label={t("segments")}>
        <Select mode="multiple" optionFilterProp="label" options={segments} />
      </Form.Item>
      <Flex gap="middle" wrap align="start">
        <Form.Item name="test_percent" label={t("testPercent")}
          extra={<span data-testid="share-each">{t("shareEach", { share: shareOfEach(percent ?? undefined, rows.length).toLocaleString(locale, { maximumFractionDigits: 1 }) })}</span>}>
          <InputNumber min={1} max={100} />
        </Form.Item>
        <Form.Item name="metric" label={t("metric")}>
          <Select style={{ width: 120 }} options={AB_METRICS.map((v) => ({ value: v, label: t(`metric_${v}`) }))} />
        </Form.Item>
        <Form.Item name="wait_hours" label={t("waitHours")}><InputNumber min={0.1} max={720} step={1} /></Form.Item>
        <Form.Item name="significance" label={t("significance")}><InputNumber min={0.001} max={0.499} step={0.01} /></Form.Item>
        <Form.Item name="default_variant" label={t("defaultVariant")}>
          <Select allowClear placeholder={t("defaultBest")} style={{ width: 160 }} options={names.map((n) => ({ value: n, label: n }))} />
        </Form.Item>
      </Flex>
      <Space>
        <Form.Item name="purpose" label={t("purpose")}><Input placeholder="marketing_email" style={{ width: 200 }} /></Form.Item>
      </Space>
      <div><Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button></div>
    </Form>
  );
}
