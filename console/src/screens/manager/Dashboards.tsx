// The dashboards the caller may see (their own, their team's, everyone's), by name, cursor paged.
import { Button, Space, Table, Typography } from "antd";
import { useCallback } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";

type Dashboard = Schema<"Dashboard">;
const SHARING = ["private", "team", "everyone"] as const;
const PAGE_SIZE = 20;

export default function Dashboards() {
  const t = useT(m);
  const { locale } = useLocale();
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Dashboard>> => {
    const list = await unwrap(api.GET("/api/v1/reports/dashboards", { params: { query: {
      page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: list.items, next_page_token: list.next_page_token };
  }, []);
  const pages = useCursorPages<Dashboard>(fetchPage, "dashboards");

  if (pages.error) return <LoadError error={pages.error} retry={pages.reload} />;
  return (
    <>
      <Space align="baseline" style={{ width: "100%", justifyContent: "space-between" }}>
        <Typography.Title level={1} style={{ fontSize: 22 }}>{t("dashboardsTitle")}</Typography.Title>
        <Link to="/dashboards/new"><Button type="primary">{t("newDashboard")}</Button></Link>
      </Space>
      <Table<Dashboard>
        rowKey={(d) => d.id ?? ""}
        loading={pages.loading}
        dataSource={pages.items}
        pagination={false}
        locale={{ emptyText: t("dashboardsEmpty") }}
        columns={[
          { title: t("colName"), key: "name",
            render: (_, d) => <Link to={`/dashboards/${encodeURIComponent(d.id ?? "")}`}>{d.name || d.id}</Link> },
          { title: t("colWidgets"), key: "widgets", render: (_, d) => d.widgets?.length ?? 0 },
          { title: t("colSharing"), key: "sharing", render: (_, d) => {
            const s = SHARING.find((x) => x === (d.sharing || "private"));
            return s ? t(`sharing_${s}`) : d.sharing;
          } },
          { title: t("colOwner"), dataIndex: "owner_id", key: "owner" },
          { title: t("colUpdated"), key: "updated", render: (_, d) => formatDateTime(d.updated_at, locale) },
        ]}
      />
      <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
    </>
  );
}
