// Out-of-office delegations: who lends whose records to whom, until when; delegate my work (or, as
// a manager, a team member's); end one early. The list pages with the API's cursor (by start).
import { Button, Card, Checkbox, Flex, Form, Input, Popconfirm, Table, Tag, Typography, message } from "antd";
import { useCallback, useMemo, useState } from "react";
import { api, unwrap, ApiError } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE, type Tone } from "../../components/tones";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { canEnd, delegationState, type Delegation, type DelegationState } from "./operations";
import { m } from "./messages";
import { om } from "./opsMessages";
import { localToIso } from "./time";

const PAGE_SIZE = 50;
const STATE_TONE: Record<DelegationState, Tone> = { active: "green", upcoming: "blue", over: "grey", revoked: "grey" };

interface Values { from_user_id?: string; to_user_id?: string; starts_at?: string; ends_at?: string; reason?: string }

export default function Delegations() {
  const t = useT(om);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [user, setUser] = useState("");
  const [activeOnly, setActiveOnly] = useState(false);
  const who = useDebounced(user.trim(), 300);
  const tm = useT(m);
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Delegation>> => {
    const a = await unwrap(api.GET("/api/v1/sales/delegations", { params: { query: {
      user_id: who || undefined, active_only: activeOnly || undefined, page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: a.items, next_page_token: a.next_page_token };
  }, [who, activeOnly]);
  const pages = useCursorPages<Delegation>(fetchPage, `${who}|${activeOnly}`);
  const { reload, error, loading } = pages;
  const items = pages.loaded ? pages.items : null;

  const f = useApiForm<Values, Delegation>({
    fields: ["from_user_id", "to_user_id", "starts_at", "ends_at", "reason"],
    strip: ["delegation."],
    submit: (v) => unwrap(api.POST("/api/v1/sales/delegations", { body: {
      from_user_id: v.from_user_id?.trim() || undefined,
      to_user_id: v.to_user_id?.trim() ?? "",
      starts_at: v.starts_at ? localToIso(v.starts_at) : undefined,
      ends_at: v.ends_at ? localToIso(v.ends_at) : "",
      reason: v.reason?.trim() || undefined,
    } })),
    onSuccess: () => { void toast.success(t("delegated")); reload(); },
  });

  const end = useCallback(async (d: Delegation) => {
    try {
      await unwrap(api.POST("/api/v1/sales/delegations/{id}/end", { params: { path: { id: d.id ?? "" } } }));
      void toast.success(t("ended"));
      reload();
    } catch (err) {
      void toast.error(err instanceof ApiError ? err.problem.detail : String(err));
    }
  }, [reload, t, toast]);

  const now = new Date();
  const columns = useMemo(() => [
    { title: t("colFrom"), dataIndex: "from_user_id", key: "from" },
    { title: t("colTo"), dataIndex: "to_user_id", key: "to" },
    { title: t("colPeriod"), key: "period",
      render: (_: unknown, d: Delegation) => `${formatDateTime(d.starts_at, locale)} – ${formatDateTime(d.ends_at, locale)}` },
    { title: t("colState"), key: "state", render: (_: unknown, d: Delegation) => {
      const s = delegationState(d, now);
      return <Tag style={TONE[STATE_TONE[s]]} data-state={s}>{t(`state_${s}`)}</Tag>;
    } },
    { title: t("colReason"), dataIndex: "reason", key: "reason" },
    { title: t("colBy"), dataIndex: "created_by", key: "by" },
    { title: t("colActions"), key: "actions", render: (_: unknown, d: Delegation) => canEnd(d, now) && (
      <Popconfirm title={t("endConfirm", { from: d.from_user_id ?? "", to: d.to_user_id ?? "" })} okText={t("end")}
                  onConfirm={() => end(d)}>
        <Button size="small" aria-label={`${t("end")}: ${d.from_user_id} → ${d.to_user_id}`}>{t("end")}</Button>
      </Popconfirm>
    ) },
  ], [t, locale, end, now.getMinutes()]); // the state follows the clock by the minute

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("delegationsTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("delegationsNote")}</Typography.Paragraph>
      <Card title={<h2 className="card-title">{t("newDelegation")}</h2>} style={{ marginBottom: 16 }}>
        <Form form={f.form} layout="vertical" onFinish={f.onFinish}>
          <ProblemAlert {...f.alert} />
          <Flex wrap gap="middle" align="flex-start">
            <Form.Item name="from_user_id" label={t("fromUser")}><Input style={{ width: 200 }} spellCheck={false} /></Form.Item>
            <Form.Item name="to_user_id" label={t("toUser")}><Input style={{ width: 200 }} spellCheck={false} /></Form.Item>
            <Form.Item name="starts_at" label={t("startsAt")}><Input type="datetime-local" /></Form.Item>
            <Form.Item name="ends_at" label={t("endsAt")}><Input type="datetime-local" /></Form.Item>
            <Form.Item name="reason" label={t("reason")}><Input style={{ width: 260 }} /></Form.Item>
          </Flex>
          <Button type="primary" htmlType="submit" loading={f.submitting}>{t("delegate")}</Button>
        </Form>
      </Card>
      <Flex wrap gap="middle" align="center" style={{ marginBottom: 16 }}>
        <Input aria-label={t("filterUser")} placeholder={t("filterUser")} style={{ width: 240 }} allowClear
               value={user} onChange={(e) => setUser(e.target.value)} />
        <Checkbox checked={activeOnly} onChange={(e) => setActiveOnly(e.target.checked)}>{t("activeOnly")}</Checkbox>
      </Flex>
      {error ? <LoadError error={error} retry={reload} /> : (
        <>
          <div data-testid="delegations">
            <Table<Delegation> rowKey="id" columns={columns} dataSource={items ?? []} loading={loading} pagination={false} size="middle"
              locale={{ emptyText: <span style={EMPTY_TEXT}>{items === null ? "" : t("noDelegations")}</span> }} />
          </div>
          {(pages.hasNext || pages.hasPrevious) && (
            <PagerButtons pages={pages} labels={{ previous: tm("previous"), next: tm("next"), page: tm("page", { n: pages.page }) }} />
          )}
        </>
      )}
    </>
  );
}
