// An event campaign's guests: check in at the door by the code an invitee shows (once; case and
// dashes do not matter, the API decides), invite contacts (each gets a code; those invited before
// are counted, not added twice), and the invitation list by status a cursor page at a time, where
// an invitee's registration is recorded.
import { Button, Col, Form, Input, Row, Select, Table, Tag, Typography, message } from "antd";
import { useCallback, useMemo, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { INVITEE_STATUSES, contactIds, known } from "./automation";
import { a } from "./automationMessages";
import { ContactsPicker } from "./ContactsPicker";

type Campaign = Schema<"Campaign">;
type Invitee = Schema<"Invitee">;
type InvStatus = (typeof INVITEE_STATUSES)[number];
const TONES: Record<string, (typeof TONE)[keyof typeof TONE]> = { attended: TONE.green, registered: TONE.blue, invited: TONE.grey };

export function Invitees({ campaign }: { campaign: Campaign }) {
  const t = useT(a);
  const { locale } = useLocale();
  const id = campaign.id ?? "";
  const [status, setStatus] = useState<InvStatus>();
  const [rowError, setRowError] = useState<ApiError | null>(null);
  const [toast, holder] = message.useMessage();
  const key = JSON.stringify([id, status]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Invitee>> =>
      unwrap(api.GET("/api/v1/campaigns/{id}/invitees", {
        params: { path: { id }, query: { status, page_size: 20, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Invitee>(fetchPage, key);

  const register = useCallback(async (x: Invitee) => {
    setRowError(null);
    try {
      const saved = await unwrap(api.POST("/api/v1/campaigns/{id}/invitees/{contact_id}/register", {
        params: { path: { id, contact_id: x.contact_id ?? "" } } }));
      void toast.success(t("registeredMsg", { name: saved.name || (saved.contact_id ?? "") }));
      pages.reload();
    } catch (err) {
      if (err instanceof ApiError) setRowError(err);
    }
  }, [id, t, toast, pages.reload]);

  const columns = useMemo(() => [
    { title: t("colContact"), dataIndex: "name", key: "name", render: (v: string, x: Invitee) => v || x.contact_id },
    { title: t("colEmail"), dataIndex: "email", key: "email" },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={TONES[v] ?? TONE.grey}>{known(INVITEE_STATUSES, v) ? t(`invStatus_${v}`) : v}</Tag> },
    { title: t("colCode"), dataIndex: "check_in_code", key: "code", render: (v: string) => <code>{v}</code> },
    { title: t("colInvitedAt"), dataIndex: "invited_at", key: "invited", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colRegisteredAt"), dataIndex: "registered_at", key: "registered", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colCheckedInAt"), dataIndex: "checked_in_at", key: "checked", render: (v: string) => formatDateTime(v, locale) },
    { title: "", key: "act",
      render: (_: unknown, x: Invitee) => (x.status === "invited"
        ? <Button size="small" onClick={() => void register(x)} aria-label={t("registerOf", { name: x.name || (x.contact_id ?? "") })}>{t("register")}</Button> : null) },
  ], [t, locale, register]);

  return (
    <>
      {holder}
      <Row gutter={[24, 16]}>
        <Col xs={24} md={10}>
          <Typography.Title level={3} style={{ fontSize: 16 }}>{t("checkInTitle")}</Typography.Title>
          <CheckIn campaignId={id} onDone={pages.reload} />
        </Col>
        <Col xs={24} md={14}>
          <Typography.Title level={3} style={{ fontSize: 16 }}>{t("inviteTitle")}</Typography.Title>
          <Invite campaignId={id} onDone={pages.reload} />
        </Col>
      </Row>
      <Typography.Title level={3} style={{ fontSize: 16, marginTop: 16 }}>{t("inviteesTitle")}</Typography.Title>
      <Select aria-label={t("status")} placeholder={t("anyStatus")} allowClear style={{ width: 160, marginBottom: 12 }}
        value={status} onChange={setStatus} options={INVITEE_STATUSES.map((v) => ({ value: v, label: t(`invStatus_${v}`) }))} />
      {rowError && <Typography.Paragraph type="danger" role="alert">{rowError.problem.detail}</Typography.Paragraph>}
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <div tabIndex={0} role="region" aria-label={t("inviteesTitle")} style={{ overflowX: "auto" }} data-testid="invitees">
          <Table<Invitee> rowKey="contact_id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} size="small" locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </div>
      )}
    </>
  );
}

function CheckIn({ campaignId, onDone }: { campaignId: string; onDone: () => void }) {
  const t = useT(a);
  const [last, setLast] = useState<Invitee | null>(null);
  const f = useApiForm<{ check_in_code?: string }, Invitee>({
    fields: ["check_in_code"],
    strip: ["request."],
    submit: (v) => unwrap(api.POST("/api/v1/campaigns/{id}/check-ins", { params: { path: { id: campaignId } }, body: { check_in_code: v.check_in_code ?? "" } })),
    onSuccess: (x) => { setLast(x); onDone(); },
  });
  return (
    <Form form={f.form} name="check-in" layout="vertical" onFinish={(v) => { setLast(null); return f.onFinish(v); }} data-testid="check-in">
      <ProblemAlert {...f.alert} />
      <Form.Item name="check_in_code" label={t("checkInCode")}>
        <Input size="large" autoComplete="off" style={{ maxWidth: 260, fontFamily: "monospace" }} />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("checkIn")}</Button>
      {last && (
        <Typography.Paragraph role="status" strong style={{ marginTop: 12, fontSize: 16 }} data-testid="checked-in">
          {t("checkedIn", { name: last.name || (last.contact_id ?? "") })}
        </Typography.Paragraph>
      )}
    </Form>
  );
}

function Invite({ campaignId, onDone }: { campaignId: string; onDone: () => void }) {
  const t = useT(a);
  const [toast, holder] = message.useMessage();
  const f = useApiForm<{ contact_ids?: string[]; pasted?: string }, Schema<"AddInviteesResponse">>({
    fields: ["contact_ids"],
    aliases: {},
    strip: ["request."],
    submit: (v) => unwrap(api.POST("/api/v1/campaigns/{id}/invitees", {
      params: { path: { id: campaignId } }, body: { contact_ids: contactIds(v.contact_ids, v.pasted) } })),
    onSuccess: (r) => {
      void toast.success(t("invitedMsg", { n: (r.invitees ?? []).length, already: r.already_invited ?? 0 }));
      onDone();
    },
  });
  return (
    <Form form={f.form} name="invite" layout="vertical" onFinish={f.onFinish} data-testid="invite">
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="contact_ids" label={t("contacts")}>
        <ContactsPicker label={t("contacts")} placeholder={t("contactPlaceholder")} />
      </Form.Item>
      <Form.Item name="pasted" label={t("pasteIds")}><Input.TextArea rows={2} /></Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("invite")}</Button>
    </Form>
  );
}
