// The sales and support settings as the API holds them: pipelines with their stages and entry /
// exit criteria, approval and follow-up rules, lead assignment and public-pool rules and ticket
// routing rules (read-only here); SLA policies with the business hours (editable: SlaEditor).
import { Card, Descriptions, Space, Table, Tag } from "antd";
import type { ReactNode } from "react";
import type { Schema } from "../../api";
import { useLocale, useT, type Locale } from "../../i18n";
import { m } from "./messages";
import { SlaEditor } from "./SlaEditor";

type Sales = Schema<"SalesSettings">;
type Support = Schema<"SupportSettings">;
type Criterion = Schema<"Criterion">;

const tags = (xs: string[] | undefined) => (xs ?? []).map((x) => <Tag key={x}>{x}</Tag>);

function Section({ title, children }: { title: string; children: ReactNode }) {
  return <Card size="small" title={<h2 className="card-title">{title}</h2>} style={{ marginBottom: 16 }}>{children}</Card>;
}

function criteria(list: Criterion[] | undefined) {
  if (!list?.length) return "—";
  return (
    <ul style={{ margin: 0, paddingInlineStart: 18 }}>
      {list.map((c, i) => <li key={i}><code>{c.field || c.kind}</code>{c.message ? ` — ${c.message}` : ""}</li>)}
    </ul>
  );
}

export function StagesAndRules({ sales }: { sales: Sales }) {
  const t = useT(m);
  return (
    <>
      {(sales.pipelines ?? []).map((p) => (
        <Section key={p.id} title={`${t("pipeline")}: ${p.name || p.id}`}>
          <Table size="small" pagination={false} rowKey={(s) => s.key ?? ""} dataSource={p.stages ?? []}
            columns={[
              { title: t("stage"), key: "name", render: (_, s) => <>{s.name} <code>{s.key}</code></> },
              { title: t("probability"), key: "p", render: (_, s) => `${s.probability ?? 0}%` },
              { title: t("outcome"), dataIndex: "outcome", key: "outcome" },
              { title: t("entryCriteria"), key: "in", render: (_, s) => criteria(s.entry_criteria) },
              { title: t("exitCriteria"), key: "out", render: (_, s) => criteria(s.exit_criteria) },
            ]} />
        </Section>
      ))}
      <Section title={t("approvals")}>
        <Table size="small" pagination={false} rowKey={(x) => x.id ?? ""} dataSource={sales.approval_policies ?? []}
          columns={[
            { title: t("priorityCol"), dataIndex: "order", key: "order" },
            { title: t("condition"), dataIndex: "condition", key: "condition" },
            { title: t("threshold"), dataIndex: "threshold", key: "threshold" },
            { title: t("approver"), dataIndex: "approver_role", key: "role" },
            { title: t("description"), dataIndex: "description", key: "d" },
          ]} />
      </Section>
      <Section title={t("followUps")}>
        <Table size="small" pagination={false} rowKey={(x) => x.id ?? ""} dataSource={sales.follow_up_rules ?? []}
          columns={[
            { title: t("trigger"), dataIndex: "trigger", key: "trigger" },
            { title: t("stage"), dataIndex: "stage", key: "stage" },
            { title: t("days"), dataIndex: "days", key: "days" },
            { title: t("task"), dataIndex: "task_title", key: "task" },
          ]} />
      </Section>
    </>
  );
}

export function AssignmentRules({ sales }: { sales: Sales }) {
  const t = useT(m);
  return (
    <>
      <Section title={t("tabAssignment")}>
        <Table size="small" pagination={false} rowKey={(x) => x.id ?? ""}
          dataSource={[...(sales.assignment_rules ?? [])].sort((a, b) => (a.priority ?? 0) - (b.priority ?? 0))}
          columns={[
            { title: t("priorityCol"), dataIndex: "priority", key: "priority" },
            { title: t("regions"), key: "regions", render: (_, r) => tags(r.regions) },
            { title: t("provinces"), key: "provinces", render: (_, r) => tags(r.provinces) },
            { title: t("sources"), key: "sources", render: (_, r) => tags(r.sources) },
            { title: t("strategy"), dataIndex: "strategy", key: "strategy" },
            { title: t("members"), key: "members", render: (_, r) => tags(r.members) },
            { title: t("team"), dataIndex: "team", key: "team" },
            { title: t("responseHours"), dataIndex: "response_hours", key: "h" },
            { title: t("description"), dataIndex: "description", key: "d" },
          ]} />
      </Section>
      <Section title={t("poolRules")}>
        <Table size="small" pagination={false} rowKey={(x) => x.team ?? ""} dataSource={sales.pool_rules ?? []}
          columns={[
            { title: t("team"), dataIndex: "team", key: "team" },
            { title: t("inactiveDays"), dataIndex: "inactive_days", key: "i" },
            { title: t("unconvertedDays"), dataIndex: "unconverted_days", key: "u" },
            { title: t("claimLimit"), dataIndex: "claim_limit", key: "c" },
            { title: t("cooldownDays"), dataIndex: "cooldown_days", key: "cd" },
          ]} />
      </Section>
    </>
  );
}

/** ISO weekdays (1 = Monday) as the locale names them. */
function weekdayNames(days: number[], locale: Locale): string {
  const f = new Intl.DateTimeFormat(locale, { weekday: "short", timeZone: "UTC" });
  return days.map((d) => f.format(new Date(Date.UTC(2024, 0, d)))).join(locale === "en" ? ", " : "、");
}

export function SlaPolicies({ support, onSaved }: { support: Support; onSaved: (s: Support) => void }) {
  const t = useT(m);
  const { locale } = useLocale();
  const hours = support.business_hours;
  return (
    <Section title={t("tabSla")}>
      <Space direction="vertical" style={{ width: "100%" }}>
        {hours && (
          <Descriptions size="small" column={1}>
            <Descriptions.Item label={t("businessHours")}>
              {t("hoursWindow", { days: weekdayNames(hours.weekdays ?? [], locale), start: hours.start ?? "",
                                  end: hours.end ?? "", tz: hours.timezone ?? "" })}
            </Descriptions.Item>
          </Descriptions>
        )}
        <SlaEditor support={support} onSaved={onSaved} />
      </Space>
    </Section>
  );
}

export function RoutingRules({ support }: { support: Support }) {
  const t = useT(m);
  return (
    <Section title={t("tabRouting")}>
      <Table size="small" pagination={false} rowKey={(x) => x.id ?? ""} dataSource={support.routing_rules ?? []}
        columns={[
          { title: t("name"), dataIndex: "name", key: "name" },
          { title: t("matches"), key: "match", render: (_, r) => (
            <>{tags(r.types)}{tags(r.priorities)}{tags(r.keywords)}{tags(r.customer_levels)}{tags(r.languages)}{tags(r.channels)}</>
          ) },
          { title: t("group"), dataIndex: "group", key: "group" },
          { title: t("agents"), key: "agents", render: (_, r) => tags(r.agents) },
          { title: t("strategy"), dataIndex: "strategy", key: "strategy" },
          { title: t("setPriority"), dataIndex: "set_priority", key: "sp" },
        ]} />
    </Section>
  );
}
