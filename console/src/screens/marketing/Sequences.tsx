// Drip / nurture sequences the caller may see, filtered by campaign and status, a cursor page at a
// time, with their steps (day offsets) and enrolment counts; and the form that defines a new one
// on a campaign: steps by day, each an email template or an SMS, the consent purpose, and whether
// leads sales sends back for nurturing join it. A new sequence is a draft until activated.
import { Button, Card, Checkbox, Flex, Form, Input, InputNumber, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useMemo, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { SEQUENCE_STATUSES, known, sequenceSteps, type StepRow } from "./automation";
import { a } from "./automationMessages";
import { SmsFields } from "./SmsWave";
import { nameOf, useChoices, type Choice } from "./useChoices";

type Sequence = Schema<"Sequence">;
type SeqStatus = (typeof SEQUENCE_STATUSES)[number];
export const SEQ_TONE: Record<string, (typeof TONE)[keyof typeof TONE]> = { active: TONE.green, paused: TONE.gold, draft: TONE.grey, archived: TONE.grey };

export function useSeqStatus() {
  const t = useT(a);
  return useCallback((v: string | undefined) => (known(SEQUENCE_STATUSES, v) ? t(`seqStatus_${v}`) : v ?? ""), [t]);
}

export default function Sequences() {
  const t = useT(a);
  const { locale } = useLocale();
  const seqStatus = useSeqStatus();
  const campaigns = useChoices("campaigns");
  const [campaignId, setCampaignId] = useState<string>();
  const [status, setStatus] = useState<SeqStatus>();
  const key = JSON.stringify([campaignId, status]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Sequence>> =>
      unwrap(api.GET("/api/v1/sequences", {
        params: { query: { campaign_id: campaignId, status, page_size: 20, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Sequence>(fetchPage, key);

  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (v: string, s: Sequence) => <Link to={`/sequences/${encodeURIComponent(s.id ?? "")}`}>{v || s.id}</Link> },
    { title: t("colCampaign"), dataIndex: "campaign_id", key: "campaign", render: (v: string) => nameOf(campaigns, v) },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={SEQ_TONE[v] ?? TONE.grey}>{seqStatus(v)}</Tag> },
    { title: t("colSteps"), key: "steps",
      render: (_: unknown, s: Sequence) => (s.steps ?? []).map((x) => t("dayN", { n: x.day ?? 0 }) + (x.channel === "sms" ? ` (${t("channel_sms")})` : "")).join(" → ") },
    { title: t("colEnrolled"), key: "enrolled", render: (_: unknown, s: Sequence) => formatNumber(s.counts?.enrolled ?? 0, locale) },
    { title: t("colActive"), key: "active", render: (_: unknown, s: Sequence) => formatNumber(s.counts?.active ?? 0, locale) },
    { title: t("colCompleted"), key: "completed", render: (_: unknown, s: Sequence) => formatNumber(s.counts?.completed ?? 0, locale) },
  ], [t, locale, campaigns, seqStatus]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("sequencesTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Select aria-label={t("campaign")} placeholder={t("anyCampaign")} allowClear showSearch optionFilterProp="label"
          style={{ width: 220 }} value={campaignId} onChange={setCampaignId} options={campaigns} />
        <Select aria-label={t("status")} placeholder={t("anyStatus")} allowClear style={{ width: 150 }}
          value={status} onChange={setStatus} options={SEQUENCE_STATUSES.map((v) => ({ value: v, label: seqStatus(v) }))} />
      </Flex>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Sequence> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
      <Card title={<h2 className="card-title">{t("newSequence")}</h2>} style={{ marginTop: 24, maxWidth: 900 }}>
        <NewSequence campaigns={campaigns} />
      </Card>
    </>
  );
}

interface Values {
  name?: string;
  campaign_id?: string;
  description?: string;
  steps?: StepRow[];
  purpose?: string;
  enroll_nurturing?: boolean;
}

export const STEP_FIELDS = ["day", "channel", "template_id", "sms.template_code", "sms.sign_name", "sms.params"];

function NewSequence({ campaigns }: { campaigns: Choice[] }) {
  const t = useT(a);
  const navigate = useNavigate();
  const [toast, holder] = message.useMessage();
  const templates = useChoices("templates");
  const sent = useRef(1); // the rows of the last submit: each row's fields take its errors
  const f = useApiForm<Values, Sequence>({
    get fields() {
      return ["name", "campaign_id", "description", "purpose", "enroll_nurturing", "steps",
        ...Array.from({ length: sent.current }, (_, i) => STEP_FIELDS.map((x) => `steps.${i}.${x}`)).flat()];
    },
    strip: ["sequence."],
    submit: (v) => {
      sent.current = v.steps?.length ?? 0;
      return unwrap(api.POST("/api/v1/sequences", {
        body: {
          name: v.name ?? "",
          campaign_id: v.campaign_id ?? "",
          steps: sequenceSteps(v.steps),
          ...(v.description ? { description: v.description } : {}),
          ...(v.purpose ? { purpose: v.purpose } : {}),
          enroll_nurturing: v.enroll_nurturing ?? false,
        },
      }));
    },
    onSuccess: (s) => {
      void toast.success(t("sequenceCreated"));
      navigate(`/sequences/${encodeURIComponent(s.id ?? "")}`);
    },
  });
  return (
    <Form form={f.form} name="new-sequence" layout="vertical" onFinish={f.onFinish} data-testid="new-sequence"
      initialValues={{ steps: [{ day: 0, channel: "email" }, { day: 3, channel: "email" }] }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Flex gap="middle" wrap>
        <Form.Item name="name" label={t("name")} style={{ minWidth: 260 }}><Input maxLength={300} /></Form.Item>
        <Form.Item name="campaign_id" label={t("campaign")} style={{ minWidth: 260 }}>
          <Select showSearch optionFilterProp="label" options={campaigns} />
        </Form.Item>
      </Flex>
      <Form.Item name="description" label={t("description")}><Input.TextArea rows={2} /></Form.Item>
      <StepList templates={templates} />
      <Flex gap="middle" wrap style={{ marginTop: 16 }}>
        <Form.Item name="purpose" label={t("purpose")}><Input placeholder="marketing_email" style={{ width: 200 }} /></Form.Item>
        <Form.Item name="enroll_nurturing" valuePropName="checked" style={{ marginTop: 30 }}>
          <Checkbox>{t("enrollNurturing")}</Checkbox>
        </Form.Item>
      </Flex>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button>
    </Form>
  );
}

/** A sequence's steps in its form (`steps`): one row each, added and removed in place. */
export function StepList({ templates }: { templates: Choice[] }) {
  const t = useT(a);
  return (
    <Form.List name="steps">
      {(rows, { add, remove }, { errors }) => (
        <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
          <legend style={{ fontSize: 16, border: 0, marginBottom: 8 }}>{t("steps")}</legend>
          <Space orientation="vertical" style={{ width: "100%" }}>
            {rows.map((row, i) => <StepRowFields key={row.key} name={row.name} index={i} templates={templates} remove={() => remove(row.name)} />)}
            <Form.ErrorList errors={errors} />
            <Button onClick={() => add({ day: undefined, channel: "email" })}>{t("addStep")}</Button>
          </Space>
        </fieldset>
      )}
    </Form.List>
  );
}

export function StepRowFields({ name, index, templates, remove }: { name: number; index: number; templates: Choice[]; remove: () => void }) {
  const t = useT(a);
  const step = t("stepN", { n: index + 1 });
  const form = Form.useFormInstance();
  const channel = Form.useWatch(["steps", name, "channel"], form) as string | undefined;
  return (
    <div role="group" aria-label={step} style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px" }}>
      <Typography.Text strong>{step}</Typography.Text>
      <Flex gap="middle" wrap align="start" style={{ marginTop: 8 }}>
        <Form.Item name={[name, "day"]} label={t("stepDay")} extra={t("stepDayHelp")}>
          <InputNumber min={0} max={3650} style={{ width: 110 }} aria-label={`${step}: ${t("stepDay")}`} />
        </Form.Item>
        <Form.Item name={[name, "channel"]} label={t("stepChannel")}>
          <Select style={{ width: 110 }} aria-label={`${step}: ${t("stepChannel")}`}
            options={[{ value: "email", label: t("channel_email") }, { value: "sms", label: t("channel_sms") }]} />
        </Form.Item>
        {channel !== "sms" && (
          <Form.Item name={[name, "template_id"]} label={t("template")} style={{ minWidth: 240 }}>
            <Select showSearch optionFilterProp="label" options={templates} aria-label={`${step}: ${t("template")}`} />
          </Form.Item>
        )}
        <Button style={{ marginTop: 30 }} onClick={remove} aria-label={`${t("remove")}: ${step}`}>{t("remove")}</Button>
      </Flex>
      {channel === "sms" && <SmsFields prefix={[name, "sms"]} rowLabel={step} />}
    </div>
  );
}
