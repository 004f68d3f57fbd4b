// One drip sequence: its steps by day (each step's wave once active), the status moves marketing
// allows, its exit conditions with how many left for each, the form that enrols contacts (picked,
// pasted, or every recipient of a wave), and the enrolments a cursor page at a time with the step
// each is at and why it ended; a contact can be taken out. A sequence the caller may not see is
// the API's 404. "Edit" opens its form in place of the steps card (EditSequence).
import { Alert, Button, Card, Col, Descriptions, Form, Input, Row, Select, Space, Spin, Statistic, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { ENROLLMENT_STATUSES, EXIT_REASONS, SEQUENCE_MOVES, contactIds, exitCounts, ifMatch, known } from "./automation";
import { a } from "./automationMessages";
import { ContactsPicker } from "./ContactsPicker";
import { EditSequence } from "./EditSequence";
import { SEQ_TONE, useSeqStatus } from "./Sequences";
import { useSkipLabel } from "./WaveResults";
import { nameOf, useChoices } from "./useChoices";

type Sequence = Schema<"Sequence">;
type Enrollment = Schema<"Enrollment">;
type EnrollResult = Schema<"EnrollContactsResponse">;
type EnrStatus = (typeof ENROLLMENT_STATUSES)[number];

export default function SequenceView() {
  const { id = "" } = useParams();
  const t = useT(a);
  const { locale } = useLocale();
  const seqStatus = useSeqStatus();
  const templates = useChoices("templates");
  const campaigns = useChoices("campaigns");
  const [seq, setSeq] = useState<Sequence | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [moveError, setMoveError] = useState<ApiError | null>(null);
  const [status, setStatus] = useState<EnrStatus>();
  const [editing, setEditing] = useState(false);
  const [toast, holder] = message.useMessage();

  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/sequences/{id}", { params: { path: { id } } }))
      .then(setSeq)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);

  const key = JSON.stringify([id, status]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Enrollment>> =>
      unwrap(api.GET("/api/v1/sequences/{id}/enrollments", {
        params: { path: { id }, query: { status, page_size: 20, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Enrollment>(fetchPage, key);

  async function move(to: string) {
    setMoveError(null);
    try {
      setSeq(await unwrap(api.POST("/api/v1/sequences/{id}/status", {
        params: { path: { id }, header: ifMatch(seq?.version) }, body: { status: to } })));
      void toast.success(t("seqMoved"));
    } catch (err) {
      if (err instanceof ApiError) setMoveError(err);
    }
  }

  async function takeOut(e: Enrollment) {
    setMoveError(null);
    try {
      await unwrap(api.DELETE("/api/v1/sequences/{id}/enrollments/{contact_id}", { params: { path: { id, contact_id: e.contact_id ?? "" } } }));
      void toast.success(t("takenOut"));
      pages.reload();
      load();
    } catch (err) {
      if (err instanceof ApiError) setMoveError(err);
    }
  }

  const columns = useMemo(() => [
    { title: t("colContact"), dataIndex: "contact_id", key: "contact",
      render: (v: string) => <Link to={`/customers/${encodeURIComponent(v)}`} style={{ wordBreak: "break-all" }}>{v}</Link> },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "active" ? TONE.green : TONE.grey}>{known(ENROLLMENT_STATUSES, v) ? t(`enrStatus_${v}`) : v}</Tag> },
    { title: t("colStepsDone"), dataIndex: "steps_done", key: "done", render: (v: number) => formatNumber(v ?? 0, locale) },
    { title: t("colNextStep"), dataIndex: "next_step_at", key: "next", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colEnrolledAt"), dataIndex: "enrolled_at", key: "enrolled", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colExitReason"), dataIndex: "exit_reason", key: "reason",
      render: (v: string) => (known(EXIT_REASONS, v) ? t(`exit_${v}`) : v) },
    { title: t("colSource"), dataIndex: "source", key: "source" },
    { title: "", key: "act",
      render: (_: unknown, e: Enrollment) => (e.status === "active"
        ? <Button size="small" onClick={() => void takeOut(e)} aria-label={t("takeOutOf", { name: e.contact_id ?? "" })}>{t("takeOut")}</Button> : null) },
  ], [t, locale]); // takeOut() only reads the latest pages and toast

  if (error) return <LoadError error={error} retry={load} />;
  if (!seq) return <Spin />;
  const moves = SEQUENCE_MOVES[seq.status ?? ""] ?? [];
  const exits = exitCounts(seq.counts?.exited);
  return (
    <>
      {holder}
      <Link to="/sequences">← {t("allSequences")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {seq.name} <Tag style={SEQ_TONE[seq.status ?? ""] ?? TONE.grey} data-testid="sequence-status">{seqStatus(seq.status)}</Tag>
      </Typography.Title>
      <Space wrap style={{ marginBottom: 16 }}>
        {moves.map((s) => <Button key={s} onClick={() => void move(s)}>{t(`seqMove_${s}`)}</Button>)}
        {!editing && <Button onClick={() => setEditing(true)}>{t("edit")}</Button>}
      </Space>
      {moveError && <Alert type="error" showIcon role="alert" style={{ marginBottom: 16 }} title={moveError.problem.detail} />}
      <Row gutter={[24, 24]}>
        <Col xs={24} lg={14}>
          {editing ? (
            <Card title={<h2 className="card-title">{t("editSequence")}</h2>}>
              <EditSequence key={String(seq.version)} seq={seq} reload={load} onCancel={() => setEditing(false)}
                onSaved={(saved) => { setSeq(saved); setEditing(false); }} />
            </Card>
          ) : (
          <Card title={<h2 className="card-title">{t("steps")}</h2>}>
            <Descriptions column={1} size="small" style={{ marginBottom: 12 }}>
              <Descriptions.Item label={t("campaign")}>
                <Link to={`/campaigns/${encodeURIComponent(seq.campaign_id ?? "")}`}>{nameOf(campaigns, seq.campaign_id)}</Link>
              </Descriptions.Item>
              <Descriptions.Item label={t("purpose")}>{seq.purpose}</Descriptions.Item>
              {seq.enroll_nurturing && <Descriptions.Item label={t("enrollNurturing")}>✓</Descriptions.Item>}
            </Descriptions>
            {seq.description && <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{seq.description}</Typography.Paragraph>}
            <ol data-testid="sequence-steps" style={{ paddingInlineStart: 20, margin: 0 }}>
              {(seq.steps ?? []).map((s, i) => (
                <li key={i} style={{ marginBottom: 6 }}>
                  <Typography.Text strong>{t("dayN", { n: s.day ?? 0 })}</Typography.Text>{" · "}
                  {s.channel === "sms" ? `${t("channel_sms")} ${s.sms?.template_code ?? ""}` : `${t("channel_email")} ${nameOf(templates, s.template_id)}`}
                  {s.wave_id && <>{" · "}<Link to={`/waves/${encodeURIComponent(s.wave_id)}`}>{t("results")}</Link></>}
                </li>
              ))}
            </ol>
          </Card>
          )}
        </Col>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-title">{t("exitTitle")}</h2>}>
            <Row gutter={[16, 16]} data-testid="sequence-counts">
              <Col span={8}><Statistic title={t("colEnrolled")} value={formatNumber(seq.counts?.enrolled ?? 0, locale)} /></Col>
              <Col span={8}><Statistic title={t("colActive")} value={formatNumber(seq.counts?.active ?? 0, locale)} /></Col>
              <Col span={8}><Statistic title={t("colCompleted")} value={formatNumber(seq.counts?.completed ?? 0, locale)} /></Col>
            </Row>
            <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>{t("exitHelp")}</Typography.Paragraph>
            {exits.length === 0 ? <Typography.Text type="secondary">{t("exitedNone")}</Typography.Text> : (
              <Descriptions column={1} size="small" data-testid="sequence-exits">
                {exits.map(([reason, n]) => (
                  <Descriptions.Item key={reason} label={known(EXIT_REASONS, reason) ? t(`exit_${reason}`) : reason}>{formatNumber(n, locale)}</Descriptions.Item>
                ))}
              </Descriptions>
            )}
          </Card>
        </Col>
      </Row>
      <Card title={<h2 className="card-title">{t("enrollTitle")}</h2>} style={{ marginTop: 24 }}>
        <Enrol id={id} onDone={() => { pages.reload(); load(); }} />
      </Card>
      <Card title={<h2 className="card-title">{t("enrollmentsTitle")}</h2>} style={{ marginTop: 24 }}>
        <Select aria-label={t("status")} placeholder={t("anyStatus")} allowClear style={{ width: 160, marginBottom: 12 }}
          value={status} onChange={setStatus} options={ENROLLMENT_STATUSES.map((v) => ({ value: v, label: t(`enrStatus_${v}`) }))} />
        {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
          <div tabIndex={0} role="region" aria-label={t("enrollmentsTitle")} style={{ overflowX: "auto" }} data-testid="enrollments">
            <Table<Enrollment> rowKey="contact_id" columns={columns} dataSource={pages.items} loading={pages.loading}
              pagination={false} size="small" locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} />
            <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
          </div>
        )}
      </Card>
    </>
  );
}

interface EnrolValues { contact_ids?: string[]; pasted?: string; wave_id?: string }

function Enrol({ id, onDone }: { id: string; onDone: () => void }) {
  const t = useT(a);
  const skipLabel = useSkipLabel();
  const [toast, holder] = message.useMessage();
  const f = useApiForm<EnrolValues, EnrollResult>({
    fields: ["contact_ids", "wave_id"],
    strip: ["request."],
    submit: (v) => {
      const ids = contactIds(v.contact_ids, v.pasted);
      return unwrap(api.POST("/api/v1/sequences/{id}/enrollments", {
        params: { path: { id } },
        body: { ...(ids.length > 0 ? { contact_ids: ids } : {}), ...(v.wave_id?.trim() ? { wave_id: v.wave_id.trim() } : {}) },
      }));
    },
    onSuccess: (r) => {
      const skipped = Object.entries(r.skipped ?? {}).filter(([, n]) => Number(n) > 0).map(([k, n]) => `${skipLabel(k)} ${n}`);
      void toast.success([t("enrolledMsg", { n: r.enrolled ?? 0, already: r.already_enrolled ?? 0 }),
        ...(skipped.length ? [t("enrolledSkipped", { list: skipped.join(", ") })] : [])].join(" "));
      onDone();
    },
  });
  return (
    <Form form={f.form} name="enrol" layout="vertical" onFinish={f.onFinish} data-testid="enrol-form">
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="contact_ids" label={t("contacts")}>
        <ContactsPicker label={t("contacts")} placeholder={t("contactPlaceholder")} />
      </Form.Item>
      <Form.Item name="pasted" label={t("pasteIds")}><Input.TextArea rows={2} /></Form.Item>
      <Form.Item name="wave_id" label={t("enrollWave")}><Input style={{ maxWidth: 360 }} /></Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("enroll")}</Button>
    </Form>
  );
}
