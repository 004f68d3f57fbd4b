// Support macros: the canned replies agents apply to a ticket (reply text, public or internal,
// a status to set, tags to add). The whole list is one PUT (SetEditor).
import { Form, Input, Select, Space, Switch } from "antd";
import { useCallback } from "react";
import { api, unwrap } from "../../api";
import { useT } from "../../i18n";
import { STATUSES, statusLabel } from "./labels";
import { m } from "./messages";
import { om } from "./opsMessages";
import { ifMatch } from "../admin/settingsForm";
import { SetEditor } from "./SetEditor";
import { MACRO_FIELDS, macroBody, macroRows, newMacroId, type Macro } from "./supportSets";

export default function Macros() {
  const t = useT(om);
  const ts = useT(m);
  const load = useCallback(() => unwrap(api.GET("/api/v1/support/macros")), []);
  const save = useCallback((rows: Macro[], version: unknown) =>
    unwrap(api.PUT("/api/v1/support/macros", { ...ifMatch(version), body: macroBody(rows) })), []);
  return (
    <SetEditor<Macro>
      title={t("macrosTitle")} note={t("macrosNote")} list="macros" columns={MACRO_FIELDS}
      what={t("macro")} rowTitle={(i) => t("macroN", { n: i + 1 })}
      load={load} save={save} rowsOf={macroRows} savedKey={(r) => r.id ?? ""}
      newRow={(rows) => ({ id: newMacroId(rows.map((r) => r.id ?? "")), name: "", body: "", public: true, set_status: "", add_tags: [] })}
      renderRow={(i, saved) => (
        <>
          <Space wrap align="start">
            <Form.Item name={[i, "id"]} label={t("id")}>
              {/* tickets apply a macro by its id: a saved one keeps it */}
              <Input disabled={saved} style={{ width: 170 }} spellCheck={false} />
            </Form.Item>
            <Form.Item name={[i, "name"]} label={t("name")}><Input style={{ width: 240 }} /></Form.Item>
            <Form.Item name={[i, "set_status"]} label={t("setStatus")}>
              <Select style={{ width: 160 }}
                options={[{ value: "", label: t("noStatusChange") }, ...STATUSES.map((s) => ({ value: s, label: statusLabel(ts, s) }))]} />
            </Form.Item>
            <Form.Item name={[i, "add_tags"]} label={t("addTags")}>
              <Select mode="tags" open={false} suffixIcon={null} tokenSeparators={[",", "，"]} style={{ minWidth: 220 }} />
            </Form.Item>
            <Form.Item name={[i, "public"]} label={t("public")} valuePropName="checked"><Switch /></Form.Item>
          </Space>
          <Form.Item name={[i, "body"]} label={t("body")}><Input.TextArea autoSize={{ minRows: 2, maxRows: 8 }} /></Form.Item>
        </>
      )}
    />
  );
}
