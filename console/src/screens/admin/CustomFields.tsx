// Custom fields of contacts and accounts; a field of type "choice" is a picklist with its values.
// Adding one goes through the shared form helper, so the API's refusals sit beside their field.
import { Button, Card, Checkbox, Form, Input, Select, Table, Tag, message } from "antd";
import { useCallback, useEffect, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";

type Field = Schema<"CustomFieldDefinition">;
const ENTITIES = ["contact", "account"] as const;
const TYPES = ["text", "number", "boolean", "date", "choice"] as const;

interface Values {
  entity: "contact" | "account";
  key: string;
  label?: string;
  type: (typeof TYPES)[number];
  choices?: string;
  required?: boolean;
}

export function CustomFields() {
  const t = useT(m);
  const [toast, holder] = message.useMessage();
  const [items, setItems] = useState<Field[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/custom-fields"))
      .then((list) => setItems(list.items))
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(load, [load]);
  const f = useApiForm<Values, Field>({
    fields: ["entity", "key", "label", "type", "choices", "required"],
    strip: ["definition.", "field."],
    submit: (v) => unwrap(api.POST("/api/v1/custom-fields", { body: {
      entity: v.entity, key: v.key.trim(), label: v.label ?? "", type: v.type, required: Boolean(v.required),
      // every line the user typed is a value; only blank lines are not
      choices: v.type === "choice" ? (v.choices ?? "").split("\n").map((s) => s.trim()).filter(Boolean) : [],
    } })),
    onSuccess: () => { void toast.success(t("fieldSaved")); load(); },
  });
  const type = Form.useWatch("type", f.form);

  if (error) return <LoadError error={error} retry={load} />;
  return (
    <>
      {holder}
      <Table<Field>
        rowKey={(x) => `${x.entity}.${x.key}`}
        loading={items === null}
        dataSource={items ?? []}
        pagination={false}
        locale={{ emptyText: t("noFields") }}
        columns={[
          { title: t("entity"), key: "entity", render: (_, x) => (x.entity ? t(`entity_${x.entity}`) : "") },
          { title: t("key"), key: "key", render: (_, x) => <code>{x.key}</code> },
          { title: t("label"), dataIndex: "label", key: "label" },
          { title: t("type"), key: "type", render: (_, x) => (x.type ? t(`type_${x.type}`) : "") },
          { title: t("choices"), key: "choices", render: (_, x) => (x.choices ?? []).map((c) => <Tag key={c}>{c}</Tag>) },
          { title: t("required"), key: "required", render: (_, x) => (x.required ? t("yes") : t("no")) },
        ]}
      />
      <Card title={<h2 className="card-title">{t("addField")}</h2>} style={{ marginTop: 16, maxWidth: 640 }}>
        <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ entity: "contact", type: "text" }}>
          <ProblemAlert {...f.alert} />
          <Form.Item name="entity" label={t("entity")}>
            <Select options={ENTITIES.map((e) => ({ value: e, label: t(`entity_${e}`) }))} />
          </Form.Item>
          <Form.Item name="key" label={t("key")} rules={[{ required: true, message: t("key") }]}>
            <Input maxLength={64} placeholder="budget_level" />
          </Form.Item>
          <Form.Item name="label" label={t("label")}><Input maxLength={300} /></Form.Item>
          <Form.Item name="type" label={t("type")}>
            <Select options={TYPES.map((x) => ({ value: x, label: t(`type_${x}`) }))} />
          </Form.Item>
          {type === "choice" && (
            <Form.Item name="choices" label={t("choices")} extra={t("choicesHelp")}>
              <Input.TextArea rows={4} />
            </Form.Item>
          )}
          <Form.Item name="required" valuePropName="checked"><Checkbox>{t("required")}</Checkbox></Form.Item>
          <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
        </Form>
      </Card>
    </>
  );
}
