// Outgoing webhooks: the subscriptions the caller may see (cursor paged), a new one (its signing
// secret shown once, a refused target beside the URL field: the API checks it resolves to a public
// address), pause / resume, and each subscription's delivery log (cursor paged, by status) with
// "send again" for a parked delivery.
import { Alert, Button, Card, Form, Input, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { wm } from "./webhookMessages";

type Subscription = Schema<"WebhookSubscription">;
type Delivery = Schema<"WebhookDelivery">;
type Input = Schema<"WebhookSubscriptionInput">;
const STATUSES = ["pending", "delivered", "parked"] as const;
const PAGE_SIZE = 20;

export default function Webhooks() {
  const t = useT(wm);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [secret, setSecret] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [events, setEvents] = useState<string[]>([]);
  useEffect(() => {
    unwrap(api.GET("/api/v1/webhooks/event-types"))
      .then((e) => setEvents((e.event_types ?? []).map((x) => x.name ?? "").filter(Boolean)))
      .catch(() => setEvents([]));
  }, []);
  const fetchPage = useCallback(async (token: string): Promise<Page<Subscription>> => {
    const p = await unwrap(api.GET("/api/v1/webhooks/subscriptions", { params: { query: { page_size: PAGE_SIZE, page_token: token || undefined } } }));
    return { items: p.items, next_page_token: p.next_page_token };
  }, []);
  const subs = useCursorPages<Subscription>(fetchPage, "subscriptions");

  const f = useApiForm<Input, Subscription>({
    fields: ["target_url", "event_types", "description"],
    strip: ["subscription."],
    submit: (v) => unwrap(api.POST("/api/v1/webhooks/subscriptions", { body: {
      target_url: v.target_url ?? "", event_types: v.event_types ?? [], ...(v.description ? { description: v.description } : {}) } })),
    onSuccess: (made) => { setSecret(made.secret ?? null); subs.reload(); },
  });

  async function setStatus(s: Subscription, status: "active" | "paused") {
    try {
      await unwrap(api.PATCH("/api/v1/webhooks/subscriptions/{id}", { params: { path: { id: s.id ?? "" } }, body: { status } }));
      subs.reload();
    } catch (err) {
      void toast.error(err instanceof ApiError ? err.problem.detail ?? String(err) : String(err));
    }
  }

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("webhooksTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("webhooksNote")}</Typography.Paragraph>
      <Card title={<h2 className="card-title">{t("newSubscription")}</h2>} style={{ marginBottom: 16 }}>
        <Form form={f.form} onFinish={f.onFinish} layout="vertical" style={{ maxWidth: 640 }}>
          <ProblemAlert {...f.alert} />
          <Form.Item name="target_url" label={t("targetUrl")}><Input placeholder="https://erp.example.com/hooks/crm" /></Form.Item>
          <Form.Item name="event_types" label={t("eventTypes")}>
            <Select mode="multiple" allowClear options={events.map((e) => ({ value: e, label: e }))} />
          </Form.Item>
          <Form.Item name="description" label={t("description")}><Input /></Form.Item>
          <Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button>
        </Form>
        {secret && (
          <Alert type="warning" showIcon style={{ marginTop: 16 }} title={t("secretOnce")}
            description={<Typography.Text code copyable data-testid="webhook-secret">{secret}</Typography.Text>} />
        )}
      </Card>
      {subs.error ? <LoadError error={subs.error} retry={subs.reload} /> : (
        <>
          <Table<Subscription>
            rowKey={(s) => s.id ?? ""}
            loading={subs.loading}
            dataSource={subs.items}
            pagination={false}
            size="small"
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("noSubscriptions")}</span> }}
            expandable={{
              expandedRowKeys: open ? [open] : [],
              onExpand: (expanded, s) => setOpen(expanded ? s.id ?? null : null),
              expandedRowRender: (s) => <Deliveries subscription={s} />,
            }}
            columns={[
              { title: t("colTarget"), key: "target", render: (_, s) => <code style={{ wordBreak: "break-all" }}>{s.target_url}</code> },
              { title: t("colEvents"), key: "events", render: (_, s) => (s.event_types ?? []).map((e) => <Tag key={e}>{e}</Tag>) },
              { title: t("colStatus"), key: "status", render: (_, s) => s.status },
              { title: t("colOwner"), key: "owner", render: (_, s) => s.owner_id },
              { title: t("colCreated"), key: "created", render: (_, s) => formatDateTime(s.created_at, locale) },
              { title: "", key: "act", render: (_, s) => s.status === "paused"
                ? <Button size="small" onClick={() => setStatus(s, "active")}>{t("resume")}</Button>
                : <Button size="small" onClick={() => setStatus(s, "paused")}>{t("pause")}</Button> },
            ]}
          />
          <PagerButtons pages={subs} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: subs.page }) }} />
        </>
      )}
    </>
  );
}

function Deliveries({ subscription }: { subscription: Subscription }) {
  const t = useT(wm);
  const { locale } = useLocale();
  const [status, setStatus] = useState<(typeof STATUSES)[number] | undefined>(undefined);
  const [toast, holder] = message.useMessage();
  const id = subscription.id ?? "";
  const fetchPage = useCallback(async (token: string): Promise<Page<Delivery>> => {
    const p = await unwrap(api.GET("/api/v1/webhooks/subscriptions/{subscription_id}/deliveries", {
      params: { path: { subscription_id: id }, query: { status, page_size: PAGE_SIZE, page_token: token || undefined } } }));
    return { items: p.items, next_page_token: p.next_page_token };
  }, [id, status]);
  const pages = useCursorPages<Delivery>(fetchPage, `${id}:${status ?? ""}`);
  async function replay(d: Delivery) {
    try {
      await unwrap(api.POST("/api/v1/webhooks/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay", {
        params: { path: { subscription_id: id, delivery_id: d.id ?? "" } } }));
      void toast.success(t("replayed"));
      pages.reload();
    } catch (err) {
      void toast.error(err instanceof ApiError ? err.problem.detail ?? String(err) : String(err));
    }
  }
  return (
    <div>
      {holder}
      <Space style={{ marginBottom: 8 }}>
        <Typography.Text strong>{t("deliveries")}</Typography.Text>
        <Select aria-label={t("filterStatus")} placeholder={t("filterStatus")} allowClear style={{ width: 160 }} value={status}
          onChange={setStatus} options={STATUSES.map((s) => ({ value: s, label: s }))} />
      </Space>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Delivery>
            rowKey={(d) => d.id ?? ""}
            loading={pages.loading}
            dataSource={pages.items}
            pagination={false}
            size="small"
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("noDeliveries")}</span> }}
            columns={[
              { title: t("colEvent"), key: "event", render: (_, d) => d.event_type },
              { title: t("colStatus"), key: "status", render: (_, d) => d.status },
              { title: t("colAttempts"), key: "attempts", render: (_, d) => d.attempts },
              { title: t("colLast"), key: "last", render: (_, d) => [d.last_status_code || "", d.last_error].filter(Boolean).join(" ") },
              { title: t("colNext"), key: "next", render: (_, d) => formatDateTime(d.next_attempt_at, locale) },
              { title: "", key: "act", render: (_, d) => <Button size="small" onClick={() => replay(d)}>{t("replay")}</Button> },
            ]}
          />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </div>
  );
}
