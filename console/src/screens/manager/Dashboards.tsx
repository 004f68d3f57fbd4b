// The dashboards the caller may see (their own, their team's, everyone's), by name.
import { Button, Space, Table, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";

type Dashboard = Schema<"Dashboard">;
const SHARING = ["private", "team", "everyone"] as const;

export default function Dashboards() {
  const t = useT(m);
  const { locale } = useLocale();
  const [items, setItems] = useState<Dashboard[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/reports/dashboards"))
      .then((list) => setItems(list.items ?? []))
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(load, [load]);

  if (error) return <LoadError error={error} retry={load} />;
  return (
    <>
      <Space align="baseline" style={{ width: "100%", justifyContent: "space-between" }}>
        <Typography.Title level={1} style={{ fontSize: 22 }}>{t("dashboardsTitle")}</Typography.Title>
        <Link to="/dashboards/new"><Button type="primary">{t("newDashboard")}</Button></Link>
      </Space>
      <Table<Dashboard>
        rowKey={(d) => d.id ?? ""}
        loading={items === null}
        dataSource={items ?? []}
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
    </>
  );
}
