// Automation settings: scoring and limits (weights, half-life, MQL threshold, A/B significance, form
// and visit limits; PATCH of exactly those keys), and the tracked sites: each site's key (what its pages' tracking snippet sends
// with a visit), its name and the domains its visits may come from. The whole list is saved with
// PATCH `sites` and the document's version; a refusal lands beside the row's field it names
// (`sites[1].key`, a domain on that row's domains), and a 409 offers a reload. The API decides who
// may save (managers); a marketer reads, and a save they try shows the API's refusal.
import { Alert, Button, Card, Checkbox, Flex, Form, Input, InputNumber, Select, Space, Spin, Typography, message } from "antd";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { ifMatch, newSiteKey, siteAliases, siteBodies, type SiteRow } from "./automation";
import { a } from "./automationMessages";

type Settings = Schema<"AutomationSettings">;
type Scoring = Omit<Schema<"AutomationSettingsPatch">, "sites">;
interface Values { sites?: SiteRow[] }
const SITE_FIELDS = ["key", "name", "domains"];

export default function AutomationSettings() {
  const t = useT(a);
  const [doc, setDoc] = useState<Settings | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/automation-settings"))
      .then(setDoc)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(load, [load]);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("settingsTitle")}</Typography.Title>
      {error ? <LoadError error={error} retry={load} /> : !doc ? <Spin /> : (
        <>
          <Card title={<h2 className="card-title">{t("scoringTitle")}</h2>} style={{ maxWidth: 900, marginBottom: 24 }}>
            <ScoringForm doc={doc} onSaved={setDoc} reload={load} />
          </Card>
          <Card title={<h2 className="card-title">{t("sitesTitle")}</h2>} style={{ maxWidth: 900 }}>
            <Sites doc={doc} onSaved={setDoc} reload={load} />
          </Card>
        </>
      )}
    </>
  );
}

function Sites({ doc, onSaved, reload }: { doc: Settings; onSaved: (s: Settings) => void; reload: () => void }) {
  const t = useT(a);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [stale, setStale] = useState(false);
  const sent = useRef<SiteRow[]>(doc.sites ?? []); // the rows of the last submit: each row's fields take its errors
  const savedKeys = new Set((doc.sites ?? []).map((s) => s.key ?? "").filter(Boolean));
  const f = useApiForm<Values, Settings>({
    get fields() {
      return ["sites", ...sent.current.flatMap((_, i) => SITE_FIELDS.map((x) => `sites.${i}.${x}`))];
    },
    get aliases() { return siteAliases(sent.current); },
    strip: ["settings."],
    resetOnSuccess: false,
    submit: async (v) => {
      sent.current = v.sites ?? [];
      setStale(false);
      try {
        return await unwrap(api.PATCH("/api/v1/automation-settings", {
          params: { header: ifMatch(doc.version) }, body: { sites: siteBodies(v.sites) } }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setStale(true);
        throw err;
      }
    },
    onSuccess: (saved) => { void toast.success(t("settingsSaved")); onSaved(saved); },
  });
  // a new version answered (a save, a reload): the form shows it
  useEffect(() => { f.form.setFieldsValue({ sites: doc.sites ?? [] }); setStale(false); }, [doc]); // f.form is stable
  return (
    <Form form={f.form} name="tracked-sites" layout="vertical" onFinish={f.onFinish} data-testid="tracked-sites"
      initialValues={{ sites: doc.sites ?? [] }}>
      {holder}
      <Typography.Paragraph type="secondary">{t("sitesHelp")}</Typography.Paragraph>
      {Number(doc.version ?? 0) > 0 && (
        <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
          {t("settingsVersion", { n: String(doc.version), when: formatDateTime(doc.updated_at ?? "", locale) })}
        </Typography.Paragraph>
      )}
      <ProblemAlert {...f.alert} />
      {stale && (
        <Alert type="warning" showIcon role="alert" style={{ marginBottom: 16 }} title={t("staleRecord")}
          action={<Button onClick={reload}>{t("reload")}</Button>} />
      )}
      <Form.List name="sites">
        {(rows, { add, remove }, { errors }) => (
          <Space orientation="vertical" style={{ width: "100%" }}>
            {rows.length === 0 && <Typography.Text type="secondary">{t("noSites")}</Typography.Text>}
            {rows.map((row, i) => {
              const site = t("siteN", { n: i + 1 });
              const key = String(f.form.getFieldValue(["sites", row.name, "key"]) ?? "");
              const saved = savedKeys.has(key);
              return (
                <fieldset key={row.key} data-testid={`site-${i}`}
                  style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px", margin: 0 }}>
                  <legend style={{ fontSize: 14, width: "auto", marginBottom: 0, padding: "0 4px" }}>{site}</legend>
                  <Flex gap="middle" wrap align="start">
                    <Form.Item name={[row.name, "key"]} label={t("siteKey")} extra={t("siteKeyHelp")} style={{ minWidth: 300 }}>
                      <Input disabled={saved} maxLength={64} aria-label={`${site}: ${t("siteKey")}`} style={{ fontFamily: "monospace" }} />
                    </Form.Item>
                    {!saved && (
                      <Button style={{ marginTop: 30 }} aria-label={`${site}: ${t("newKey")}`}
                        onClick={() => f.form.setFieldValue(["sites", row.name, "key"], newSiteKey())}>{t("newKey")}</Button>
                    )}
                    <Form.Item name={[row.name, "name"]} label={t("siteName")} style={{ minWidth: 220 }}>
                      <Input maxLength={300} aria-label={`${site}: ${t("siteName")}`} />
                    </Form.Item>
                  </Flex>
                  <Form.Item name={[row.name, "domains"]} label={t("siteDomains")} extra={t("siteDomainsHelp")}>
                    <Select mode="tags" tokenSeparators={[",", " ", "，"]} open={false} aria-label={`${site}: ${t("siteDomains")}`} />
                  </Form.Item>
                  <Button size="small" onClick={() => remove(row.name)} aria-label={`${t("remove")}: ${site}`}>{t("remove")}</Button>
                </fieldset>
              );
            })}
            <Form.ErrorList errors={errors} />
            <Button onClick={() => add({ key: newSiteKey(), name: "", domains: [] })}>{t("addSite")}</Button>
          </Space>
        )}
      </Form.List>
      <Button type="primary" htmlType="submit" loading={f.submitting} style={{ marginTop: 16 }}>{t("save")}</Button>
    </Form>
  );
}

const WEIGHTS = ["open", "click", "visit", "form"] as const;
const LIMITS = [
  ["form_limit_per_address", "formPerAddress"], ["form_limit_per_email", "formPerEmail"],
  ["form_min_seconds", "formMinSeconds"], ["visit_limit_per_visitor", "visitsPerVisitor"],
] as const;
const SCORING_FIELDS = [...WEIGHTS.map((w) => `weights.${w}`), "weights", "half_life_days", "mql_threshold", "mql_enabled",
  "ab_significance", ...LIMITS.map(([k]) => k)];

/** The document's scoring and limits as the form's values (and as the PATCH body: the keys shown). */
function scoringOf(doc: Settings): Scoring {
  const w = doc.weights ?? {};
  return {
    weights: { open: w.open ?? 0, click: w.click ?? 0, visit: w.visit ?? 0, form: w.form ?? 0 },
    half_life_days: doc.half_life_days ?? 0, mql_threshold: doc.mql_threshold ?? 0, mql_enabled: doc.mql_enabled ?? false,
    ab_significance: doc.ab_significance ?? 0, form_limit_per_address: doc.form_limit_per_address ?? 0,
    form_limit_per_email: doc.form_limit_per_email ?? 0, form_min_seconds: doc.form_min_seconds ?? 0,
    visit_limit_per_visitor: doc.visit_limit_per_visitor ?? 0,
  };
}

function ScoringForm({ doc, onSaved, reload }: { doc: Settings; onSaved: (s: Settings) => void; reload: () => void }) {
  const t = useT(a);
  const [toast, holder] = message.useMessage();
  const [stale, setStale] = useState(false);
  const f = useApiForm<Scoring, Settings>({
    fields: SCORING_FIELDS,
    strip: ["settings."],
    resetOnSuccess: false,
    submit: async (v) => {
      setStale(false);
      try {
        // every key shown is sent (the keys form the mask); an emptied number goes as 0 for the API to judge
        const body = scoringOf({ ...v, weights: { ...v.weights } } as Settings);
        return await unwrap(api.PATCH("/api/v1/automation-settings", { params: { header: ifMatch(doc.version) }, body }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setStale(true);
        throw err;
      }
    },
    onSuccess: (saved) => { void toast.success(t("settingsSaved")); onSaved(saved); },
  });
  useEffect(() => { f.form.setFieldsValue(scoringOf(doc)); setStale(false); }, [doc]); // f.form is stable
  return (
    <Form form={f.form} name="scoring" layout="vertical" onFinish={f.onFinish} data-testid="scoring" initialValues={scoringOf(doc)}>
      {holder}
      <Typography.Paragraph type="secondary">{t("scoringHelp")}</Typography.Paragraph>
      <ProblemAlert {...f.alert} />
      {stale && (
        <Alert type="warning" showIcon role="alert" style={{ marginBottom: 16 }} title={t("staleRecord")}
          action={<Button onClick={reload}>{t("reload")}</Button>} />
      )}
      <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
        <legend style={{ fontSize: 14, border: 0, marginBottom: 4 }}>{t("weightsTitle")}</legend>
        <Flex gap="middle" wrap>
          {WEIGHTS.map((w) => (
            <Form.Item key={w} name={["weights", w]} label={t(`weight_${w}`)}>
              <InputNumber min={0} max={1000} style={{ width: 120 }} />
            </Form.Item>
          ))}
        </Flex>
      </fieldset>
      <Flex gap="middle" wrap>
        <Form.Item name="half_life_days" label={t("halfLife")}><InputNumber min={0} max={3650} style={{ width: 140 }} /></Form.Item>
        <Form.Item name="mql_threshold" label={t("mqlThreshold")}><InputNumber min={0} style={{ width: 140 }} /></Form.Item>
        <Form.Item name="ab_significance" label={t("abSignificance")}><InputNumber min={0} max={0.5} step={0.01} style={{ width: 140 }} /></Form.Item>
      </Flex>
      <Form.Item name="mql_enabled" valuePropName="checked"><Checkbox>{t("mqlEnabled")}</Checkbox></Form.Item>
      <Flex gap="middle" wrap>
        {LIMITS.map(([k, label]) => (
          <Form.Item key={k} name={k} label={t(label)} style={{ maxWidth: 260 }}><InputNumber min={0} style={{ width: 140 }} /></Form.Item>
        ))}
      </Flex>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
    </Form>
  );
}
