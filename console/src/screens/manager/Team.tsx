// Team performance: the reps ranked by won amount (rep_ranking, by close date) and the monthly
// attainment against the targets (monthly_attainment), over a period; each rank's won figure
// leads to the deals behind it. The API limits both to the manager's team.
import { Button, Card, Form, Input, Space, Typography } from "antd";
import { useEffect, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { LoadError } from "../../components/StatusPage";
import { useT } from "../../i18n";
import { ApiError } from "../../api";
import { queryRecordsPath } from "./drill";
import { m } from "./messages";
import { ResultTable } from "./ResultTable";

type Result = Schema<"QueryResult">;
interface Values { from_day?: string; to_day?: string; team?: string }

function monthBounds(now: Date): Values {
  const y = now.getUTCFullYear();
  const mo = now.getUTCMonth();
  const iso = (d: Date) => d.toISOString().slice(0, 10);
  return { from_day: iso(new Date(Date.UTC(y, mo, 1))), to_day: iso(new Date(Date.UTC(y, mo + 1, 0))) };
}

async function load(v: Values): Promise<[Result, Result]> {
  const query = { from_day: v.from_day || undefined, to_day: v.to_day || undefined, team: v.team?.trim() || undefined };
  return Promise.all([
    unwrap(api.GET("/api/v1/reports/standard/{name}", { params: { path: { name: "rep_ranking" }, query } })),
    unwrap(api.GET("/api/v1/reports/standard/{name}", { params: { path: { name: "monthly_attainment" }, query } })),
  ]);
}

export default function Team() {
  const t = useT(m);
  const [results, setResults] = useState<[Result, Result] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const f = useApiForm<Values, [Result, Result]>({
    fields: ["from_day", "to_day", "team"],
    submit: load,
    resetOnSuccess: false,
    onSuccess: setResults,
  });
  const initial = monthBounds(new Date());
  useEffect(() => {
    load(initial).then(setResults).catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []); // the first view: this month

  if (error) return <LoadError error={error} />;
  const [ranking, attainment] = results ?? [undefined, undefined];
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("teamTitle")}</Typography.Title>
      <Form form={f.form} layout="inline" onFinish={f.onFinish} initialValues={initial} style={{ marginBottom: 16, rowGap: 8 }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="from_day" label={t("from")}><Input type="date" /></Form.Item>
        <Form.Item name="to_day" label={t("to")}><Input type="date" /></Form.Item>
        <Form.Item name="team" label={t("teamFilter")}><Input style={{ width: 160 }} /></Form.Item>
        <Button type="primary" htmlType="submit" loading={f.submitting}>{t("apply")}</Button>
      </Form>
      <Space direction="vertical" size="large" style={{ width: "100%" }}>
        <Card title={<h2 className="card-title">{t("rankingTitle")}</h2>} loading={!results}>
          <div data-testid="ranking">
            <ResultTable
              result={ranking}
              lead={{ title: t("colRank"), render: (i) => i + 1 }}
              drillTo={(row) => (ranking?.query
                ? queryRecordsPath(ranking.query, (row.keys ?? []).filter(Boolean).join(" · "), row.keys ?? [])
                : null)}
            />
          </div>
        </Card>
        <Card title={<h2 className="card-title">{t("attainmentTitle")}</h2>} loading={!results}>
          {attainment && (attainment.rows ?? []).length === 0
            ? <Typography.Text type="secondary">{t("attainmentEmpty")}</Typography.Text>
            : <ResultTable result={attainment} />}
        </Card>
      </Space>
    </>
  );
}
