// Import contacts, accounts, leads, products or tickets (the API routes by entity): upload a CSV or xlsx file (the body is the file; options in the query), then
// follow the job at /admin/imports/<id> until it finishes and read its rejected rows. "My imports"
// is the API's list of the caller's jobs over every service (GET /imports, newest first, cursor
// paged), so a job is found again after its tab was closed.
import { Button, Card, Checkbox, Form, Input, Radio, Select, Space, Spin, Table, Tag, Typography } from "antd";
import { useCallback, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap, type paths } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { ImportJobView } from "./ImportJob";
import { progressOf, type ImportJob } from "./importProgress";
import { m } from "./messages";

type Entity = NonNullable<paths["/api/v1/imports"]["post"]["parameters"]["query"]>["entity"];
export const ENTITIES = ["contact", "account", "lead", "product", "ticket"] as const satisfies readonly Entity[];

interface Values {
  entity: Entity;
  source?: string;
  on_duplicate: "flag" | "merge" | "create";
  dry_run?: boolean;
  mapping?: string;
  file?: string; // the field the file's errors are shown beside
}

export default function Imports() {
  const { id } = useParams();
  const [search] = useSearchParams();
  const t = useT(m);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("importsTitle")}</Typography.Title>
      {id ? (
        <Space direction="vertical" style={{ width: "100%" }}>
          <div><Link to="/admin/imports">← {t("upload")}</Link></div>
          <ImportJobView key={id} id={id} reused={search.get("reused") === "1"} />
        </Space>
      ) : (
        <Space orientation="vertical" size="large" style={{ width: "100%" }}>
          <UploadForm />
          <MyImports />
        </Space>
      )}
    </>
  );
}

/** A file input inside a Form.Item: the form holds the file's name (for its errors), never the
 * input's value (a browser refuses to have a file input's value set). */
function FilePicker({ id, onFile, onChange }: { id: string; onFile: (f: File | null) => void; onChange?: (name: string) => void }) {
  return (
    <input id={id} type="file" accept=".csv,.xlsx,text/csv"
           onChange={(e) => { const chosen = e.target.files?.[0] ?? null; onFile(chosen); onChange?.(chosen?.name ?? ""); }} />
  );
}

function UploadForm() {
  const t = useT(m);
  const navigate = useNavigate();
  const [file, setFile] = useState<File | null>(null);
  const f = useApiForm<Values, { job: ImportJob; reused: boolean }>({
    fields: ["entity", "source", "on_duplicate", "dry_run", "mapping", "file"],
    aliases: { body: "file", file_name: "file" },
    resetOnSuccess: false,
    submit: async (v) => {
      const chosen = file!;
      const answer = await api.POST("/api/v1/imports", {
        params: { query: { entity: v.entity, file_name: chosen.name, source: v.source?.trim() || undefined,
                           on_duplicate: v.on_duplicate, dry_run: Boolean(v.dry_run),
                           mapping: v.mapping?.trim() || undefined } },
        // the document types a binary body as string; the bytes go as they are
        body: chosen as unknown as string,
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: { "Content-Type": chosen.name.toLowerCase().endsWith(".xlsx")
          ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" : "text/csv" },
      });
      const job = await unwrap(Promise.resolve(answer));
      return { job, reused: answer.response.status === 200 };
    },
    onSuccess: ({ job, reused }) => navigate(`/admin/imports/${encodeURIComponent(job.id ?? "")}${reused ? "?reused=1" : ""}`),
  });
  return (
    <Card style={{ maxWidth: 640 }}>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}
            initialValues={{ entity: "contact", on_duplicate: "flag", dry_run: false }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="file" label={t("file")} htmlFor="import-file"
                   rules={[{ validator: () => (file ? Promise.resolve() : Promise.reject(new Error(t("chooseFile")))) }]}>
          <FilePicker id="import-file" onFile={setFile} />
        </Form.Item>
        <Form.Item name="entity" label={t("entity")} extra={t("entityHelp")}>
          <Radio.Group options={ENTITIES.map((e) => ({ value: e, label: t(`entity_${e}`) }))} />
        </Form.Item>
        <Form.Item name="source" label={t("source")} extra={t("sourceHelp")}><Input maxLength={200} /></Form.Item>
        <Form.Item name="on_duplicate" label={t("onDuplicate")}>
          <Select options={(["flag", "merge", "create"] as const).map((d) => ({ value: d, label: t(`dup_${d}`) }))} />
        </Form.Item>
        <Form.Item name="mapping" label={t("mapping")} extra={t("mappingHelp")}>
          <Input.TextArea rows={3} spellCheck={false} placeholder='{"columns": {"客户名称": "name", "手机": "mobile"}}' />
        </Form.Item>
        <Form.Item name="dry_run" valuePropName="checked"><Checkbox>{t("dryRun")}</Checkbox></Form.Item>
        <Button type="primary" htmlType="submit" loading={f.submitting}>{t("upload")}</Button>
      </Form>
    </Card>
  );
}

const PAGE_SIZE = 20;
const isEntity = (e: string | undefined): e is Entity => (ENTITIES as readonly string[]).includes(e ?? "");

/** The caller's recent import jobs (an admin's: everyone's), each linking to its page. */
export function MyImports() {
  const t = useT(m);
  const { locale } = useLocale();
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<ImportJob>> => {
    const a = await unwrap(api.GET("/api/v1/imports", { params: { query: { page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: a.items, next_page_token: a.next_page_token };
  }, []);
  const pages = useCursorPages<ImportJob>(fetchPage, "mine");
  const n = (v: number | undefined) => formatNumber(v ?? 0, locale);
  if (pages.error) return <LoadError error={pages.error} retry={pages.reload} />;
  return (
    <Card title={<h2 className="card-title">{t("myImports")}</h2>}>
      {!pages.loaded ? <Spin /> : pages.items.length === 0 ? <Typography.Text type="secondary">{t("noImports")}</Typography.Text> : (
        <Table<ImportJob>
          size="small"
          data-testid="my-imports"
          rowKey={(job) => job.id ?? ""}
          pagination={false}
          dataSource={pages.items}
          columns={[
            { title: t("fileName"), key: "file", render: (_: unknown, job) => (
              <Link to={`/admin/imports/${encodeURIComponent(job.id ?? "")}`}>{job.file_name || job.id}</Link>) },
            { title: t("entity"), key: "entity", render: (_: unknown, job) => (isEntity(job.entity) ? t(`entity_${job.entity}`) : job.entity) },
            { title: t("status"), key: "status", render: (_: unknown, job) => <Tag>{t(`phase_${progressOf(job).phase}`)}</Tag> },
            { title: t("rowsColumn"), key: "rows", render: (_: unknown, job) => (
              (job.rows_total ?? 0) > 0 ? `${n(job.rows_done)} / ${n(job.rows_total)}` : n(job.rows_done)) },
            { title: t("accepted"), key: "accepted", render: (_: unknown, job) => n(job.accepted) },
            { title: t("rejected"), key: "rejected", render: (_: unknown, job) => n(job.rejected) },
            { title: t("created"), key: "created", render: (_: unknown, job) => formatDateTime(job.created_at, locale) },
          ]}
        />
      )}
      {(pages.hasNext || pages.hasPrevious) && (
        <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
      )}
    </Card>
  );
}
