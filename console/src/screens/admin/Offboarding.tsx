// The offboarding transfer: everything a leaving user owns moves to a new owner in every service,
// in one request. A failure names the service it stopped at and what the ones before it moved;
// sending again reuses the same Idempotency-Key, so the gateway resumes that operation.
import { Alert, Button, Card, Form, Input, Modal, Table, Typography } from "antd";
import { useRef, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";

type Result = Schema<"OffboardingResult">;
type Part = Result["services"][number];
interface Values { from_user_id: string; to_user_id: string; to_team?: string; to_region?: string; reason?: string }

/** The services' moves as rows: one per service and kind of record. */
function rows(parts: Part[]): { key: string; service: string; what: string; n: number }[] {
  return parts.flatMap((p) => Object.entries(p.moved).map(([what, n]) => ({ key: `${p.service}.${what}`, service: p.service, what, n })));
}

export default function Offboarding() {
  const t = useT(m);
  const { locale } = useLocale();
  const [modal, holder] = Modal.useModal();
  const [result, setResult] = useState<Result | null>(null);
  const [partial, setPartial] = useState<{ service: string; completed: Part[] } | null>(null);
  const operation = useRef<{ inputs: string; key: string } | null>(null);

  const f = useApiForm<Values, Result>({
    fields: ["from_user_id", "to_user_id", "to_team", "to_region", "reason"],
    resetOnSuccess: false,
    submit: async (v) => {
      const inputs = JSON.stringify(v);
      if (operation.current?.inputs !== inputs) operation.current = { inputs, key: crypto.randomUUID() };
      setPartial(null);
      try {
        return await unwrap(api.POST("/api/v1/admin/offboarding", {
          body: { from_user_id: v.from_user_id.trim(), to_user_id: v.to_user_id.trim(), to_team: v.to_team?.trim() ?? "",
                  to_region: v.to_region?.trim() ?? "", reason: v.reason ?? "" },
          headers: { "Idempotency-Key": operation.current.key },
        }));
      } catch (err) {
        const extra = err instanceof ApiError ? (err.problem as Record<string, unknown>) : {};
        if (typeof extra.failed_service === "string") {
          setPartial({ service: extra.failed_service, completed: Array.isArray(extra.completed) ? (extra.completed as Part[]) : [] });
        }
        throw err;
      }
    },
    onSuccess: (answer) => { operation.current = null; setResult(answer); },
  });

  const confirmThenSend = (v: Values) => {
    void modal.confirm({
      title: t("confirmTransfer", { from: v.from_user_id, to: v.to_user_id }),
      okText: t("transfer"),
      onOk: () => f.onFinish(v),
    });
  };

  const table = (parts: Part[]) => (
    <Table size="small" pagination={false} dataSource={rows(parts)} rowKey="key"
      columns={[
        { title: t("service"), dataIndex: "service", key: "service" },
        { title: t("entity"), dataIndex: "what", key: "what" },
        { title: t("moved"), key: "n", align: "right", render: (_, r) => formatNumber(r.n, locale) },
      ]} />
  );

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("offboardingTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary" style={{ maxWidth: 720 }}>{t("offboardingHelp")}</Typography.Paragraph>
      <Card style={{ maxWidth: 640, marginBottom: 16 }}>
        <Form form={f.form} layout="vertical" onFinish={confirmThenSend}>
          <ProblemAlert {...f.alert} />
          <Form.Item name="from_user_id" label={t("fromUser")} rules={[{ required: true, whitespace: true, message: t("fromUser") }]}>
            <Input placeholder="rep.north.2" />
          </Form.Item>
          <Form.Item name="to_user_id" label={t("toUser")} rules={[{ required: true, whitespace: true, message: t("toUser") }]}>
            <Input placeholder="rep.north.1" />
          </Form.Item>
          <Form.Item name="to_team" label={t("toTeam")}><Input /></Form.Item>
          <Form.Item name="to_region" label={t("toRegion")}><Input /></Form.Item>
          <Form.Item name="reason" label={t("reason")}><Input.TextArea rows={2} maxLength={20000} /></Form.Item>
          <Button type="primary" htmlType="submit" loading={f.submitting}>{t("transfer")}</Button>
        </Form>
      </Card>
      {partial && (
        <Alert type="warning" showIcon style={{ marginBottom: 16, maxWidth: 720 }}
               title={t("failedAt", { service: partial.service })}
               description={partial.completed.length > 0 ? table(partial.completed) : undefined} />
      )}
      {result && (
        <Card title={<h2 className="card-title">{t("transferred", { n: formatNumber(result.total, locale), to: result.to_user_id })}</h2>}
              style={{ maxWidth: 720 }} data-testid="offboarding-result">
          {table(result.services)}
        </Card>
      )}
    </>
  );
}
