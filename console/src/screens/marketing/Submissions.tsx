// One form's submissions, newest first, a cursor page at a time: when, what was typed, the lead or
// contact it made, and for a failed one the error and "deliver again" (the API retries it).
import { Button, Table, Tag, Typography } from "antd";
import { useCallback, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";

type Submission = Schema<"FormSubmission">;
const STATUSES = ["pending", "delivered", "failed", "spam"] as const;

export function Submissions({ formId }: { formId: string }) {
  const t = useT(m);
  const { locale } = useLocale();
  const [retryError, setRetryError] = useState<ApiError | null>(null);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Submission>> =>
      unwrap(api.GET("/api/v1/forms/{id}/submissions", { params: { path: { id: formId }, query: { page_size: 10, page_token: pageToken || undefined } } })),
    [formId],
  );
  const pages = useCursorPages<Submission>(fetchPage, formId);
  const { reload } = pages;
  const retry = useCallback(async (id: string) => {
    setRetryError(null);
    try {
      await unwrap(api.POST("/api/v1/form-submissions/{id}/retry", { params: { path: { id } } }));
      reload();
    } catch (err) {
      if (err instanceof ApiError) setRetryError(err);
    }
  }, [reload]);
  const columns = useMemo(() => [
    { title: t("colReceived"), dataIndex: "received_at", key: "at", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "failed" ? TONE.red : v === "delivered" ? TONE.green : TONE.grey}>
        {(STATUSES as readonly string[]).includes(v) ? t(`submission_${v as (typeof STATUSES)[number]}`) : v}</Tag> },
    { title: t("colValues"), dataIndex: "values", key: "values",
      render: (v: Record<string, string> | undefined) => Object.entries(v ?? {}).map(([k, x]) => `${k}: ${x}`).join("; ") },
    { title: t("colContact"), dataIndex: "contact_id", key: "contact",
      render: (v: string) => (v ? <Link to={`/customers/${encodeURIComponent(v)}`}>{v}</Link> : null) },
    { title: "", key: "retry", render: (_: unknown, s: Submission) => (s.status === "failed" ? (
      <>
        <Typography.Text type="danger">{s.last_error}</Typography.Text>{" "}
        <Button size="small" onClick={() => void retry(s.id ?? "")}>{t("retry")}</Button>
      </>
    ) : null) },
  ], [t, locale, retry]);
  if (pages.error) return <LoadError error={pages.error} retry={reload} />;
  return (
    <>
      {retryError && <Typography.Paragraph type="danger" role="alert">{retryError.problem.detail}</Typography.Paragraph>}
      <Table<Submission> rowKey="id" size="small" columns={columns} dataSource={pages.items} loading={pages.loading}
        pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("noSubmissions")}</span> }} />
      <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
    </>
  );
}
