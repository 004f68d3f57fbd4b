// An agent opens a ticket for a customer (POST /tickets): subject, description, the customer picked
// by searching the contacts the agent may see, priority, channel, and how the customer hears of its
// progress (email, or SMS to a mobile number). Every refusal shows beside its field.
import { Button, Card, Form, Input, Radio, Select, Typography } from "antd";
import { useEffect, useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { useDebounced } from "../../components/useDebounced";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { CHANNELS, NOTICE_CHANNELS, PRIORITIES, channelLabel, priorityLabel } from "./labels";
import { m } from "./messages";

type Input = Schema<"TicketInput">;
type Values = Pick<Input, "subject" | "description" | "contact_id" | "priority" | "channel" | "notice_channel" | "notice_phone">;
export const NEW_TICKET_FIELDS = ["subject", "description", "contact_id", "priority", "channel", "notice_channel", "notice_phone"] as const;

/** A customer chosen by typing a name, phone or email (the contacts the API lets the agent see). */
function CustomerPicker({ id, value, onChange }: { id?: string; value?: string; onChange?: (v: string | undefined) => void }) {
  const t = useT(m);
  const [typed, setTyped] = useState("");
  const q = useDebounced(typed.trim(), 250);
  const [options, setOptions] = useState<{ value: string; label: string }[]>([]);
  useEffect(() => {
    if (q.length < 2) return;
    let stale = false; // a late answer for an earlier word is ignored
    unwrap(api.GET("/api/v1/contacts", { params: { query: { q, page_size: 20 } } }))
      .then((p) => { if (!stale) setOptions(p.items.map((c) => ({ value: c.id ?? "", label: [c.name, c.company_name].filter(Boolean).join(" · ") }))); })
      .catch(() => { if (!stale) setOptions([]); });
    return () => { stale = true; };
  }, [q]);
  return (
    <Select id={id} showSearch allowClear filterOption={false} onSearch={setTyped} value={value} onChange={onChange}
      options={options} placeholder={t("customerSearch")} notFoundContent={q.length < 2 ? t("typeTwo") : t("noCustomer")} />
  );
}

export default function NewTicket() {
  const t = useT(m);
  const navigate = useNavigate();
  const f = useApiForm<Values, Schema<"Ticket">>({
    fields: NEW_TICKET_FIELDS,
    strip: ["ticket."],
    submit: (v) => unwrap(api.POST("/api/v1/tickets", {
      body: { ...v, subject: v.subject ?? "", notice_phone: v.notice_channel === "sms" ? v.notice_phone : undefined },
    })),
    onSuccess: (ticket) => navigate(`/tickets/${encodeURIComponent(ticket.id ?? "")}`),
  });
  const notice = Form.useWatch("notice_channel", f.form);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("newTicketTitle")}</Typography.Title>
      <Card style={{ maxWidth: 720 }}>
        <Form form={f.form} onFinish={f.onFinish} layout="vertical" initialValues={{ priority: "normal", channel: "phone", notice_channel: "email" }}>
          <ProblemAlert {...f.alert} />
          <Form.Item name="subject" label={t("subject")}><Input /></Form.Item>
          <Form.Item name="description" label={t("descriptionLabel")}><Input.TextArea rows={5} /></Form.Item>
          <Form.Item name="contact_id" label={t("customer")}><CustomerPicker /></Form.Item>
          <Form.Item name="priority" label={t("filterPriority")}>
            <Select options={PRIORITIES.map((v) => ({ value: v, label: priorityLabel(t, v) }))} />
          </Form.Item>
          <Form.Item name="channel" label={t("filterChannel")}>
            <Select options={CHANNELS.map((v) => ({ value: v, label: channelLabel(t, v) }))} />
          </Form.Item>
          <Form.Item name="notice_channel" label={t("noticeChannel")}>
            <Radio.Group options={NOTICE_CHANNELS.map((v) => ({ value: v, label: t(`channel_${v}`) }))} />
          </Form.Item>
          {notice === "sms" && (
            <Form.Item name="notice_phone" label={t("noticePhone")}><Input inputMode="tel" /></Form.Item>
          )}
          <Button type="primary" htmlType="submit" loading={f.submitting}>{t("createTicket")}</Button>
        </Form>
      </Card>
    </>
  );
}
