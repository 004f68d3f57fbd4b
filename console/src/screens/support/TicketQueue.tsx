// The agent's queue: the tickets the API lets the caller see, newest first, filtered by status,
// priority and channel, a cursor page at a time; each row shows its most urgent SLA clock with a
// countdown that ticks here between answers (from the API's due and warning times).
import { Button, Flex, Select, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { CHANNELS, PRIORITIES, PRIORITY_TONE, STATUSES, channelLabel, priorityLabel, statusLabel } from "./labels";
import { m } from "./messages";
import { mostUrgent } from "./sla";
import { SlaTag } from "./SlaTag";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useNow } from "./useNow";
import { ExportButton } from "../admin/ExportButton";

type Ticket = Schema<"Ticket">;
type Status = (typeof STATUSES)[number];
type Priority = (typeof PRIORITIES)[number];
type Channel = (typeof CHANNELS)[number];

const PAGE_SIZE = 20;
const REFRESH_MS = 60_000;

export default function TicketQueue() {
  const t = useT(m);
  const { locale } = useLocale();
  const now = useNow();
  const navigate = useNavigate();
  const [status, setStatus] = useState<Status>();
  const [priority, setPriority] = useState<Priority>();
  const [channel, setChannel] = useState<Channel>();

  const key = JSON.stringify([status, priority, channel]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Ticket>> =>
      unwrap(api.GET("/api/v1/tickets", {
        params: { query: { status, priority, channel, page_size: PAGE_SIZE, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Ticket>(fetchPage, key);
  // new tickets and the server's SLA flags arrive without the agent reloading; the countdowns
  // tick locally in between
  const { reload } = pages;
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  const columns = useMemo(() => [
    { title: t("colNumber"), key: "number",
      render: (_: unknown, row: Ticket) => <Link to={`/tickets/${encodeURIComponent(row.id ?? "")}`}>{row.number || row.id}</Link> },
    { title: t("colSubject"), dataIndex: "subject", key: "subject" },
    { title: t("colRequester"), key: "requester", render: (_: unknown, row: Ticket) => row.requester_name || row.requester_email },
    { title: t("colChannel"), dataIndex: "channel", key: "channel",
      render: (v: string) => (v ? <Tag style={TONE.grey} data-channel={v}>{channelLabel(t, v)}</Tag> : null) },
    { title: t("colPriority"), dataIndex: "priority", key: "priority",
      render: (v: string) => <Tag style={TONE[PRIORITY_TONE[v || "normal"] ?? "grey"]}>{priorityLabel(t, v)}</Tag> },
    { title: t("colStatus"), dataIndex: "status", key: "status", render: (v: string) => statusLabel(t, v) },
    { title: t("colSla"), key: "sla", render: (_: unknown, row: Ticket) => <SlaTag view={mostUrgent(row.sla, now)} t={t} /> },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDateTime(v, locale) },
  ], [t, locale, now]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("queueTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Select aria-label={t("filterStatus")} placeholder={t("filterStatus")} allowClear style={{ width: 150 }}
          value={status} onChange={setStatus} options={STATUSES.map((v) => ({ value: v, label: statusLabel(t, v) }))} />
        <Select aria-label={t("filterPriority")} placeholder={t("filterPriority")} allowClear style={{ width: 150 }}
          value={priority} onChange={setPriority} options={PRIORITIES.map((v) => ({ value: v, label: priorityLabel(t, v) }))} />
        <Select aria-label={t("filterChannel")} placeholder={t("filterChannel")} allowClear style={{ width: 160 }}
          value={channel} onChange={setChannel} options={CHANNELS.map((v) => ({ value: v, label: channelLabel(t, v) }))} />
        <span style={{ marginInlineStart: "auto" }} />
        <ExportButton list="tickets" filters={{ status, priority, channel }} />
        <Button type="primary" onClick={() => navigate("/tickets/new")}>{t("newTicket")}</Button>
      </Flex>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <div data-testid="ticket-queue">
          <Table<Ticket>
            rowKey="id"
            columns={columns}
            dataSource={pages.items}
            loading={pages.loading}
            pagination={false}
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }}
            size="middle"
          />
          </div>
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}
