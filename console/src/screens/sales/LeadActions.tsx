// What a lead's row offers, each a small form through the shared form helper (the API's field
// errors beside their fields): change its status (a reason for disqualified / nurturing), convert
// a qualified lead, and, for managers, assign it to a rep or run the assignment rules again.
import { Form, Input, Modal, Select, Space, type FormInstance } from "antd";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { m } from "./messages";

type Lead = Schema<"Lead">;
export type LeadAction = "working" | "qualified" | "disqualified" | "nurturing" | "convert" | "assign";

export const CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY"] as const;

/** The sales service's lead transitions (rules/leads.py TRANSITIONS): the console offers only
 * these; the API still checks. */
const NEXT: Record<string, LeadAction[]> = {
  new: ["working", "qualified", "disqualified", "nurturing"],
  working: ["qualified", "disqualified", "nurturing"],
  qualified: ["convert", "working", "disqualified", "nurturing"],
  nurturing: ["working", "qualified", "disqualified"],
  disqualified: ["working"],
};
const ASSIGNABLE = new Set(["new", "working", "qualified"]); // assign_lead: OPEN + qualified

export function actionsFor(lead: Lead, manager: boolean): LeadAction[] {
  const status = lead.status || "new";
  return [...(NEXT[status] ?? []), ...(manager && ASSIGNABLE.has(status) ? ["assign" as const] : [])];
}

interface Props {
  lead: Lead;
  action: LeadAction;
  reps: Schema<"SalesRep">[];
  onDone: (changed: boolean) => void;
}

export function LeadActionModal(props: Props) {
  if (props.action === "convert") return <ConvertModal {...props} />;
  if (props.action === "assign") return <AssignModal {...props} />;
  return <StatusModal {...props} />;
}

function Frame({ title, f, onCancel, children }: {
  title: string; f: { form: FormInstance; submitting: boolean };
  onCancel: () => void; children: React.ReactNode;
}) {
  const t = useT(m);
  return (
    <Modal open title={title} onCancel={onCancel} onOk={() => f.form.submit()} okText={t("confirm")}
      confirmLoading={f.submitting} destroyOnHidden>
      {children}
    </Modal>
  );
}

function StatusModal({ lead, action, onDone }: Props) {
  const t = useT(m);
  const needsReason = action === "disqualified" || action === "nurturing";
  const f = useApiForm<{ reason?: string }, Lead>({
    fields: ["reason", "status"],
    submit: (v) => unwrap(api.POST("/api/v1/leads/{id}/status", {
      params: { path: { id: lead.id ?? "" }, header: lead.version ? { "If-Match": `"${lead.version}"` } : {} },
      body: { status: action, ...(v.reason ? { reason: v.reason } : {}) },
    })),
    onSuccess: () => onDone(true),
  });
  return (
    <Frame title={t(`act_${action as "working"}`) + " · " + (lead.name ?? "")} f={f} onCancel={() => onDone(false)}>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}>
        <ProblemAlert {...f.alert} />
        {needsReason ? (
          <Form.Item name="reason" label={t("reason")}>
            <Input.TextArea rows={3} maxLength={20000} />
          </Form.Item>
        ) : (
          <p>{t("statusConfirm", { name: lead.name ?? "", status: t(`status_${action as "working"}`) })}</p>
        )}
      </Form>
    </Frame>
  );
}

interface ConvertValues {
  opportunity_name?: string;
  amount?: { amount?: string; currency_code?: string };
  expected_close_date?: string;
}

function ConvertModal({ lead, onDone }: Props) {
  const t = useT(m);
  const f = useApiForm<ConvertValues, Schema<"ConvertLeadResponse">>({
    fields: ["opportunity_name", "amount.amount", "amount.currency_code", "expected_close_date"],
    aliases: { amount: "amount.amount" },
    submit: (v) => unwrap(api.POST("/api/v1/leads/{id}/convert", {
      params: { path: { id: lead.id ?? "" } },
      body: {
        ...(v.opportunity_name ? { opportunity_name: v.opportunity_name } : {}),
        ...(v.amount?.amount ? { amount: { amount: v.amount.amount, currency_code: v.amount.currency_code ?? "CNY" } } : {}),
        ...(v.expected_close_date ? { expected_close_date: v.expected_close_date } : {}),
      },
    })),
    onSuccess: () => onDone(true),
  });
  return (
    <Frame title={t("act_convert") + " · " + (lead.name ?? "")} f={f} onCancel={() => onDone(false)}>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}
        initialValues={{ opportunity_name: lead.company || lead.name, amount: { currency_code: lead.currency_code || "CNY" } }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="opportunity_name" label={t("opportunityName")}>
          <Input maxLength={300} />
        </Form.Item>
        <Space.Compact block>
          <Form.Item name={["amount", "currency_code"]} label={t("currency")} style={{ width: 110 }}>
            <Select options={CURRENCIES.map((c) => ({ value: c, label: c }))} />
          </Form.Item>
          <Form.Item name={["amount", "amount"]} label={t("amount")} style={{ flex: 1 }}>
            <Input inputMode="decimal" placeholder="480000.00" />
          </Form.Item>
        </Space.Compact>
        <Form.Item name="expected_close_date" label={t("expectedClose")}>
          <Input type="date" />
        </Form.Item>
      </Form>
    </Frame>
  );
}

function AssignModal({ lead, reps, onDone }: Props) {
  const t = useT(m);
  const f = useApiForm<{ owner_id?: string }, Lead>({
    fields: ["owner_id"],
    submit: (v) => unwrap(api.POST("/api/v1/leads/{id}/assign", {
      params: { path: { id: lead.id ?? "" } },
      body: v.owner_id ? { owner_id: v.owner_id } : {},
    })),
    onSuccess: () => onDone(true),
  });
  return (
    <Frame title={t("act_assign") + " · " + (lead.name ?? "")} f={f} onCancel={() => onDone(false)}>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ owner_id: "" }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="owner_id" label={t("assignTo")}>
          <Select options={[
            { value: "", label: t("assignByRules") },
            ...reps.filter((r) => r.active !== false).map((r) => ({
              value: r.user_id ?? "", label: t("repOption", { name: r.name || r.user_id || "", n: r.open_leads ?? 0 }),
            })),
          ]} />
        </Form.Item>
      </Form>
    </Frame>
  );
}
