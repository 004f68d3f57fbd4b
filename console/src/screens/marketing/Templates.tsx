// Email templates a cursor page at a time; choose one to preview it rendered for a customer, in
// their language or a chosen one. The API's preview (HTML with the customer's merge fields filled)
// is shown in a sandboxed iframe: no script runs, nothing reaches this page's session.
import { Button, Card, Col, Empty, Form, Row, Select, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDate } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { previewDocument } from "./preview";

type Template = Schema<"Template">;
type Preview = Schema<"TemplatePreview">;

export default function Templates() {
  const t = useT(m);
  const { locale } = useLocale();
  const [chosen, setChosen] = useState<Template | null>(null);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Template>> =>
      unwrap(api.GET("/api/v1/email-templates", { params: { query: { page_size: 20, page_token: pageToken || undefined } } })),
    [],
  );
  const pages = useCursorPages<Template>(fetchPage, "templates");
  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (name: string, x: Template) => <Button type="link" style={{ padding: 0 }} onClick={() => setChosen(x)}>{name || x.id}</Button> },
    { title: t("colLanguages"), key: "langs",
      render: (_: unknown, x: Template) => (x.contents ?? []).map((c) => <Tag key={c.language} style={TONE.grey}>{c.language}</Tag>) },
    { title: t("colSubject"), key: "subject", render: (_: unknown, x: Template) => x.contents?.[0]?.subject },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDate(v, locale) },
  ], [t, locale]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("templatesTitle")}</Typography.Title>
      <Row gutter={[24, 24]}>
        <Col xs={24} xl={11}>
          {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
            <>
              <Table<Template> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
                pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} size="middle" />
              <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
            </>
          )}
        </Col>
        <Col xs={24} xl={13}>
          <Card title={<h2 className="card-title">{chosen ? `${t("preview")}: ${chosen.name}` : t("preview")}</h2>}>
            {chosen ? <TemplatePreview key={chosen.id} template={chosen} /> : <Empty description={<span style={EMPTY_TEXT}>{t("pickTemplate")}</span>} />}
          </Card>
        </Col>
      </Row>
    </>
  );
}

interface Values {
  contact_id?: string;
  language?: string;
}

function TemplatePreview({ template }: { template: Template }) {
  const t = useT(m);
  const [preview, setPreview] = useState<Preview | null>(null);
  const f = useApiForm<Values, Preview>({
    fields: ["contact_id", "language"],
    resetOnSuccess: false,
    submit: (v) =>
      unwrap(api.POST("/api/v1/email-templates/{id}/preview", {
        params: { path: { id: template.id ?? "" } },
        body: { contact_id: v.contact_id ?? "", ...(v.language ? { language: v.language } : {}) },
      })),
    onSuccess: setPreview,
  });
  return (
    <>
      <Form form={f.form} layout="inline" onFinish={f.onFinish} style={{ marginBottom: 16, rowGap: 8 }}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="contact_id" label={t("contact")}><ContactPicker /></Form.Item>
        <Form.Item name="language" label={t("language")}>
          <Select allowClear placeholder={t("languageAuto")} style={{ width: 160 }}
            options={(template.contents ?? []).map((c) => ({ value: c.language ?? "", label: c.language }))} />
        </Form.Item>
        <Button htmlType="submit" type="primary" loading={f.submitting}>{t("showPreview")}</Button>
      </Form>
      {preview && (
        <>
          <Typography.Paragraph strong data-testid="preview-subject">{t("previewSubject", { subject: preview.subject ?? "" })}</Typography.Paragraph>
          <iframe
            title={t("previewFrame")}
            sandbox=""
            referrerPolicy="no-referrer"
            srcDoc={previewDocument(preview)}
            style={{ width: "100%", height: 480, border: "1px solid #d9d9d9", borderRadius: 6, background: "#fff" }}
          />
        </>
      )}
    </>
  );
}

/** A customer chosen by typing a name (the contacts the caller may see). */
function ContactPicker({ value, onChange, id }: { value?: string; onChange?: (v: string) => void; id?: string }) {
  const t = useT(m);
  const [typed, setTyped] = useState("");
  const q = useDebounced(typed.trim(), 200);
  const [options, setOptions] = useState<{ value: string; label: string }[]>([]);
  useEffect(() => {
    let stale = false;
    unwrap(api.GET("/api/v1/contacts", { params: { query: { q: q || undefined, page_size: 20 } } }))
      .then((p) => { if (!stale) setOptions(p.items.map((c) => ({ value: c.id ?? "", label: [c.name, c.company_name].filter(Boolean).join(" · ") }))); })
      .catch(() => { if (!stale) setOptions([]); });
    return () => { stale = true; };
  }, [q]);
  return (
    <Select id={id} showSearch filterOption={false} onSearch={setTyped} value={value} onChange={onChange}
      options={options} placeholder={t("contactPlaceholder")} style={{ width: 260 }} aria-label={t("contact")} />
  );
}
