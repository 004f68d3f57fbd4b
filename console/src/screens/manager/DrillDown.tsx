// The records behind a figure: a dashboard widget's (its figure, or one row by its keys) or a
// report row's (the query in the URL). Reporting pages the ids with a cursor; each page's records
// are read from their services, so what is listed is what the caller may open.
import { Alert, Table, Tag, Typography } from "antd";
import { useCallback, useRef } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime, formatMoney, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { parseKeys, parseQuery } from "./drill";
import { m } from "./messages";
import { readRecords, type RecordRow } from "./records";

type Drilled = Schema<"DrillDownResult">;
const PAGE_SIZE = 20;

export default function DrillDown() {
  const t = useT(m);
  const { locale } = useLocale();
  const { id: dashboardId, widgetId } = useParams();
  const [search] = useSearchParams();
  const keys = parseKeys(search.get("keys"));
  const query = parseQuery(search.get("query"));
  const what = search.get("what") ?? "";
  const total = useRef<{ key: string; n: number } | null>(null);
  const key = JSON.stringify([dashboardId, widgetId, keys, search.get("query")]);

  const fetchPage = useCallback(async (pageToken: string): Promise<Page<RecordRow>> => {
    const page = { page_size: PAGE_SIZE, page_token: pageToken };
    let answer: Drilled;
    if (dashboardId && widgetId) {
      answer = await unwrap(api.POST("/api/v1/reports/dashboards/{id}/widgets/{widget_id}/drill-down", {
        params: { path: { id: dashboardId, widget_id: widgetId } }, body: { keys, page },
      }));
    } else {
      answer = await unwrap(api.POST("/api/v1/reports/query/drill-down", { body: { query: query!, keys, page } }));
    }
    total.current = { key, n: answer.total ?? 0 }; // a late answer for other filters is not shown
    return { items: await readRecords(answer.record ?? "", answer.ids ?? []), next_page_token: answer.page?.next_page_token ?? "" };
  }, [key]); // key holds everything the page depends on
  const pages = useCursorPages<RecordRow>(dashboardId || query ? fetchPage : null, key);

  const back = (
    <div><Link to={dashboardId ? `/dashboards/${encodeURIComponent(dashboardId)}` : "/team"}>← {t("back")}</Link></div>
  );
  if (!dashboardId && !query) return <>{back}<Alert type="error" title={t("recordsEmpty")} /></>;
  if (pages.error) return <LoadError error={pages.error} retry={pages.reload} />;
  return (
    <>
      {back}
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>{t("recordsTitle", { what })}</Typography.Title>
      {total.current?.key === key && !pages.loading && (
        <Typography.Paragraph type="secondary" data-testid="records-total">
          {t("recordsCount", { n: formatNumber(total.current.n, locale) })}
        </Typography.Paragraph>
      )}
      <Table<RecordRow>
        rowKey="id"
        loading={pages.loading}
        dataSource={pages.items}
        pagination={false}
        locale={{ emptyText: t("recordsEmpty") }}
        columns={[
          { title: t("colRecord"), key: "name", render: (_, r) => r.name === null
            ? <><code>{r.id}</code> <Tag>{t("recordGone")}</Tag></>
            : r.kind === "ticket" ? <Link to={`/tickets/${encodeURIComponent(r.id)}`}>{r.name || r.id}</Link>
            : r.kind === "opportunity" ? <Link to={`/opportunities/${encodeURIComponent(r.id)}`}>{r.name || r.id}</Link>
            : r.name || r.id },
          { title: t("colStatus"), dataIndex: "status", key: "status" },
          ...(pages.items.some((r) => r.stage) ? [{ title: t("colStage"), dataIndex: "stage", key: "stage" }] : []),
          ...(pages.items.some((r) => r.priority) ? [{ title: t("colPriority"), dataIndex: "priority", key: "priority" }] : []),
          ...(pages.items.some((r) => r.amount) ? [{
            title: t("colAmount"), key: "amount", align: "right" as const,
            render: (_: unknown, r: RecordRow) => formatMoney(r.amount, locale) }] : []),
          { title: t("colOwner"), dataIndex: "owner", key: "owner" },
          { title: t("colTeam"), dataIndex: "team", key: "team" },
          { title: t("colUpdated"), key: "updated", render: (_, r) => formatDateTime(r.updated, locale) },
        ]}
      />
      <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
    </>
  );
}
