// Export jobs: start one (a list, its filters, csv or xlsx), follow it (rows written, done or
// failed), download the file it made (fetched with the token, saved from a blob URL). List screens
// start one with their current filters (ExportButton) and land on the job here. "My export jobs" is
// the API's list of the caller's own jobs (GET /exports, newest first, cursor paged).
import { Alert, Button, Card, Descriptions, Flex, Form, Input, Progress, Select, Space, Spin, Tag, Typography, message } from "antd";
import { useCallback, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap, ApiError } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { usePolledJob } from "../../components/usePolledJob";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm, type ApiForm } from "../../forms/useApiForm";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { saveBlob } from "./download";
import { xm } from "./exportMessages";
import {
  EXPORT_LISTS, fileNameOf, filtersFromRows, isExportList, nextPollMs, type ExportJob, type ExportList,
} from "./exportJobs";

type T = ReturnType<typeof useT<typeof xm.en>>;
export const listLabel = (t: T, list: string | undefined): string => (isExportList(list) ? t(`list_${list}`) : list ?? "");

export default function Exports() {
  const { id } = useParams();
  const t = useT(xm);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("exportsTitle")}</Typography.Title>
      {id ? (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Link to="/admin/exports">← {t("back")}</Link>
          <ExportJobView id={id} />
        </Space>
      ) : (
        <>
          <Typography.Paragraph type="secondary">{t("exportsNote")}</Typography.Paragraph>
          <StartExport />
          <Recent />
        </>
      )}
    </>
  );
}

interface Values { list?: ExportList; format?: "csv" | "xlsx"; columns?: "all" | "import"; filter_rows?: { name?: string; value?: string }[] }

function StartExport() {
  const t = useT(xm);
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const asked = params.get("list");
  const shown = useRef<{ fields: string[]; aliases: Record<string, string> }>({ fields: [], aliases: {} });
  const f: ApiForm<Values> = useApiForm<Values, ExportJob>({
    get fields() { return shown.current.fields; },
    get aliases() { return shown.current.aliases; },
    submit: (v): Promise<ExportJob> => {
      const rows = v.filter_rows ?? [];
      // a refusal names the filter (`filters.tag`): it goes beside that row's value
      const aliases: Record<string, string> = {};
      rows.forEach((r, i) => { if (r.name?.trim()) aliases[`filters.${r.name.trim()}`] = `filter_rows.${i}.value`; });
      shown.current = { fields: ["list", "format", "columns", "filters", ...rows.map((_, i) => `filter_rows.${i}.value`)], aliases };
      return unwrap(api.POST("/api/v1/exports", { body: {
        list: v.list ?? ("" as ExportList), format: v.format ?? "csv",
        ...(v.columns === "import" ? { columns: "import" as const } : {}),
        filters: filtersFromRows(rows),
      } }));
    },
    onSuccess: (job) => navigate(`/admin/exports/${encodeURIComponent(job.id)}`),
  });
  return (
    <Card title={<h2 className="card-title">{t("newExport")}</h2>} style={{ marginBottom: 16 }}>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}
            initialValues={{ list: isExportList(asked) ? asked : "contacts", format: "csv", columns: "all", filter_rows: [] }}>
        <ProblemAlert {...f.alert} />
        <Flex wrap gap="middle" align="flex-start">
          <Form.Item name="list" label={t("list")}>
            <Select style={{ width: 180 }} options={EXPORT_LISTS.map((l) => ({ value: l, label: listLabel(t, l) }))} />
          </Form.Item>
          <Form.Item name="format" label={t("format")}>
            <Select style={{ width: 120 }} options={[{ value: "csv", label: "CSV" }, { value: "xlsx", label: "Excel (xlsx)" }]} />
          </Form.Item>
          <Form.Item name="columns" label={t("columns")}>
            <Select style={{ width: 200 }} options={[{ value: "all", label: t("columns_all") }, { value: "import", label: t("columns_import") }]} />
          </Form.Item>
        </Flex>
        <Typography.Text strong>{t("filters")}</Typography.Text>
        <Form.List name="filter_rows">
          {(rows, { add, remove }) => (
            <Space orientation="vertical" style={{ width: "100%", marginTop: 8 }}>
              {rows.map((row, i) => (
                <Flex key={row.key} wrap gap="small" align="flex-start" role="group" aria-label={`${t("filters")} ${i + 1}`}>
                  <Form.Item name={[row.name, "name"]} label={t("filterName")} style={{ marginBottom: 8 }}>
                    <Input style={{ width: 200 }} spellCheck={false} placeholder="tag" />
                  </Form.Item>
                  <Form.Item name={[row.name, "value"]} label={t("filterValue")} style={{ marginBottom: 8 }}>
                    <Input style={{ width: 220 }} />
                  </Form.Item>
                  <Button style={{ marginTop: 30 }} onClick={() => remove(row.name)} aria-label={`${t("removeFilter")} ${i + 1}`}>{t("removeFilter")}</Button>
                </Flex>
              ))}
              <Button onClick={() => add({ name: "", value: "" })}>{t("addFilter")}</Button>
            </Space>
          )}
        </Form.List>
        <Button type="primary" htmlType="submit" loading={f.submitting} style={{ marginTop: 16 }}>{t("start")}</Button>
      </Form>
    </Card>
  );
}

const PAGE_SIZE = 20;

function Recent() {
  const t = useT(xm);
  const { locale } = useLocale();
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<ExportJob>> => {
    const a = await unwrap(api.GET("/api/v1/exports", { params: { query: { page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: a.items, next_page_token: a.next_page_token };
  }, []);
  const pages = useCursorPages<ExportJob>(fetchPage, "mine");
  if (pages.error) return <LoadError error={pages.error} retry={pages.reload} />;
  return (
    <Card title={<h2 className="card-title">{t("recent")}</h2>}>
      {!pages.loaded ? <Spin /> : pages.items.length === 0 ? <Typography.Text type="secondary">{t("noRecent")}</Typography.Text> : (
        <ul style={{ margin: 0, paddingInlineStart: 20 }} data-testid="recent-exports">
          {pages.items.map((job) => (
            <li key={job.id}>
              <Link to={`/admin/exports/${encodeURIComponent(job.id)}`}>{listLabel(t, job.list)}</Link>{" "}
              <Tag>{t(`status_${job.status}`)}</Tag>
              <Typography.Text type="secondary">
                {formatDateTime(job.created_at, locale)} · {t("rows", { n: formatNumber(job.rows_written, locale) })}
              </Typography.Text>
            </li>
          ))}
        </ul>
      )}
      {(pages.hasNext || pages.hasPrevious) && (
        <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
      )}
    </Card>
  );
}

const readJob = (id: string) => unwrap(api.GET("/api/v1/exports/{id}", { params: { path: { id } } }));

function useJob(id: string) {
  return usePolledJob<ExportJob>(id, readJob, nextPollMs);
}

export function ExportJobView({ id }: { id: string }) {
  const t = useT(xm);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const { job, error, retry } = useJob(id);
  const [saving, setSaving] = useState(false);
  if (error) return <LoadError error={error} retry={retry} />;
  if (!job) return <Spin />;
  const filters = Object.entries(job.filters ?? {});
  const download = async () => {
    setSaving(true);
    try {
      const answer = await api.GET("/api/v1/exports/{id}/download", { params: { path: { id } }, parseAs: "blob" });
      const blob = await unwrap(Promise.resolve(answer));
      saveBlob(blob as unknown as Blob, fileNameOf(answer.response.headers.get("Content-Disposition"), job));
    } catch (err) {
      void toast.error(err instanceof ApiError ? err.problem.detail : String(err));
    } finally {
      setSaving(false);
    }
  };
  const tone = job.status === "done" ? "success" : job.status === "failed" ? "exception" : "active";
  return (
    <Card title={<h2 className="card-title">{t("jobTitle", { list: listLabel(t, job.list) })}</h2>}>
      {holder}
      <Space orientation="vertical" size="middle" style={{ width: "100%" }}>
        <Typography.Text strong data-testid="export-status">{t(`status_${job.status}`)}</Typography.Text>
        {/* the total is not known until the end: the bar runs, then fills */}
        <Progress percent={job.status === "running" ? 50 : 100} status={tone} showInfo={false} aria-label={t(`status_${job.status}`)} />
        <Typography.Text data-testid="export-rows">{t("rows", { n: formatNumber(job.rows_written, locale) })}</Typography.Text>
        {job.error && <Alert type="error" showIcon title={job.error} />}
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={t("format")}>{(job.format || "csv").toUpperCase()}</Descriptions.Item>
          <Descriptions.Item label={t("filtersUsed")}>
            {filters.length === 0 ? t("noFilters") : filters.map(([k, v]) => `${k} = ${String(v)}`).join(" · ")}
          </Descriptions.Item>
          <Descriptions.Item label={t("started")}>{formatDateTime(job.created_at, locale)}</Descriptions.Item>
          {job.finished_at && <Descriptions.Item label={t("finished")}>{formatDateTime(job.finished_at, locale)}</Descriptions.Item>}
          {job.size !== undefined && <Descriptions.Item label={t("size")}>{`${formatNumber(Math.max(1, Math.ceil(job.size / 1024)), locale)} KB`}</Descriptions.Item>}
          {job.expires_at && <Descriptions.Item label={t("expires")}>{formatDateTime(job.expires_at, locale)}</Descriptions.Item>}
        </Descriptions>
        {job.status === "done" && job.download_url && (
          <Button type="primary" onClick={() => void download()} loading={saving}>{t("download")}</Button>
        )}
      </Space>
    </Card>
  );
}
