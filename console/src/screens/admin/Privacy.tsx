// Data-subject requests (a DPO or an admin): ask for an export of everything every service holds
// about a person, or for their erasure, by contact ids, emails or phones; then follow the request
// at /admin/privacy/<exports|erasures>/<id>.
import { Button, Card, Form, Input, Modal, Radio, Space, Tabs, Typography } from "antd";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, unwrap } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";
import { PrivacyJob, type Kind } from "./PrivacyJob";

interface Values { contact_ids?: string; emails?: string; phones?: string; reason?: string }

/** One value a line; only blank lines are left out. */
function lines(text: string | undefined): string[] {
  return (text ?? "").split("\n").map((s) => s.trim()).filter(Boolean);
}

function RequestForm({ kind }: { kind: Kind }) {
  const t = useT(m);
  const navigate = useNavigate();
  const [modal, holder] = Modal.useModal();
  const f = useApiForm<Values, { id?: string }>({
    fields: ["contact_ids", "emails", "phones", "reason"],
    submit: (v) => {
      const who = { contact_ids: lines(v.contact_ids), emails: lines(v.emails), phones: lines(v.phones) };
      return kind === "exports"
        ? unwrap(api.POST("/api/v1/privacy/exports", { body: who }))
        : unwrap(api.POST("/api/v1/privacy/erasures", { body: { ...who, reason: v.reason ?? "" } }));
    },
    onSuccess: (job) => navigate(`/admin/privacy/${kind}/${encodeURIComponent(job.id ?? "")}`),
  });
  const send = (v: Values) => {
    if (kind === "exports") return void f.onFinish(v);
    void modal.confirm({ title: t("confirmErasure"), okText: t("requestErasure"),
                         onOk: () => f.onFinish(v) });
  };
  const atLeastOne = ({ getFieldsValue }: { getFieldsValue: () => Values }) => ({
    validator: () => {
      const v = getFieldsValue();
      return lines(v.contact_ids).length + lines(v.emails).length + lines(v.phones).length > 0
        ? Promise.resolve() : Promise.reject(new Error(t("atLeastOne")));
    },
  });
  return (
    <Form form={f.form} layout="vertical" onFinish={send} style={{ maxWidth: 640 }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="contact_ids" label={t("contactIds")} extra={t("oneALine")} rules={[atLeastOne]}>
        <Input.TextArea rows={2} />
      </Form.Item>
      <Form.Item name="emails" label={t("emails")} extra={t("oneALine")}><Input.TextArea rows={2} /></Form.Item>
      <Form.Item name="phones" label={t("phones")} extra={t("oneALine")}><Input.TextArea rows={2} /></Form.Item>
      {kind === "erasures" && (
        <Form.Item name="reason" label={t("reason")}><Input.TextArea rows={2} maxLength={20000} /></Form.Item>
      )}
      <Button type="primary" htmlType="submit" loading={f.submitting}>
        {kind === "exports" ? t("requestExport") : t("requestErasure")}
      </Button>
    </Form>
  );
}

function LookUp() {
  const t = useT(m);
  const navigate = useNavigate();
  const [kind, setKind] = useState<Kind>("exports");
  const [id, setId] = useState("");
  return (
    <Space wrap>
      <Radio.Group value={kind} onChange={(e) => setKind(e.target.value as Kind)}
        options={[{ value: "exports", label: t("exportTab") }, { value: "erasures", label: t("erasureTab") }]} />
      <Input aria-label={t("requestId2")} placeholder={t("requestId2")} value={id} onChange={(e) => setId(e.target.value)} style={{ width: 280 }} />
      <Button disabled={!id.trim()} onClick={() => navigate(`/admin/privacy/${kind}/${encodeURIComponent(id.trim())}`)}>{t("open")}</Button>
    </Space>
  );
}

export default function Privacy() {
  const t = useT(m);
  const { kind, id } = useParams();
  const followed: { kind: Kind; id: string } | null = (kind === "exports" || kind === "erasures") && id ? { kind, id } : null;
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("privacyTitle")}</Typography.Title>
      {followed ? (
        <Space direction="vertical" style={{ width: "100%" }}>
          <div><Link to="/admin/privacy">← {t("privacyTitle")}</Link></div>
          <PrivacyJob key={`${followed.kind}/${followed.id}`} kind={followed.kind} id={followed.id} />
        </Space>
      ) : (
        <Space direction="vertical" size="large" style={{ width: "100%" }}>
          <Card>
            <Tabs items={[
              { key: "exports", label: t("exportTab"), children: <RequestForm kind="exports" /> },
              { key: "erasures", label: t("erasureTab"), children: <RequestForm kind="erasures" /> },
            ]} />
          </Card>
          <Card title={<h2 className="card-title">{t("lookUp")}</h2>}><LookUp /></Card>
        </Space>
      )}
    </>
  );
}
