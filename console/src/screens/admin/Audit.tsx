// Every service's audit log, merged newest first: filter by service, actor, action, record, request
// and time; cursor paged. A filter the API refuses (since after until) is shown beside its field.
import { Button, Form, Input, Select, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert } from "../../forms/useApiForm";
import { placeErrors } from "../../forms/placeErrors";
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

export default function Audit() {
  const t = useT(m);
  const { locale } = useLocale();
  const [form] = Form.useForm<Filters>();
  const [filters, setFilters] = useState<Filters>({});
  const key = JSON.stringify(filters);
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Entry>> => {
    const f = filters;
    const page = await unwrap(api.GET("/api/v1/audit", { params: { query: {
      service: (f.service || undefined) as (typeof SERVICES)[number] | undefined,
      actor: f.actor?.trim() || undefined, action: f.action?.trim() || undefined,
      record_type: f.record_type?.trim() || undefined, record_id: f.record_id?.trim() || undefined,
      request_id: f.request_id?.trim() || undefined, since: instant(f.since), until: instant(f.until),
      page_size: PAGE_SIZE, page_token: pageToken || undefined,
    } } }));
    return { items: page.items, next_page_token: page.next_page_token };
  }, [key]); // key holds the filters
  const pages = useCursorPages<Entry>(fetchPage, key);
  const fieldErrors = pages.error?.fieldErrors ?? [];
  const placement = placeErrors(fieldErrors, { fields: FIELDS, aliases: { page_token: "service" } });
  useEffect(() => {
    form.setFields(placement.placed.map((p) => ({ name: p.name as never, errors: p.errors })));
  }, [pages.error]); // place each refusal once per answer

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("auditTitle")}</Typography.Title>
      <Form form={form} layout="inline" onFinish={(v) => setFilters({ ...v })} style={{ marginBottom: 16, rowGap: 8 }}>
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
        <Button type="primary" htmlType="submit">{t("filter")}</Button>
      </Form>
      {pages.error && fieldErrors.length > 0 ? (
        <ProblemAlert detail={placement.unplaced.length || !placement.placed.length ? pages.error.problem.detail ?? null : null}
                      unplaced={placement.unplaced} />
      ) : pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : null}
      {!(pages.error && fieldErrors.length === 0) && (
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
