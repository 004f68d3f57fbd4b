// One editable list of a settings section: each row a bordered block of labelled inputs (labels,
// not a wide table: these rows have up to twelve fields and the admin screens never scroll
// sideways), with add and remove. The values live in the surrounding antd Form under `name`.
import { Button, Flex, Form, Input, InputNumber, Select, Space, Typography } from "antd";
import type { ReactNode } from "react";
import { useT } from "../../i18n";
import { m } from "./messages";

type Path = (string | number)[];

export interface Column {
  field: string;
  label: string;
  kind: "text" | "number" | "tags" | "select" | "custom";
  options?: readonly string[];
  width?: number;
  /** For kind "custom": the control (it gets value / onChange from the Form.Item). */
  render?: (path: Path) => ReactNode;
}

function control(c: Column, path: Path): ReactNode {
  const style = { width: c.width ?? 160 };
  switch (c.kind) {
    case "number": return <InputNumber style={style} />;
    case "tags": return <Select mode="tags" tokenSeparators={[",", "，"]} open={false} suffixIcon={null} style={{ minWidth: c.width ?? 200 }} />;
    case "select": return <Select allowClear style={style} options={(c.options ?? []).map((o) => ({ value: o, label: o }))} />;
    case "custom": return c.render?.(path);
    default: return <Input style={style} />;
  }
}

export function RowsEditor({ name, title, columns, newRow, rowTitle }: {
  name: Path; title: string; columns: readonly Column[]; newRow: () => object;
  rowTitle?: (index: number) => string;
}) {
  const t = useT(m);
  return (
    <Form.List name={name}>
      {(items, { add, remove }, { errors }) => (
        <Space orientation="vertical" style={{ width: "100%" }}>
          {items.length === 0 && <Typography.Text type="secondary">{t("noRows")}</Typography.Text>}
          {items.map((item, i) => (
            <div key={item.key} role="group" aria-label={rowTitle?.(i) ?? `${title} ${i + 1}`}
              style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px" }}>
              <Flex wrap gap="small" align="flex-start">
                {columns.map((c) => (
                  <Form.Item key={c.field} name={[item.name, c.field]} label={c.label} style={{ marginBottom: 8 }}
                    layout="vertical">
                    {control(c, [...name, item.name, c.field])}
                  </Form.Item>
                ))}
                <Button style={{ marginTop: 30 }} onClick={() => remove(item.name)}
                  aria-label={`${t("removeRow")}: ${rowTitle?.(i) ?? `${title} ${i + 1}`}`}>{t("removeRow")}</Button>
              </Flex>
            </div>
          ))}
          {/* errors about the list as a whole (the API names the list, e.g. pipelines[0].stages) */}
          <Form.ErrorList errors={errors} />
          <Button onClick={() => add(newRow())}>{t("addRow", { what: title })}</Button>
        </Space>
      )}
    </Form.List>
  );
}

type Criterion = { kind?: string; field?: string; message?: string };

/** A stage's entry or exit criteria (kind, field, message each), as one form value. */
export function CriteriaInput({ value, onChange, label }: {
  value?: Criterion[]; onChange?: (v: Criterion[]) => void; label: string;
}) {
  const t = useT(m);
  const list = value ?? [];
  const set = (i: number, patch: Criterion) => onChange?.(list.map((c, j) => (j === i ? { ...c, ...patch } : c)));
  return (
    <Space orientation="vertical" size={4}>
      {list.map((c, i) => (
        <Space key={i} size={4} wrap>
          <Input aria-label={`${label} ${i + 1}: ${t("criterionKind")}`} placeholder={t("criterionKind")} style={{ width: 130 }}
            value={c.kind} onChange={(e) => set(i, { kind: e.target.value })} />
          <Input aria-label={`${label} ${i + 1}: ${t("field")}`} placeholder={t("field")} style={{ width: 130 }}
            value={c.field} onChange={(e) => set(i, { field: e.target.value })} />
          <Input aria-label={`${label} ${i + 1}: ${t("message")}`} placeholder={t("message")} style={{ width: 200 }}
            value={c.message} onChange={(e) => set(i, { message: e.target.value })} />
          <Button size="small" onClick={() => onChange?.(list.filter((_, j) => j !== i))}
            aria-label={`${t("removeRow")}: ${label} ${i + 1}`}>{t("removeRow")}</Button>
        </Space>
      ))}
      <Button size="small" onClick={() => onChange?.([...list, { kind: "field", field: "", message: "" }])}>
        {t("addCriterion")}
      </Button>
    </Space>
  );
}
