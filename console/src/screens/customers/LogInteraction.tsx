// Log a call, note, meeting or email with this contact (POST /contacts/{id}/interactions). Errors
// the API names land beside their field through the shared form helper.
import { Button, Form, Input, InputNumber, Radio, message } from "antd";
import { api, unwrap } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";

interface Values {
  kind: "call" | "note" | "meeting" | "email";
  subject?: string;
  content?: string;
  direction?: "outbound" | "inbound";
  duration_minutes?: number;
}

export function LogInteraction({ contactId, onLogged }: { contactId: string; onLogged: () => void }) {
  const t = useT(m);
  const [toast, holder] = message.useMessage();
  const f = useApiForm<Values, unknown>({
    fields: ["kind", "subject", "content", "direction", "duration_minutes"],
    aliases: { duration_seconds: "duration_minutes" },
    strip: ["interaction."],
    submit: (v) =>
      unwrap(api.POST("/api/v1/contacts/{id}/interactions", {
        params: { path: { id: contactId } },
        body: {
          kind: v.kind,
          subject: v.subject ?? "",
          content: v.content ?? "",
          ...(v.kind === "call" ? { direction: v.direction ?? "outbound" } : {}),
          ...(v.duration_minutes ? { duration_seconds: Math.round(v.duration_minutes * 60) } : {}),
        },
      })),
    onSuccess: () => {
      void toast.success(t("saved"));
      onLogged();
    },
  });
  const kind = Form.useWatch("kind", f.form) ?? "call";
  return (
    <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ kind: "call", direction: "outbound" }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="kind" label={t("kind")}>
        <Radio.Group optionType="button" options={(["call", "note", "meeting", "email"] as const).map((k) => ({ value: k, label: t(`kind_${k}`) }))} />
      </Form.Item>
      <Form.Item name="subject" label={t("subject")}>
        <Input maxLength={300} />
      </Form.Item>
      <Form.Item name="content" label={t("content")}>
        <Input.TextArea rows={3} maxLength={20000} />
      </Form.Item>
      {kind === "call" && (
        <>
          <Form.Item name="direction" label={t("direction")}>
            <Radio.Group options={[{ value: "outbound", label: t("direction_outbound") }, { value: "inbound", label: t("direction_inbound") }]} />
          </Form.Item>
          <Form.Item name="duration_minutes" label={t("durationMinutes")}>
            <InputNumber min={0} max={24 * 60} />
          </Form.Item>
        </>
      )}
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
    </Form>
  );
}
