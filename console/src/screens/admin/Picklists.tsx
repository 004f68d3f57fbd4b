// The picklists tab: one picklist at a time (source, industry, level, lifecycle stage), its values
// in display order with both labels. Add a value, edit labels, retire / reactivate, reorder, then
// PUT the whole list with the document's version as If-Match. Keys already saved cannot be removed
// or renamed (records hold them): only a value added in this edit has a Remove button. A 409 means
// someone saved first: the user reloads.
import { Alert, Button, Card, Form, Input, Select, Space, Spin, Switch, Tag, message } from "antd";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { TONE } from "../../components/tones";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { forgetPicklists, type PicklistName } from "../customers/picklists";
import { pm } from "./picklistMessages";
import { ifMatch } from "./settingsForm";

type Doc = Schema<"Picklists">;
type ValueInput = Schema<"PicklistValueInput">;
interface Values { restricted: boolean; values: ValueInput[] }

const NAMES = ["source", "industry", "level", "lifecycle_stage"] as const satisfies readonly PicklistName[];

/** What the form shows of one picklist: every value with its labels, in the API's order. */
export function formOf(doc: Doc, name: string): Values {
  const list = doc.picklists?.find((p) => p.name === name);
  return {
    restricted: Boolean(list?.restricted),
    values: (list?.values ?? []).map((v) => ({ key: v.key ?? "", label_zh: v.label_zh ?? "", label_en: v.label_en ?? "", retired: Boolean(v.retired) })),
  };
}

/** The PUT body: every row in its order, labels trimmed (a blank keeps the saved label). */
export function bodyOf(v: Values): Schema<"PicklistInput"> {
  return {
    restricted: Boolean(v.restricted),
    values: (v.values ?? []).map((r) => ({
      key: (r.key ?? "").trim(), label_zh: (r.label_zh ?? "").trim(), label_en: (r.label_en ?? "").trim(), retired: Boolean(r.retired),
    })),
  };
}

export function Picklists() {
  const [doc, setDoc] = useState<Doc | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    setError(null);
    setDoc(null);
    unwrap(api.GET("/api/v1/admin/picklists"))
      .then(setDoc)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(load, [load]);
  if (error) return <LoadError error={error} retry={load} />;
  if (!doc) return <Spin />;
  return <PicklistEditor doc={doc} onSaved={(d) => { forgetPicklists(); setDoc(d); }} reload={load} />;
}

function PicklistEditor({ doc, onSaved, reload }: { doc: Doc; onSaved: (d: Doc) => void; reload: () => void }) {
  const t = useT(pm);
  const [toast, holder] = message.useMessage();
  const [name, setName] = useState<PicklistName>("source");
  const [stale, setStale] = useState(false);
  const saved = useMemo(() => formOf(doc, name), [doc, name]);
  const savedKeys = useMemo(() => new Set(saved.values.map((v) => v.key)), [saved]);
  const builtIn = useMemo(() => new Set((doc.picklists?.find((p) => p.name === name)?.values ?? [])
    .filter((v) => v.built_in).map((v) => v.key ?? "")), [doc, name]);
  const shown = useRef<string[]>(["restricted", "values"]);
  const f = useApiForm<Values, Doc>({
    get fields() { return shown.current; },
    resetOnSuccess: false,
    submit: async (v) => {
      const body = bodyOf(v);
      shown.current = ["restricted", "values", ...body.values.flatMap((_, i) => [`values[${i}].key`, `values[${i}].label_zh`, `values[${i}].label_en`, `values[${i}].retired`])];
      setStale(false);
      try {
        return await unwrap(api.PUT("/api/v1/admin/picklists/{name}", { params: { path: { name }, ...ifMatch(doc.version).params }, body }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setStale(true);
        throw err;
      }
    },
    onSuccess: (d) => { void toast.success(t("saved")); onSaved(d); },
  });
  // another picklist chosen, or a new version saved: the form shows it (initialValues is `saved`)
  useEffect(() => { f.form.resetFields(); }, [saved, f.form]);

  return (
    <Card title={<h2 className="card-title">{t("tabPicklists")}</h2>}>
      {holder}
      <Space direction="vertical" style={{ width: "100%" }}>
        <Select aria-label={t("picklist")} value={name} style={{ width: 220 }}
                onChange={(n) => { setName(n); setStale(false); }}
                options={NAMES.map((n) => ({ value: n, label: t(`pl_${n}`) }))} />
        {stale && (
          <Alert type="warning" showIcon message={t("stale")}
                 action={<Button onClick={reload}>{t("reload")}</Button>} />
        )}
        <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={saved}>
          <ProblemAlert {...f.alert} />
          <Form.Item name="restricted" label={t("restricted")} valuePropName="checked"><Switch /></Form.Item>
          <Form.List name="values">
            {(rows, { add, remove, move }, { errors }) => (
              <>
                {rows.map((row, i) => (
                  <PicklistRow key={row.key} index={i} count={rows.length} name={row.name}
                               saved={savedKeys} builtIn={builtIn} move={move} remove={remove} />
                ))}
                <Form.ErrorList errors={errors} />
                <Button onClick={() => add({ key: "", label_zh: "", label_en: "", retired: false })}>{t("addValue")}</Button>
              </>
            )}
          </Form.List>
          <div style={{ marginTop: 16 }}>
            <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
          </div>
        </Form>
      </Space>
    </Card>
  );
}

function PicklistRow({ index, count, name, saved, builtIn, move, remove }: {
  index: number; count: number; name: number; saved: Set<string>; builtIn: Set<string>;
  move: (from: number, to: number) => void; remove: (i: number) => void;
}) {
  const t = useT(pm);
  const form = Form.useFormInstance<Values>();
  const key = (Form.useWatch(["values", name, "key"], form) as string | undefined) ?? "";
  const retired = Boolean(Form.useWatch(["values", name, "retired"], form));
  const existing = saved.has(key) && key !== "";
  return (
    <fieldset style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px", marginBottom: 8 }}
              data-testid={`picklist-row-${index}`} aria-label={t("valueRow", { n: index + 1 })}>
      <legend style={{ fontSize: 14, width: "auto", marginBottom: 0, padding: "0 4px" }}>
        {t("valueRow", { n: index + 1 })}{" "}
        {builtIn.has(key) && <Tag>{t("builtIn")}</Tag>}
        {retired && <Tag style={TONE.gold}>{t("retired")}</Tag>}
      </legend>
      <Space wrap align="start">
        <Form.Item name={[name, "key"]} label={t("key")} extra={existing ? undefined : t("keyHelp")}>
          <Input disabled={existing} style={{ width: 180 }} spellCheck={false} />
        </Form.Item>
        <Form.Item name={[name, "label_zh"]} label={t("labelZh")}><Input style={{ width: 160 }} /></Form.Item>
        <Form.Item name={[name, "label_en"]} label={t("labelEn")}><Input style={{ width: 160 }} /></Form.Item>
        <Form.Item name={[name, "retired"]} hidden valuePropName="checked"><Switch /></Form.Item>
      </Space>
      <Space wrap>
        <Button size="small" onClick={() => form.setFieldValue(["values", name, "retired"], !retired)}>
          {retired ? t("reactivate") : t("retire")}
        </Button>
        <Button size="small" disabled={index === 0} aria-label={t("moveUp", { key: key || String(index + 1) })}
                onClick={() => move(index, index - 1)}>↑</Button>
        <Button size="small" disabled={index === count - 1} aria-label={t("moveDown", { key: key || String(index + 1) })}
                onClick={() => move(index, index + 1)}>↓</Button>
        {!existing && <Button size="small" onClick={() => remove(name)}>{t("remove")}</Button>}
      </Space>
    </fieldset>
  );
}
