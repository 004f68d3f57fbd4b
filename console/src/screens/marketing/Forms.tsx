// Lead-capture forms: name, status, the campaign they feed, their fields and submission count,
// a cursor page at a time, each with a link to its public page; expand one for its submissions.
import { Button, Table, Tag, Typography } from "antd";
import { useCallback, useMemo } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDate, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { Submissions } from "./Submissions";

type FormDef = Schema<"Form">;

export default function Forms() {
  const t = useT(m);
  const { locale } = useLocale();
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<FormDef>> =>
      unwrap(api.GET("/api/v1/forms", { params: { query: { page_size: 20, page_token: pageToken || undefined } } })),
    [],
  );
  const pages = useCursorPages<FormDef>(fetchPage, "forms");
  const lang = locale === "zh-CN" ? "zh" : "en";
  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (name: string, f: FormDef) => name || f.title?.[lang] || f.title?.zh || f.id },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "active" ? TONE.green : TONE.grey}>{v === "active" || v === "closed" ? t(`formStatus_${v}`) : v}</Tag> },
    { title: t("colCampaign"), dataIndex: "campaign_id", key: "campaign",
      render: (v: string) => (v ? <Link to={`/campaigns/${encodeURIComponent(v)}`}>{v}</Link> : null) },
    { title: t("colFields"), key: "fields",
      render: (_: unknown, f: FormDef) => (f.fields ?? []).map((x) => x.label?.[lang] || x.label?.zh || x.name).join("、") },
    { title: t("colSubmissions"), dataIndex: "submissions", key: "submissions", render: (v: number) => formatNumber(v ?? 0, locale) },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDate(v, locale) },
    { title: "", key: "open",
      render: (_: unknown, f: FormDef) => (
        <a href={`/api/v1/public/forms/${encodeURIComponent(f.id ?? "")}?lang=${lang}`} target="_blank" rel="noreferrer">{t("openForm")}</a>
      ) },
  ], [t, locale, lang]);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("formsTitle")}</Typography.Title>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<FormDef> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            expandable={{
              expandedRowRender: (f) => <Submissions formId={f.id ?? ""} />,
              expandIcon: ({ expanded, onExpand, record }) => (
                <Button size="small" type="text" aria-expanded={expanded} onClick={(e) => onExpand(record, e)}
                  aria-label={t("showSubmissions", { name: record.name ?? record.id ?? "" })}>{expanded ? "−" : "+"}</Button>
              ),
            }}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}
