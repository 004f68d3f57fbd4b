// Edit some sections of the sales settings (PATCH /sales/settings replaces the sections sent):
// the stages tab sends pipelines, approval and follow-up rules; the assignment tab the assignment
// and public-pool rules. The version read goes as If-Match, so a change saved meanwhile by someone
// else is refused (409, shown above the form), not overwritten.
import { Alert, Button, Card, Form, Input, message } from "antd";
import { useRef } from "react";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";
import { CriteriaInput, RowsEditor, type Column } from "./RowsEditor";
import { useFill } from "./useFill";
import { ifMatch, pipelineFields, rowFields, withCriteriaSides, withoutEmpty } from "./settingsForm";

type Sales = Schema<"SalesSettings">;
export type SalesSection = "pipelines" | "approval_policies" | "follow_up_rules" | "assignment_rules" | "pool_rules";
type Values = Partial<Pick<Sales, SalesSection>>;

const newId = (prefix: string) => `${prefix}-${crypto.randomUUID().slice(0, 8)}`;

function useColumns() {
  const t = useT(m);
  // path is [pipeline, "stages", stage, field]: the label says which stage the criteria belong to
  const criteria = (label: string) => (path: (string | number)[]) => (
    <CriteriaInput label={`${label} (${t("pipeline")} ${Number(path[0]) + 1}, ${t("stage")} ${Number(path[2]) + 1})`} />
  );
  const columns: Record<Exclude<SalesSection, "pipelines"> | "stages", Column[]> = {
    stages: [
      { field: "key", label: t("stageKey"), kind: "text", width: 130 },
      { field: "name", label: t("stage"), kind: "text", width: 130 },
      { field: "probability", label: t("probability"), kind: "number", width: 90 },
      { field: "outcome", label: t("outcome"), kind: "select", options: ["open", "won", "lost"], width: 100 },
      { field: "entry_criteria", label: t("entryCriteria"), kind: "custom", render: criteria(t("entryCriteria")) },
      { field: "exit_criteria", label: t("exitCriteria"), kind: "custom", render: criteria(t("exitCriteria")) },
    ],
    approval_policies: [
      { field: "order", label: t("priorityCol"), kind: "number", width: 80 },
      { field: "condition", label: t("condition"), kind: "text", width: 200 },
      { field: "threshold", label: t("threshold"), kind: "text", width: 120 },
      { field: "approver_role", label: t("approver"), kind: "text", width: 120 },
      { field: "description", label: t("description"), kind: "text", width: 240 },
    ],
    follow_up_rules: [
      { field: "trigger", label: t("trigger"), kind: "text", width: 140 },
      { field: "stage", label: t("stage"), kind: "text", width: 130 },
      { field: "days", label: t("days"), kind: "number", width: 80 },
      { field: "task_title", label: t("task"), kind: "text", width: 200 },
      { field: "task_kind", label: t("taskKind"), kind: "text", width: 110 },
    ],
    assignment_rules: [
      { field: "priority", label: t("priorityCol"), kind: "number", width: 80 },
      { field: "regions", label: t("regions"), kind: "tags" },
      { field: "provinces", label: t("provinces"), kind: "tags" },
      { field: "sources", label: t("sources"), kind: "tags" },
      { field: "strategy", label: t("strategy"), kind: "text", width: 130 },
      { field: "members", label: t("members"), kind: "tags" },
      { field: "team", label: t("team"), kind: "text", width: 130 },
      { field: "response_hours", label: t("responseHours"), kind: "number", width: 110 },
      { field: "description", label: t("description"), kind: "text", width: 240 },
    ],
    pool_rules: [
      { field: "team", label: t("team"), kind: "text", width: 140 },
      { field: "inactive_days", label: t("inactiveDays"), kind: "number", width: 120 },
      { field: "unconverted_days", label: t("unconvertedDays"), kind: "number", width: 120 },
      { field: "claim_limit", label: t("claimLimit"), kind: "number", width: 120 },
      { field: "cooldown_days", label: t("cooldownDays"), kind: "number", width: 120 },
    ],
  };
  return columns;
}

const NEW_ROW: Record<Exclude<SalesSection, "pipelines">, () => object> = {
  approval_policies: () => ({ id: newId("approval") }),
  follow_up_rules: () => ({ id: newId("follow-up") }),
  assignment_rules: () => ({ id: newId("assign") }),
  pool_rules: () => ({ team: "" }), // the four numbers are the admin's to state
};
const newStage = () => ({ key: "", name: "", probability: 0, outcome: "open", entry_criteria: [], exit_criteria: [] });

export function SalesEditor({ sales, sections, onSaved }: {
  sales: Sales; sections: readonly SalesSection[]; onSaved: (s: Sales) => void;
}) {
  const t = useT(m);
  const [toast, holder] = message.useMessage();
  const columns = useColumns();
  const pick = (s: Sales): Values => Object.fromEntries(sections.map((k) => [k, s[k] ?? []]));
  // the API field names of the rows sent, read by the form helper when the answer comes
  const shown = useRef<string[]>([]);
  const f = useApiForm<Values, Sales>({
    get fields() { return shown.current; },
    resetOnSuccess: false,
    strip: ["settings."],
    submit: async () => {
      // the whole store, so what the form does not show (an id) goes back as it was
      const v = f.form.getFieldsValue(true) as Values;
      shown.current = sections.flatMap((k) => k === "pipelines" ? pipelineFields(v.pipelines)
        : rowFields(k, v[k]?.length ?? 0, columns[k].map((c) => c.field)));
      const body: Values = Object.fromEntries(sections.map((k) => [k, (v[k] ?? []).map((row: object) => withoutEmpty(row))]));
      try {
        return await unwrap(api.PATCH("/api/v1/sales/settings", { ...ifMatch(sales.version), body }));
      } catch (err) {
        throw withCriteriaSides(err, v.pipelines);
      }
    },
    onSuccess: (saved) => { void toast.success(t("salesSaved")); onSaved(saved); },
  });
  useFill(f.form, pick(sales)); // loaded (and saved) settings fill the form; another tab's save keeps these edits
  return (
    <Form form={f.form} onFinish={f.onFinish} component="div">
      {holder}
      <ProblemAlert {...f.alert} />
      {sections.map((k) => (
        <Card key={k} size="small" style={{ marginBottom: 16 }} title={<h2 className="card-title">{t(`section_${k}`)}</h2>}>
          {k === "pipelines" ? <Pipelines columns={columns.stages} /> : (
            <RowsEditor name={[k]} title={t(`row_${k}`)} columns={columns[k]} newRow={NEW_ROW[k]} />
          )}
        </Card>
      ))}
      <Button type="primary" onClick={() => f.form.submit()} loading={f.submitting}>{t("save")}</Button>
      <Alert type="info" showIcon style={{ marginTop: 16 }} title={t("versionNote", { n: Number(sales.version ?? 0) })} />
    </Form>
  );
}

function Pipelines({ columns }: { columns: Column[] }) {
  const t = useT(m);
  return (
    <Form.List name="pipelines">
      {(items, { add, remove }) => (
        <>
          {items.map((item, i) => (
            <Card key={item.key} size="small" type="inner" style={{ marginBottom: 12 }}
              title={<h3 className="card-title">{t("pipeline")} {i + 1}</h3>}
              extra={<Button onClick={() => remove(item.name)}>{t("removeRow")}</Button>}>
              <Form.Item name={[item.name, "id"]} label={t("pipelineId")} layout="vertical" style={{ display: "inline-block", marginInlineEnd: 12 }}>
                <Input style={{ width: 200 }} />
              </Form.Item>
              <Form.Item name={[item.name, "name"]} label={t("name")} layout="vertical" style={{ display: "inline-block" }}>
                <Input style={{ width: 200 }} />
              </Form.Item>
              <RowsEditor name={[item.name, "stages"]} title={t("stage")} columns={columns} newRow={newStage} />
            </Card>
          ))}
          <Button onClick={() => add({ id: newId("pipeline"), name: "", stages: [] })}>{t("addRow", { what: t("pipeline") })}</Button>
        </>
      )}
    </Form.List>
  );
}
