// One import job, followed until it finishes: phase, rows done of total, accepted / merged /
// rejected, rate and ETA, the first problems; then the report of every rejected row (shown
// here, and downloadable as the service wrote it).
import { Alert, Button, Card, Descriptions, Progress, Space, Spin, Statistic, Table, Typography } from "antd";
import { useCallback, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { usePolledJob } from "../../components/usePolledJob";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { saveBlob } from "./download";
import { nextPollMs, parseCsv, progressOf, type ImportJob } from "./importProgress";
import { m } from "./messages";

type Problem = Schema<"ImportProblem">;
const REPORT_ROWS_SHOWN = 200;

const readJob = (id: string) => unwrap(api.GET("/api/v1/imports/{id}", { params: { path: { id } } }));

function useJob(id: string) {
  return usePolledJob<ImportJob>(id, readJob, nextPollMs);
}

export function ImportJobView({ id, reused }: { id: string; reused: boolean }) {
  const t = useT(m);
  const { locale } = useLocale();
  const { job, error, retry } = useJob(id);
  if (error) return <LoadError error={error} retry={retry} />;
  if (!job) return <Spin />;
  const p = progressOf(job);
  const n = (v: number | undefined) => formatNumber(v ?? 0, locale);
  return (
    <Card title={<h2 className="card-title">{t("jobTitle", { id: job.file_name || id })}</h2>}>
      <Space direction="vertical" size="middle" style={{ width: "100%" }}>
        {reused && <Alert type="info" showIcon title={t("reused")} />}
        {job.dry_run && <Alert type="warning" showIcon title={t("dryRunNote")} />}
        <Typography.Text strong data-testid="import-phase">{t(`phase_${p.phase}`)}</Typography.Text>
        <Progress percent={p.percent ?? 0} status={p.tone} aria-label={t(`phase_${p.phase}`)} />
        {(job.rows_total ?? 0) > 0 && (
          <Typography.Text>
            {t("rowsDone", { done: n(job.rows_done), total: n(job.rows_total) })}
            {!p.finished && job.rows_per_second ? ` · ${t("rate", { n: n(Math.round(job.rows_per_second)) })}` : ""}
            {!p.finished && job.eta_seconds ? ` · ${t("eta", { n: n(Math.ceil(job.eta_seconds)) })}` : ""}
          </Typography.Text>
        )}
        {job.error && <Alert type="error" showIcon title={job.error} />}
        <Space size="large" wrap>
          <Statistic title={t("accepted")} value={n(job.accepted)} />
          <Statistic title={t("merged")} value={n(job.merged)} />
          <Statistic title={t("rejected")} value={n(job.rejected)} />
          <Statistic title={t("warnings")} value={n(job.warnings)} />
        </Space>
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={t("source")}>{job.source_name || "—"}</Descriptions.Item>
          <Descriptions.Item label={t("at")}>{formatDateTime(job.created_at, locale)}</Descriptions.Item>
          {Object.keys(job.columns ?? {}).length > 0 && (
            <Descriptions.Item label={t("columns")}>
              {Object.entries(job.columns ?? {})
                .filter(([, field]) => field)
                .map(([column, field]) => `${column} → ${field}`)
                .join(" · ")}
            </Descriptions.Item>
          )}
        </Descriptions>
        {(job.unmapped_columns ?? []).length > 0 && (
          <Alert type="warning" showIcon title={t("unmapped", { cols: (job.unmapped_columns ?? []).join(", ") })} />
        )}
        {(job.problems ?? []).length > 0 && <Problems problems={job.problems ?? []} />}
        {p.hasReport && <Report id={id} />}
      </Space>
    </Card>
  );
}

function Problems({ problems }: { problems: Problem[] }) {
  const t = useT(m);
  return (
    <Table<Problem & { i: number }>
      size="small"
      title={() => t("firstProblems")}
      rowKey="i"
      pagination={false}
      dataSource={problems.map((x, i) => ({ ...x, i }))}
      columns={[
        { title: t("row"), dataIndex: "row", key: "row" },
        { title: t("column"), dataIndex: "column", key: "column" },
        { title: t("field"), dataIndex: "field", key: "field" },
        { title: t("message"), dataIndex: "message", key: "message" },
        { title: t("value"), dataIndex: "value", key: "value" },
      ]}
    />
  );
}

function Report({ id }: { id: string }) {
  const t = useT(m);
  const { locale } = useLocale();
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const fetchReport = useCallback(async () => {
    setLoading(true);
    setError(null);
    try {
      const csv = await unwrap(api.GET("/api/v1/imports/{id}/report", { params: { path: { id } }, parseAs: "text" }));
      setText(csv);
      return csv;
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
      return null;
    } finally {
      setLoading(false);
    }
  }, [id]);
  const rows = text ? parseCsv(text) : [];
  const [header = [], ...body] = rows;
  const shown = body.slice(0, REPORT_ROWS_SHOWN);
  return (
    <Space direction="vertical" style={{ width: "100%" }}>
      <Space>
        {text === null && <Button onClick={() => void fetchReport()} loading={loading}>{t("showReport")}</Button>}
        <Button loading={loading} onClick={async () => {
          const csv = text ?? (await fetchReport());
          if (csv !== null) saveBlob(new Blob([csv], { type: "text/csv;charset=utf-8" }), `import-${id}-report.csv`);
        }}>{t("downloadReport")}</Button>
      </Space>
      {error && <LoadError error={error} retry={() => void fetchReport()} />}
      {text !== null && (
        <Table<{ i: number; cells: string[] }>
          size="small"
          data-testid="import-report"
          title={() => `${t("reportTitle")} · ${t("reportShown", { shown: formatNumber(shown.length, locale), n: formatNumber(body.length, locale) })}`}
          rowKey="i"
          pagination={false}
          dataSource={shown.map((cells, i) => ({ i, cells }))}
          columns={header.map((name, c) => ({ title: name, key: String(c), render: (_: unknown, r: { cells: string[] }) => r.cells[c] ?? "" }))}
        />
      )}
    </Space>
  );
}
