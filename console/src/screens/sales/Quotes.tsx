// Quotes the caller may see, newest first, by status, paged by the API's cursors; a new quote
// starts in the builder.
import { Button, Flex, Select, Table, Tag, Typography } from "antd";
import { useCallback, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useLocale, useT } from "../../i18n";
import { formatDate, formatMoney } from "../../i18n/format";
import { label } from "./labels";
import { m } from "./messages";

type Quote = Schema<"Quote">;
const STATUSES = ["draft", "pending_approval", "approved", "rejected", "sent", "accepted", "declined", "superseded"] as const;
type Status = (typeof STATUSES)[number];

export default function Quotes() {
  const t = useT(m);
  const { locale } = useLocale();
  const navigate = useNavigate();
  const [status, setStatus] = useState<Status>();
  const key = JSON.stringify([status]);
  const fetchPage = useCallback((token: string): Promise<Page<Quote>> =>
    unwrap(api.GET("/api/v1/quotes", { params: { query: { status, page_size: 20, page_token: token || undefined } } })),
  [key]); // key holds the filter
  const pages = useCursorPages<Quote>(fetchPage, key);
  const columns = useMemo(() => [
    { title: t("colNumber"), key: "number", render: (_: unknown, q: Quote) => (
      <Link to={`/quotes/${encodeURIComponent(q.id ?? "")}`}>{t("quoteHeading", { number: q.number ?? q.id ?? "", version: q.version ?? 1 })}</Link>
    ) },
    { title: t("customerName"), dataIndex: "customer_name", key: "customer" },
    { title: t("colStatus"), dataIndex: "status", key: "status", render: (s: string) => <Tag>{label(locale, "quoteStatus", s)}</Tag> },
    { title: t("total_total"), key: "total", align: "end" as const, render: (_: unknown, q: Quote) => formatMoney(q.total, locale) },
    { title: t("validUntil"), dataIndex: "valid_until", key: "valid", render: (v: string) => formatDate(v, locale) },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDate(v, locale) },
  ], [t, locale]);
  return (
    <>
      <Flex justify="space-between" align="center" wrap gap="small">
        <Typography.Title level={1} style={{ fontSize: 22 }}>{t("quotesTitle")}</Typography.Title>
        <Button type="primary" onClick={() => navigate("/quotes/new")}>{t("newQuote")}</Button>
      </Flex>
      <Select aria-label={t("colStatus")} placeholder={t("colStatus")} allowClear style={{ width: 180, marginBottom: 16 }}
        value={status} onChange={setStatus} options={STATUSES.map((s) => ({ value: s, label: label(locale, "quoteStatus", s) }))} />
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Quote> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading} pagination={false}
            size="middle" locale={{ emptyText: t("quotesEmpty") }} />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}
