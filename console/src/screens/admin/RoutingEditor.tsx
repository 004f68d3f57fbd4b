// Edit the ticket routing rules (PUT /support/routing-rules replaces the list) with the version
// read as If-Match, so a change saved meanwhile elsewhere is refused, not overwritten.
import { Alert, Button, Form, Select, message } from "antd";
import { useRef } from "react";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm, type ApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { usePicklist } from "../customers/picklists";
import { m } from "./messages";
import { RowsEditor, type Column } from "./RowsEditor";
import { ifMatch, rowFields, withoutEmpty } from "./settingsForm";
import { useFill } from "./useFill";

type Support = Schema<"SupportSettings">;
interface Values { routing_rules?: Schema<"RoutingRule">[] }

export function RoutingEditor({ support, onSaved }: { support: Support; onSaved: (s: Support) => void }) {
  const t = useT(m);
  const { locale } = useLocale();
  const levels = usePicklist("level"); // keys shown with their labels; a key typed in is kept
  const [toast, holder] = message.useMessage();
  const columns: Column[] = [
    { field: "name", label: t("name"), kind: "text", width: 180 },
    { field: "types", label: t("ticketTypes"), kind: "tags" },
    { field: "priorities", label: t("priorities"), kind: "tags" },
    { field: "keywords", label: t("keywords"), kind: "tags" },
    { field: "customer_levels", label: t("customerLevels"), kind: "custom",
      render: () => <Select mode="tags" tokenSeparators={[",", "，"]} style={{ minWidth: 200 }}
        options={levels.choices.map((c) => ({ value: c.key, label: c.label[locale] }))} /> },
    { field: "languages", label: t("languages"), kind: "tags" },
    { field: "channels", label: t("channels"), kind: "tags" },
    { field: "group", label: t("group"), kind: "text", width: 140 },
    { field: "agents", label: t("agents"), kind: "tags" },
    { field: "strategy", label: t("strategy"), kind: "text", width: 130 },
    { field: "set_priority", label: t("setPriority"), kind: "text", width: 110 },
  ];
  const shown = useRef<string[]>([]);
  const f: ApiForm<Values> = useApiForm<Values, Support>({
    get fields() { return shown.current; },
    strip: ["settings."],
    resetOnSuccess: false,
    submit: (): Promise<Support> => {
      const rules = (f.form.getFieldsValue(true) as Values).routing_rules ?? [];
      shown.current = rowFields("routing_rules", rules.length, columns.map((c) => c.field));
      return unwrap(api.PUT("/api/v1/support/routing-rules", {
        ...ifMatch(support.version), body: { routing_rules: rules.map(withoutEmpty) },
      }));
    },
    onSuccess: (saved) => { void toast.success(t("routingSaved")); onSaved(saved); },
  });
  useFill(f.form, { routing_rules: support.routing_rules ?? [] }); // the SLA tab's save keeps these edits
  return (
    <Form form={f.form} onFinish={f.onFinish} component="div">
      {holder}
      <ProblemAlert {...f.alert} />
      <RowsEditor name={["routing_rules"]} title={t("routingRule")} columns={columns}
        newRow={() => ({ id: `route-${crypto.randomUUID().slice(0, 8)}` })} />
      <Button type="primary" style={{ marginTop: 16 }} onClick={() => f.form.submit()} loading={f.submitting}>{t("save")}</Button>
      <Alert type="info" showIcon style={{ marginTop: 16 }} title={t("versionNote", { n: Number(support.version ?? 0) })} />
    </Form>
  );
}
