// Event-triggered rules the caller may see, by campaign, a cursor page at a time: when an event
// (any service's, or a web visit matching a URL pattern) happened count times within so many days,
// and none of the exceptions, send a template or enrol in a sequence (once per contact per window).
// Each turns on or off in place (PATCH status with the version read) and opens in a drawer to be
// edited (PATCH with that version: a 409 offers a reload); the form defines a new one.
import { Alert, Button, Card, Drawer, Flex, Form, Input, InputNumber, AutoComplete, Radio, Select, Space, Switch, Table, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { SUGGESTED_EVENTS, ifMatch, ruleEvent, rulePatch, ruleValues, type RuleValues } from "./automation";
import { a } from "./automationMessages";
import { nameOf, useChoices, type Choice } from "./useChoices";

type Rule = Schema<"AutomationRule">;
type RuleEvent = Schema<"RuleEvent">;
const EVENT_OPTIONS = SUGGESTED_EVENTS.map((v) => ({ value: v }));

function describe(e: RuleEvent | undefined): string {
  return e ? [e.event_type, e.url_pattern].filter(Boolean).join(" ") : "";
}

export default function AutomationRules() {
  const t = useT(a);
  const { locale } = useLocale();
  const campaigns = useChoices("campaigns");
  const templates = useChoices("templates");
  const sequences = useChoices("sequences");
  const [campaignId, setCampaignId] = useState<string>();
  const [toggleError, setToggleError] = useState<ApiError | null>(null);
  const [toast, holder] = message.useMessage();
  // a rule switched here shows its new state at once, before the page reloads
  const [changed, setChanged] = useState<Record<string, Rule>>({});
  const [editing, setEditing] = useState<Rule | null>(null);
  const key = JSON.stringify([campaignId]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Rule>> =>
      unwrap(api.GET("/api/v1/automation-rules", {
        params: { query: { campaign_id: campaignId, page_size: 20, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Rule>(fetchPage, key);

  const toggle = useCallback(async (rule: Rule, on: boolean) => {
    setToggleError(null);
    try {
      const saved = await unwrap(api.PATCH("/api/v1/automation-rules/{id}", {
        params: { path: { id: rule.id ?? "" }, header: ifMatch(rule.version) }, body: { status: on ? "active" : "paused" } }));
      setChanged((c) => ({ ...c, [saved.id ?? ""]: saved }));
      void toast.success(t(on ? "ruleOn" : "ruleOff"));
    } catch (err) {
      if (err instanceof ApiError) setToggleError(err);
    }
  }, [t, toast]);

  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name" },
    { title: t("colCampaign"), dataIndex: "campaign_id", key: "campaign", render: (v: string) => nameOf(campaigns, v) },
    { title: t("colTrigger"), key: "trigger",
      render: (_: unknown, r: Rule) => (
        <>
          <code>{describe(r.trigger)}</code>
          <div>{t("timesInDays", { count: r.count ?? 1, days: r.within_days ?? 7 })}</div>
          {(r.unless ?? []).length > 0 && <div>{t("unlessList", { list: (r.unless ?? []).map(describe).join(", ") })}</div>}
        </>
      ) },
    { title: t("colAction"), key: "action",
      render: (_: unknown, r: Rule) => (r.sequence_id ? t("enrolIn", { name: nameOf(sequences, r.sequence_id) }) : t("sendTemplate", { name: nameOf(templates, r.template_id) })) },
    { title: t("colFired"), dataIndex: "fired", key: "fired", render: (v: number) => formatNumber(v ?? 0, locale) },
    { title: t("colEnabled"), key: "on",
      render: (_: unknown, shown: Rule) => {
        const r = changed[shown.id ?? ""] ?? shown;
        return <Switch checked={r.status === "active"} onChange={(on) => void toggle(r, on)} aria-label={t("enabledOf", { name: r.name ?? "" })} />;
      } },
    { title: "", key: "edit",
      render: (_: unknown, shown: Rule) => (
        <Button size="small" onClick={() => setEditing(changed[shown.id ?? ""] ?? shown)} aria-label={t("editOf", { name: shown.name ?? "" })}>
          {t("edit")}
        </Button>
      ) },
  ], [t, locale, campaigns, templates, sequences, changed, toggle]);

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("rulesTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Select aria-label={t("campaign")} placeholder={t("anyCampaign")} allowClear showSearch optionFilterProp="label"
          style={{ width: 220 }} value={campaignId} onChange={setCampaignId} options={campaigns} />
      </Flex>
      {toggleError && <Typography.Paragraph type="danger" role="alert">{toggleError.problem.detail}</Typography.Paragraph>}
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <div tabIndex={0} role="region" aria-label={t("rulesTitle")} style={{ overflowX: "auto" }} data-testid="rules">
          <Table<Rule> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </div>
      )}
      <Card title={<h2 className="card-title">{t("newRule")}</h2>} style={{ marginTop: 24, maxWidth: 900 }}>
        <RuleForm campaigns={campaigns} templates={templates} sequences={sequences}
          onSaved={() => { setChanged({}); pages.reload(); }} />
      </Card>
      <Drawer open={editing !== null} onClose={() => setEditing(null)} size="large" destroyOnHidden
        title={t("editRule", { name: editing?.name ?? "" })}>
        {editing && (
          <RuleForm rule={editing} campaigns={campaigns} templates={templates} sequences={sequences}
            onSaved={(saved) => { setChanged((c) => ({ ...c, [saved.id ?? ""]: saved })); setEditing(null); pages.reload(); }} />
        )}
      </Drawer>
    </>
  );
}

type Values = RuleValues;

interface RuleFormProps { rule?: Rule; campaigns: Choice[]; templates: Choice[]; sequences: Choice[]; onSaved: (saved: Rule) => void }

/** A new rule's form, or a saved one's (`rule`: its values shown, saved with PATCH and its version). */
function RuleForm({ rule: saved, campaigns, templates, sequences, onSaved }: RuleFormProps) {
  const t = useT(a);
  const [toast, holder] = message.useMessage();
  const [rule, setRule] = useState(saved); // the version the form shows (a reload reads the latest)
  const [stale, setStale] = useState(false);
  const sent = useRef(0); // the exceptions of the last submit: each row's fields take its errors
  const sentAction = useRef<"template" | "sequence">("template");
  const f = useApiForm<Values, Rule>({
    get fields() {
      return ["name", "campaign_id", "trigger.event_type", "trigger.url_pattern", "count", "within_days", "unless",
        "template_id", "sequence_id", "purpose",
        ...Array.from({ length: sent.current }, (_, i) => [`unless.${i}.event_type`, `unless.${i}.url_pattern`]).flat()];
    },
    // the action's select shown takes an error about either (the API names template_id for both)
    get aliases() {
      return { trigger: "trigger.event_type", ...(sentAction.current === "sequence" ? { template_id: "sequence_id" } : { sequence_id: "template_id" }) };
    },
    strip: ["rule."],
    resetOnSuccess: !rule,
    submit: async (v) => {
      sent.current = v.unless?.length ?? 0;
      const action = v.action ?? "template";
      sentAction.current = action;
      setStale(false);
      if (rule) {
        try {
          return await unwrap(api.PATCH("/api/v1/automation-rules/{id}", {
            params: { path: { id: rule.id ?? "" }, header: ifMatch(rule.version) }, body: rulePatch(v) }));
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) setStale(true);
          throw err;
        }
      }
      return unwrap(api.POST("/api/v1/automation-rules", {
        body: {
          name: v.name ?? "",
          campaign_id: v.campaign_id ?? "",
          trigger: ruleEvent(v.trigger?.event_type, v.trigger?.url_pattern),
          ...(typeof v.count === "number" ? { count: v.count } : {}),
          ...(typeof v.within_days === "number" ? { within_days: v.within_days } : {}),
          unless: (v.unless ?? []).map((e) => ruleEvent(e?.event_type, e?.url_pattern)),
          ...(action === "sequence" ? { sequence_id: v.sequence_id ?? "" } : { template_id: v.template_id ?? "" }),
          ...(v.purpose ? { purpose: v.purpose } : {}),
        },
      }));
    },
    onSuccess: (r) => { void toast.success(t(rule ? "ruleSaved" : "ruleCreated")); onSaved(r); },
  });
  const reload = useCallback(() => {
    if (!rule?.id) return;
    unwrap(api.GET("/api/v1/automation-rules/{id}", { params: { path: { id: rule.id } } }))
      .then((r) => { setRule(r); setStale(false); })
      .catch(() => undefined); // the drawer keeps the warning; the list shows load errors
  }, [rule?.id]);
  // a rule read (opened, reloaded): the form shows it
  useEffect(() => { if (rule) f.form.setFieldsValue(ruleValues(rule)); }, [rule]); // f.form is stable
  const action = Form.useWatch("action", f.form) ?? "template";
  return (
    <Form form={f.form} name={rule ? "edit-rule" : "new-rule"} layout="vertical" onFinish={f.onFinish} data-testid={rule ? "edit-rule" : "new-rule"}
      initialValues={rule ? ruleValues(rule) : { action: "template", count: 1, within_days: 7 }}>
      {holder}
      <ProblemAlert {...f.alert} />
      {stale && (
        <Alert type="warning" showIcon role="alert" style={{ marginBottom: 16 }} title={t("staleRecord")}
          action={<Button onClick={reload}>{t("reload")}</Button>} />
      )}
      <Flex gap="middle" wrap>
        <Form.Item name="name" label={t("name")} style={{ minWidth: 260 }}><Input maxLength={300} /></Form.Item>
        {rule ? (
          <Form.Item label={t("campaign")}><Typography.Text>{nameOf(campaigns, rule.campaign_id)}</Typography.Text></Form.Item>
        ) : (
          <Form.Item name="campaign_id" label={t("campaign")} style={{ minWidth: 260 }}>
            <Select showSearch optionFilterProp="label" options={campaigns} />
          </Form.Item>
        )}
      </Flex>
      <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
        <legend style={{ fontSize: 16, border: 0, marginBottom: 8 }}>{t("when")}</legend>
        <Flex gap="middle" wrap align="start">
          <Form.Item name={["trigger", "event_type"]} label={t("eventType")} extra={t("eventTypeHelp")} style={{ minWidth: 320 }}>
            <AutoComplete options={EVENT_OPTIONS} filterOption={(typed, o) => String(o?.value ?? "").includes(typed)} />
          </Form.Item>
          <Form.Item name={["trigger", "url_pattern"]} label={t("urlPattern")} extra={t("urlPatternHelp")} style={{ minWidth: 240 }}>
            <Input placeholder="https://shop.example.com/pricing*" />
          </Form.Item>
        </Flex>
        <Flex gap="middle" wrap>
          <Form.Item name="count" label={t("count")}><InputNumber min={1} max={100} /></Form.Item>
          <Form.Item name="within_days" label={t("withinDays")}><InputNumber min={1} max={365} /></Form.Item>
        </Flex>
        <Form.List name="unless">
          {(rows, { add, remove }, { errors }) => (
            <fieldset style={{ border: 0, padding: 0, margin: "0 0 12px" }}>
              <legend style={{ fontSize: 14, border: 0, marginBottom: 4 }}>{t("unless")}</legend>
              {rows.map((row, i) => (
                <Flex key={row.key} gap="small" wrap align="start">
                  <Form.Item name={[row.name, "event_type"]} style={{ marginBottom: 8, minWidth: 320 }}>
                    <AutoComplete options={EVENT_OPTIONS} aria-label={`${t("unless")} ${i + 1}: ${t("eventType")}`}
                      filterOption={(typed, o) => String(o?.value ?? "").includes(typed)} />
                  </Form.Item>
                  <Form.Item name={[row.name, "url_pattern"]} style={{ marginBottom: 8 }}>
                    <Input aria-label={`${t("unless")} ${i + 1}: ${t("urlPattern")}`} style={{ width: 240 }} />
                  </Form.Item>
                  <Button onClick={() => remove(row.name)} aria-label={`${t("remove")}: ${t("unless")} ${i + 1}`}>{t("remove")}</Button>
                </Flex>
              ))}
              <Form.ErrorList errors={errors} />
              <Button size="small" onClick={() => add({ event_type: "" })}>{t("addUnless")}</Button>
            </fieldset>
          )}
        </Form.List>
      </fieldset>
      <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
        <legend style={{ fontSize: 16, border: 0, marginBottom: 8 }}>{t("then")}</legend>
        <Form.Item name="action">
          <Radio.Group aria-label={t("then")} options={[
            { value: "template", label: t("actionTemplate") }, { value: "sequence", label: t("actionSequence") }]} />
        </Form.Item>
        <Space wrap>
          {action === "sequence" ? (
            <Form.Item name="sequence_id" label={t("sequence")} style={{ minWidth: 260 }}>
              <Select showSearch optionFilterProp="label" options={sequences} />
            </Form.Item>
          ) : (
            <Form.Item name="template_id" label={t("template")} style={{ minWidth: 260 }}>
              <Select showSearch optionFilterProp="label" options={templates} />
            </Form.Item>
          )}
          <Form.Item name="purpose" label={t("purpose")}><Input placeholder="marketing_email" style={{ width: 200 }} /></Form.Item>
        </Space>
      </fieldset>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t(rule ? "save" : "create")}</Button>
    </Form>
  );
}
