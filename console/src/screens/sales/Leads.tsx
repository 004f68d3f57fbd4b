// The leads inbox: the leads the API lets the caller see (a rep's own, a manager's team), newest
// first, filtered and paged by the API's cursors; each row opens its score breakdown (which rule
// gave how many points) and offers what the API allows from its status.
import { Button, Checkbox, Flex, Input, InputNumber, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { hasRole, useUser } from "../../auth/session";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatNumber, formatRelative } from "../../i18n/format";
import { actionsFor, LeadActionModal, type LeadAction } from "./LeadActions";
import { usePicklist } from "../customers/picklists";
import { ExportButton } from "../admin/ExportButton";
import { label, TAG } from "./labels";
import { m } from "./messages";

type Lead = Schema<"Lead">;
const PAGE_SIZE = 20;
const STATUSES = ["new", "working", "qualified", "nurturing", "disqualified", "converted"] as const;
type Status = (typeof STATUSES)[number];

function listLeads(query: { status?: Status; q?: string; min_score?: number; unassigned?: boolean }, pageToken: string) {
  return unwrap(api.GET("/api/v1/leads", { params: { query: { ...query, page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
}

export default function Leads() {
  const t = useT(m);
  const { locale } = useLocale();
  const user = useUser();
  const manager = hasRole(user, ["manager"]);
  const [toast, holder] = message.useMessage();
  const [status, setStatus] = useState<Status>();
  const [typed, setTyped] = useState("");
  const [minScore, setMinScore] = useState<number | null>(null);
  const [unassigned, setUnassigned] = useState(false);
  const [acting, setActing] = useState<{ lead: Lead; action: LeadAction } | null>(null);
  const [reps, setReps] = useState<Schema<"SalesRep">[]>([]);
  const q = useDebounced(typed.trim(), 250);

  useEffect(() => {
    if (!manager) return;
    unwrap(api.GET("/api/v1/sales/reps", { params: { query: user?.team ? { team: user.team } : {} } }))
      .then((list) => setReps(list.items))
      .catch(() => setReps([])); // without the list the rules can still assign
  }, [manager, user?.team]);

  const key = JSON.stringify([status, q, minScore, unassigned]);
  const fetchPage = useCallback(
    (token: string): Promise<Page<Lead>> =>
      listLeads({ status, q: q || undefined, min_score: minScore ?? undefined, unassigned: unassigned || undefined }, token),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Lead>(fetchPage, key);

  const sources = usePicklist("source");
  const industries = usePicklist("industry");
  const columns = useMemo(() => [
    { title: t("colLead"), key: "name", render: (_: unknown, l: Lead) => (
      <>
        <Typography.Text strong>{l.name}</Typography.Text>
        {l.company && <div><Typography.Text type="secondary">{l.company}</Typography.Text></div>}
      </>
    ) },
    { title: t("colScore"), dataIndex: "score", key: "score", render: (s: number | undefined) => <Tag color={(s ?? 0) >= 60 ? TAG.good : undefined}>{formatNumber(s ?? 0, locale)}</Tag> },
    { title: t("colStatus"), dataIndex: "status", key: "status", render: (s: string) => label(locale, "status", s) },
    { title: t("colSource"), dataIndex: "source", key: "source", render: (s: string) => sources.labelOf(s, locale) },
    { title: t("colIndustry"), dataIndex: "industry", key: "industry", render: (s: string) => industries.labelOf(s, locale) },
    { title: t("colOwner"), dataIndex: "owner_id", key: "owner", render: (o: string) => o || <Typography.Text type="secondary">{t("unowned")}</Typography.Text> },
    { title: t("colRespond"), key: "due", render: (_: unknown, l: Lead) => <ResponseDue lead={l} /> },
    { title: t("colActions"), key: "actions", render: (_: unknown, l: Lead) => (
      <Space size={4} wrap>
        {actionsFor(l, manager).map((a) => (
          <Button key={a} size="small" type={a === "convert" ? "primary" : "default"} onClick={() => setActing({ lead: l, action: a })}>
            {t(`act_${a}`)}
          </Button>
        ))}
      </Space>
    ) },
  ], [t, locale, manager, sources, industries]);

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("leadsTitle")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }} align="center">
        <Input.Search aria-label={t("leadsSearch")} placeholder={t("leadsSearch")} allowClear style={{ width: 260 }}
          value={typed} onChange={(e) => setTyped(e.target.value)} />
        <Select aria-label={t("colStatus")} placeholder={t("colStatus")} allowClear style={{ width: 150 }} value={status}
          onChange={setStatus} options={STATUSES.map((s) => ({ value: s, label: label(locale, "status", s) }))} />
        <InputNumber aria-label={t("minScore")} placeholder={t("minScore")} style={{ width: 130 }} min={-10000} max={10000}
          value={minScore} onChange={(v) => setMinScore(typeof v === "number" ? v : null)} />
        {manager && <Checkbox checked={unassigned} onChange={(e) => setUnassigned(e.target.checked)}>{t("unassignedOnly")}</Checkbox>}
        <span style={{ marginInlineStart: "auto" }}>
          <ExportButton list="leads" filters={{ status, q, min_score: minScore, unassigned }} />
        </span>
      </Flex>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Lead>
            rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading} pagination={false} size="middle"
            locale={{ emptyText: t("leadsEmpty") }}
            expandable={{ expandedRowRender: (l) => <ScoreBreakdown lead={l} />, expandRowByClick: false }}
          />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
      {acting && (
        <LeadActionModal lead={acting.lead} action={acting.action} reps={reps} onDone={(changed) => {
          setActing(null);
          if (changed) {
            void toast.success(t("saved"));
            pages.reload();
          }
        }} />
      )}
    </>
  );
}

function ResponseDue({ lead }: { lead: Lead }) {
  const t = useT(m);
  const { locale } = useLocale();
  if (lead.first_response_at) return <Typography.Text type="secondary">{t("responded")}</Typography.Text>;
  if (!lead.response_due_at) return null;
  const late = new Date(lead.response_due_at).getTime() < Date.now();
  return (
    <span title={formatDateTime(lead.response_due_at, locale)}>
      {late ? <Tag color={TAG.bad}>{t("respondLate", { when: formatRelative(lead.response_due_at, locale) })}</Tag>
        : formatRelative(lead.response_due_at, locale)}
    </span>
  );
}

/** Why the lead scores what it does: each rule's reason and points, as the API computed them. */
export function ScoreBreakdown({ lead }: { lead: Lead }) {
  const t = useT(m);
  const { locale } = useLocale();
  const items = lead.score_breakdown ?? [];
  const activity = Object.entries(lead.activity ?? {});
  return (
    <div data-testid="score-breakdown">
      <Typography.Text strong>{t("scoreBreakdown", { n: formatNumber(lead.score ?? 0, locale) })}</Typography.Text>
      {items.length === 0 ? <div><Typography.Text type="secondary">{t("scoreNone")}</Typography.Text></div> : (
        <table style={{ marginTop: 4, borderCollapse: "collapse" }}>
          <thead><tr><th style={{ textAlign: "start", paddingInlineEnd: 24 }}>{t("scoreRule")}</th><th style={{ textAlign: "end" }}>{t("scorePoints")}</th></tr></thead>
          <tbody>
            {items.map((s, i) => (
              <tr key={(s.rule_id ?? "") + i}>
                <td style={{ paddingInlineEnd: 24 }}>{s.reason || s.rule_id}</td>
                <td style={{ textAlign: "end" }}>{(s.points ?? 0) > 0 ? "+" : ""}{formatNumber(s.points ?? 0, locale)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {activity.length > 0 && (
        <div style={{ marginTop: 4 }}>
          {t("activity")}: {activity.map(([k, n]) => `${label(locale, "activity", k)} × ${formatNumber(n, locale)}`).join(" · ")}
        </div>
      )}
      {lead.status_reason && <div style={{ marginTop: 4 }}>{t("statusReason")}: {lead.status_reason}</div>}
    </div>
  );
}
