// Every service's audit log, merged newest first: filter by service, actor, action, record, request
// and time; cursor paged. A filter the API refuses (since after until) is shown beside its field
// (the form helper, useApiForm).
import { Button, Form, Input, Select, Table, Tag, Typography } from "antd";
import { useCallback, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";

type Entry = Schema<"AuditEntry">;
const SERVICES = ["contacts", "sales", "marketing", "support", "reporting", "privacy"] as const;
const FIELDS = ["service", "actor", "action", "record_type", "record_id", "request_id", "since", "until"] as const;
type Filters = Partial<Record<(typeof FIELDS)[number], string>>;
const PAGE_SIZE = 50;

/** A datetime-local value (the browser's local time) as the API's RFC 3339 instant. */
function instant(local: string | undefined): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString(); // an unreadable value goes as typed: the API names it
}

/** One page of the log under these filters. */
async function auditPage(f: Filters, pageToken: string, pageSize: number): Promise<Page<Entry>> {
  const page = await unwrap(api.GET("/api/v1/audit", { params: { query: {
    service: (f.service || undefined) as (typeof SERVICES)[number] | undefined,
    actor: f.actor?.trim() || undefined, action: f.action?.trim() || undefined,
    record_type: f.record_type?.trim() || undefined, record_id: f.record_id?.trim() || undefined,
    request_id: f.request_id?.trim() || undefined, since: instant(f.since), until: instant(f.until),
    page_size: pageSize, page_token: pageToken || undefined,
  } } }));
  return { items: page.items, next_page_token: page.next_page_token };
}

export default function Audit() {
  const t = useT(m);
  const { locale } = useLocale();
  const [filters, setFilters] = useState<Filters>({});
  const key = JSON.stringify(filters);
  // New filters go through the form helper: the API checks them (one entry asked for), and a
  // refusal (since after until, an unknown service) stands beside its field; the list follows.
  const f = useApiForm<Filters, Filters>({
    fields: FIELDS,
    aliases: { page_token: "service" },
    resetOnSuccess: false,
    submit: async (v) => { await auditPage(v, "", 1); return { ...v }; },
    onSuccess: (v) => setFilters(v),
  });
  const fetchPage = useCallback((pageToken: string) => auditPage(filters, pageToken, PAGE_SIZE), [key]); // key holds the filters
  const pages = useCursorPages<Entry>(fetchPage, key);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("auditTitle")}</Typography.Title>
      <ProblemAlert {...f.alert} />
      <Form form={f.form} layout="inline" onFinish={f.onFinish} style={{ marginBottom: 16, rowGap: 8 }}>
        <Form.Item name="service" label={t("service")}>
          <Select allowClear placeholder={t("anyService")} style={{ width: 150 }}
                  options={SERVICES.map((s) => ({ value: s, label: s }))} />
        </Form.Item>
        <Form.Item name="actor" label={t("actor")}><Input style={{ width: 140 }} /></Form.Item>
        <Form.Item name="action" label={t("action")}><Input style={{ width: 120 }} /></Form.Item>
        <Form.Item name="record_type" label={t("recordType")}><Input style={{ width: 120 }} /></Form.Item>
        <Form.Item name="record_id" label={t("recordId")}><Input style={{ width: 160 }} /></Form.Item>
        <Form.Item name="request_id" label={t("requestId")}><Input style={{ width: 160 }} /></Form.Item>
        <Form.Item name="since" label={t("since")}><Input type="datetime-local" /></Form.Item>
        <Form.Item name="until" label={t("until")}><Input type="datetime-local" /></Form.Item>
        <Button type="primary" htmlType="submit" loading={f.submitting}>{t("filter")}</Button>
      </Form>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Entry>
            rowKey={(e) => `${e.service}.${e.seq}`}
            loading={pages.loading}
            dataSource={pages.items}
            pagination={false}
            locale={{ emptyText: t("auditEmpty") }}
            size="small"
            columns={[
              { title: t("at"), key: "at", render: (_, e) => formatDateTime(e.at, locale) },
              { title: t("service"), dataIndex: "service", key: "service" },
              { title: t("actor"), dataIndex: "actor", key: "actor" },
              { title: t("action"), key: "action", render: (_, e) => <Tag>{e.action}</Tag> },
              { title: t("recordType"), dataIndex: "record_type", key: "rt" },
              { title: t("recordId"), key: "rid", render: (_, e) => <code style={{ wordBreak: "break-all" }}>{e.record_id}</code> },
              { title: t("fields"), key: "fields", render: (_, e) => (e.fields ?? []).join(", ") },
              { title: t("requestId"), key: "req", render: (_, e) => <code style={{ wordBreak: "break-all" }}>{e.request_id}</code> },
              { title: t("client"), dataIndex: "client_addr", key: "client" },
              { title: t("details"), dataIndex: "details", key: "details" },
            ]}
          />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}
