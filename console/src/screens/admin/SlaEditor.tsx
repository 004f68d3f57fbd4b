// Edit the SLA policies (PUT /support/sla-policies with the version read, so a change made
// meanwhile by someone else is refused, not overwritten). Business hours go back as they were.
import { Alert, Button, Checkbox, Form, Input, InputNumber, Select, Space, Table, message } from "antd";
import { useEffect, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";
import { useFill } from "./useFill";

type Support = Schema<"SupportSettings">;
type Policy = Schema<"SlaPolicy">;
interface Values { sla_policies?: Policy[]; default_supervisor_id?: string }
const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
const POLICY_FIELDS = ["name", "priority", "first_response_minutes", "resolution_minutes", "warn_before_minutes",
                       "business_hours", "supervisor_id"];

export function SlaEditor({ support, onSaved }: { support: Support; onSaved: (s: Support) => void }) {
  const t = useT(m);
  const [toast, holder] = message.useMessage();
  const [rows, setRows] = useState(support.sla_policies?.length ?? 0);
  const version = Number(support.version ?? 0); // int64: the JSON may carry it as a string
  const f = useApiForm<Values, Support>({
    fields: ["default_supervisor_id",
             ...Array.from({ length: rows }, (_, i) => POLICY_FIELDS.map((x) => `sla_policies.${i}.${x}`)).flat()],
    strip: ["settings."],
    resetOnSuccess: false,
    submit: (v) => unwrap(api.PUT("/api/v1/support/sla-policies", {
      // settings never saved have version 0, which no If-Match names: the first save checks nothing
      ...(version > 0 ? { params: { header: { "If-Match": `"${version}"` } } } : {}),
      body: { business_hours: support.business_hours, default_supervisor_id: v.default_supervisor_id?.trim() ?? "",
              sla_policies: (v.sla_policies ?? []).map((p) => ({ ...p, supervisor_id: p.supervisor_id?.trim() ?? "" })) },
    })),
    onSuccess: (saved) => { void toast.success(t("slaSaved")); onSaved(saved); },
  });
  // the loaded settings (and the saved ones) fill the form; the routing tab's save keeps these edits
  useFill(f.form, { sla_policies: support.sla_policies ?? [], default_supervisor_id: support.default_supervisor_id ?? "" });
  const watched = Form.useWatch("sla_policies", f.form) as Policy[] | undefined;
  useEffect(() => setRows(watched?.length ?? 0), [watched?.length]);
  const minutes = (name: (string | number)[], label: string) => (
    <Form.Item name={name} style={{ margin: 0 }}><InputNumber aria-label={label} min={0} style={{ width: 110 }} /></Form.Item>
  );
  return (
    <Form form={f.form} onFinish={f.onFinish} component="div">
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.List name="sla_policies">
        {(items, { add, remove }) => (
          <Space direction="vertical" style={{ width: "100%" }}>
            <Table size="small" pagination={false} dataSource={items} rowKey="key"
              columns={[
                { title: t("name"), key: "name", render: (_, { name }) => (
                  <>
                    {/* the policy's id travels with its row (a form sends only the fields it holds) */}
                    <Form.Item name={[name, "id"]} hidden><Input /></Form.Item>
                    <Form.Item name={[name, "name"]} style={{ margin: 0 }}><Input aria-label={t("name")} style={{ width: 160 }} /></Form.Item>
                  </>) },
                { title: t("priority"), key: "priority", render: (_, { name }) => (
                  <Form.Item name={[name, "priority"]} style={{ margin: 0 }}>
                    <Select aria-label={t("priority")} style={{ width: 110 }} options={PRIORITIES.map((p) => ({ value: p, label: p }))} />
                  </Form.Item>) },
                { title: `${t("firstResponse")} (min)`, key: "fr", render: (_, { name }) => minutes([name, "first_response_minutes"], t("firstResponse")) },
                { title: `${t("resolution")} (min)`, key: "res", render: (_, { name }) => minutes([name, "resolution_minutes"], t("resolution")) },
                { title: `${t("warnBefore")} (min)`, key: "warn", render: (_, { name }) => minutes([name, "warn_before_minutes"], t("warnBefore")) },
                { title: t("businessHours"), key: "bh", render: (_, { name }) => (
                  <Form.Item name={[name, "business_hours"]} valuePropName="checked" style={{ margin: 0 }}>
                    <Checkbox aria-label={t("businessHours")} />
                  </Form.Item>) },
                { title: t("supervisor"), key: "sup", render: (_, { name }) => (
                  <Form.Item name={[name, "supervisor_id"]} style={{ margin: 0 }}><Input aria-label={t("supervisor")} style={{ width: 140 }} /></Form.Item>) },
                { title: "", key: "x", render: (_, { name }) => <Button onClick={() => remove(name)}>{t("removeRow")}</Button> },
              ]} />
            <Button onClick={() => add({ id: `sla-${crypto.randomUUID().slice(0, 8)}`, priority: "normal", business_hours: true })}>{t("addPolicy")}</Button>
          </Space>
        )}
      </Form.List>
      <Space style={{ marginTop: 16 }} align="end">
        <Form.Item name="default_supervisor_id" label={t("defaultSupervisorLabel")} style={{ margin: 0 }}>
          <Input style={{ width: 200 }} />
        </Form.Item>
        <Button type="primary" onClick={() => f.form.submit()} loading={f.submitting}>{t("save")}</Button>
      </Space>
      <Alert type="info" showIcon style={{ marginTop: 16 }} title={t("versionNote", { n: version })} />
    </Form>
  );
}
