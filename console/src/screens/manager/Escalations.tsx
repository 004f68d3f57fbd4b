// Tickets escalated to the caller (an SLA breach reaches the policy's supervisor), open ones
// first, with their SLA clocks; cursor paged.
import { Switch, Table, Tag, Typography, Space } from "antd";
import { useCallback, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime, formatRelative } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { STATUS_TAG } from "./thresholds";

type Ticket = Schema<"Ticket">;
type Clock = Schema<"SlaClock">;
const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
const PAGE_SIZE = 20;

export default function Escalations() {
  const t = useT(m);
  const { locale } = useLocale();
  const [openOnly, setOpenOnly] = useState(true);
  const key = String(openOnly);
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Ticket>> => {
    const page = await unwrap(api.GET("/api/v1/tickets/escalated-to-me", {
      params: { query: { open_only: openOnly, page_size: PAGE_SIZE, page_token: pageToken || undefined } },
    }));
    return { items: page.items, next_page_token: page.next_page_token };
  }, [openOnly]);
  const pages = useCursorPages<Ticket>(fetchPage, key);

  function clock(c: Clock) {
    if (c.breached) return <Tag color={STATUS_TAG.red} key={c.metric}>{c.metric} · {t("slaBreached")}</Tag>;
    if (c.met_at) return <Tag color={STATUS_TAG.green} key={c.metric}>{c.metric} · {t("slaMet")}</Tag>;
    if (c.due_at) return <Tag color={c.warned ? STATUS_TAG.amber : undefined} key={c.metric}>
      {c.metric} · {t("slaDue", { when: formatRelative(c.due_at, locale) })}</Tag>;
    return null;
  }

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("escalationsTitle")}</Typography.Title>
      <Space style={{ marginBottom: 16 }}>
        <Switch id="open-only" checked={openOnly} onChange={setOpenOnly} />
        <label htmlFor="open-only">{t("openOnly")}</label>
      </Space>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Ticket>
            rowKey={(x) => x.id ?? ""}
            loading={pages.loading}
            dataSource={pages.items}
            pagination={false}
            locale={{ emptyText: t("escalationsEmpty") }}
            columns={[
              { title: t("colNumber"), key: "number",
                render: (_, x) => <Link to={`/tickets/${encodeURIComponent(x.id ?? "")}`}>{x.number || x.id}</Link> },
              { title: t("colSubject"), dataIndex: "subject", key: "subject" },
              { title: t("colPriority"), key: "priority", render: (_, x) => {
                const p = PRIORITIES.find((v) => v === x.priority);
                return p ? <Tag color={p === "urgent" ? STATUS_TAG.red : p === "high" ? STATUS_TAG.amber : undefined}>{t(`priority_${p}`)}</Tag> : x.priority;
              } },
              { title: t("colStatus"), dataIndex: "status", key: "status" },
              { title: t("colSla"), key: "sla", render: (_, x) => (x.sla ?? []).map(clock) },
              { title: t("colAssignee"), dataIndex: "assignee_id", key: "assignee" },
              { title: t("colEscalatedTo"), dataIndex: "escalated_to", key: "escalated_to" },
              { title: t("colCreated"), key: "created", render: (_, x) => formatDateTime(x.created_at, locale) },
            ]}
          />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}
