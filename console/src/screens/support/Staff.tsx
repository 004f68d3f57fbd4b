// The support staff directory (user id, name, notice address, working language). The whole list
// is one PUT (SetEditor).
import { Form, Input, Select, Space } from "antd";
import { useCallback } from "react";
import { api, unwrap } from "../../api";
import { useT } from "../../i18n";
import { om } from "./opsMessages";
import { ifMatch } from "../admin/settingsForm";
import { SetEditor } from "./SetEditor";
import { STAFF_FIELDS, STAFF_LANGUAGES, staffBody, staffRows, type StaffMember } from "./supportSets";

export default function Staff() {
  const t = useT(om);
  const load = useCallback(() => unwrap(api.GET("/api/v1/support/staff")), []);
  const save = useCallback((rows: StaffMember[], version: unknown) =>
    unwrap(api.PUT("/api/v1/support/staff", { ...ifMatch(version), body: staffBody(rows) })), []);
  const languages = [{ value: "", label: t("anyLanguage") },
    ...STAFF_LANGUAGES.map((l) => ({ value: l, label: t(l === "en" ? "lang_en" : "lang_zh") }))];
  return (
    <SetEditor<StaffMember>
      title={t("staffTitle")} note={t("staffNote")} list="staff" columns={STAFF_FIELDS}
      what={t("member")} rowTitle={(i) => t("memberN", { n: i + 1 })}
      load={load} save={save} rowsOf={staffRows} savedKey={(r) => r.user_id ?? ""}
      newRow={() => ({ user_id: "", name: "", email: "", language: "" })}
      renderRow={(i) => (
        <Space wrap align="start">
          <Form.Item name={[i, "user_id"]} label={t("userId")}><Input style={{ width: 180 }} spellCheck={false} /></Form.Item>
          <Form.Item name={[i, "name"]} label={t("name")}><Input style={{ width: 200 }} /></Form.Item>
          <Form.Item name={[i, "email"]} label={t("email")}><Input inputMode="email" autoComplete="off" style={{ width: 240 }} spellCheck={false} /></Form.Item>
          <Form.Item name={[i, "language"]} label={t("language")}><Select style={{ width: 160 }} options={languages} /></Form.Item>
        </Space>
      )}
    />
  );
}
