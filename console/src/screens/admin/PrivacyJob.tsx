// One data-subject request followed until every service has answered: its status and each
// service's step (records, attempts, last error); then the export's download or the erasure's
// receipt. Polling stops once it is completed (or the export expired).
import { Alert, Button, Card, Descriptions, Space, Spin, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { saveBlob } from "./download";
import { m } from "./messages";
import { TONE } from "./tones";

export type Kind = "exports" | "erasures";
type Job = Schema<"DataSubjectExport"> | Schema<"DataSubjectErasure">;
type Step = Schema<"ServiceStep">;
type Receipt = Schema<"ErasureReceipt">;
const POLL_MS = 1500;
const STATUSES = ["pending", "running", "completed", "expired", "done", "retrying"] as const;

export function isFinished(status: string | undefined): boolean {
  return status === "completed" || status === "expired";
}

function fetchJob(kind: Kind, id: string): Promise<Job> {
  const params = { params: { path: { id } } };
  return kind === "exports"
    ? unwrap(api.GET("/api/v1/privacy/exports/{id}", params))
    : unwrap(api.GET("/api/v1/privacy/erasures/{id}", params));
}

export function PrivacyJob({ kind, id }: { kind: Kind; id: string }) {
  const t = useT(m);
  const { locale } = useLocale();
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = () => fetchJob(kind, id).then((answer) => {
      if (stopped) return;
      setJob(answer);
      setError(null);
      if (!isFinished(answer.status)) timer = setTimeout(poll, POLL_MS);
    }).catch((err: unknown) => { if (!stopped) setError(err instanceof ApiError ? err : null); });
    void poll();
    return () => { stopped = true; clearTimeout(timer); };
  }, [kind, id, tick]);
  const retry = useCallback(() => setTick((n) => n + 1), []);
  const word = (s: string | undefined) => {
    const known = STATUSES.find((x) => x === s);
    return known ? t(`status_${known}`) : s ?? "";
  };

  if (error) return <LoadError error={error} retry={retry} />;
  if (!job) return <Spin />;
  const done = job.status === "completed";
  return (
    <Card title={<h2 className="card-title">{t("requestTitle", { id })}</h2>}>
      <Space direction="vertical" style={{ width: "100%" }}>
        <Descriptions size="small" column={1}>
          <Descriptions.Item label={t("status")}>
            <Tag color={done ? TONE.good : job.status === "expired" ? undefined : TONE.busy} data-testid="privacy-status">{word(job.status)}</Tag>
          </Descriptions.Item>
          <Descriptions.Item label={t("contactIds")}>{(job.contact_ids ?? []).join(", ") || "—"}</Descriptions.Item>
          <Descriptions.Item label={t("at")}>{formatDateTime(job.created_at, locale)}</Descriptions.Item>
          {job.completed_at && <Descriptions.Item label={t("doneAt")}>{formatDateTime(job.completed_at, locale)}</Descriptions.Item>}
          {job.requested_by && <Descriptions.Item label={t("requester")}>{job.requested_by}</Descriptions.Item>}
        </Descriptions>
        <Table<Step>
          size="small" pagination={false} rowKey={(s) => s.service ?? ""} dataSource={job.steps ?? []}
          columns={[
            { title: t("service"), dataIndex: "service", key: "service" },
            { title: t("status"), key: "status", render: (_, s) => <Tag color={s.status === "done" ? TONE.good : s.status === "retrying" ? TONE.warn : undefined}>{word(s.status)}</Tag> },
            { title: t("records"), key: "records", render: (_, s) => formatNumber(s.records ?? 0, locale) },
            { title: t("attempts"), dataIndex: "attempts", key: "attempts" },
            { title: t("lastError"), dataIndex: "last_error", key: "err" },
            { title: t("doneAt"), key: "done", render: (_, s) => formatDateTime(s.done_at, locale) },
          ]}
        />
        {done && kind === "exports" && <ExportDownloads id={id} />}
        {done && kind === "erasures" && <ErasureReceipt id={id} />}
      </Space>
    </Card>
  );
}

function ExportDownloads({ id }: { id: string }) {
  const t = useT(m);
  const [error, setError] = useState<ApiError | null>(null);
  const download = async (format: "json" | "zip") => {
    setError(null);
    try {
      const blob = await unwrap(api.GET("/api/v1/privacy/exports/{id}/download", {
        params: { path: { id }, query: { format } }, parseAs: "blob" }));
      saveBlob(blob, `data-subject-export-${id}.${format}`);
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    }
  };
  return (
    <Space direction="vertical">
      <Space>
        <Button type="primary" onClick={() => void download("json")}>{t("download")}</Button>
        <Button onClick={() => void download("zip")}>{t("downloadZip")}</Button>
      </Space>
      {error && <Alert type="error" showIcon title={error.problem.detail} />}
    </Space>
  );
}

function ErasureReceipt({ id }: { id: string }) {
  const t = useT(m);
  const { locale } = useLocale();
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const load = useCallback(() => {
    unwrap(api.GET("/api/v1/privacy/erasures/{id}/receipt", { params: { path: { id } } }))
      .then(setReceipt).catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);
  if (error) return <LoadError error={error} retry={load} />;
  if (!receipt) return <Spin />;
  return (
    <Card size="small" title={<h3 className="card-title">{t("receipt")}</h3>} data-testid="erasure-receipt">
      <Typography.Paragraph>{t("suppressed", { n: formatNumber(receipt.suppressed_identifiers ?? 0, locale) })}</Typography.Paragraph>
      <Table size="small" pagination={false} rowKey={(c) => c.service ?? ""} dataSource={receipt.confirmations ?? []}
        columns={[
          { title: t("service"), dataIndex: "service", key: "service" },
          { title: t("confirmedAt"), key: "at", render: (_, c) => formatDateTime(c.confirmed_at, locale) },
          { title: t("records"), key: "counts", render: (_, c) => (c.counts ?? []).map((x) => `${x.holding}: ${formatNumber(x.rows ?? 0, locale)}`).join(", ") },
        ]} />
    </Card>
  );
}
