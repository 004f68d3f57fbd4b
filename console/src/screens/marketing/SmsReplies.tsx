// The SMS replies log: every text people sent back, newest first, a cursor page at a time, with the
// phone it came from, when, whether it was an opt-out word (which withdrew that phone's SMS
// consent) and the contacts holding that phone. A whole phone number narrows it to that phone.
import { Input, Table, Tag, Typography } from "antd";
import { useCallback, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { a } from "./automationMessages";

type Reply = Schema<"SmsReplyRecord">;

export default function SmsReplies() {
  const t = useT(a);
  const { locale } = useLocale();
  const [phone, setPhone] = useState("");
  const key = JSON.stringify([phone]);
  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Reply>> =>
      unwrap(api.GET("/api/v1/sms-replies", {
        params: { query: { phone: phone || undefined, page_size: 50, page_token: pageToken || undefined } },
      })),
    [key], // key holds every filter
  );
  const pages = useCursorPages<Reply>(fetchPage, key);

  const columns = useMemo(() => [
    { title: t("colFrom"), dataIndex: "phone", key: "phone", render: (v: string) => <span style={{ whiteSpace: "nowrap" }}>{v}</span> },
    { title: t("colReply"), dataIndex: "content", key: "content", render: (v: string) => <span style={{ whiteSpace: "pre-wrap" }}>{v}</span> },
    { title: t("colReceived"), dataIndex: "received_at", key: "at", render: (v: string) => formatDateTime(v, locale) },
    { title: t("colOptOut"), dataIndex: "opt_out", key: "opt_out",
      render: (v: boolean) => (v ? <Tag style={TONE.red}>{t("optOutYes")}</Tag> : t("optOutNo")) },
    { title: t("colContacts"), dataIndex: "contact_ids", key: "contacts",
      render: (ids: string[] | undefined) => ((ids ?? []).length === 0
        ? <Typography.Text type="secondary">{t("noContact")}</Typography.Text>
        : (ids ?? []).map((id) => (
          <div key={id}><Link to={`/customers/${encodeURIComponent(id)}`} style={{ wordBreak: "break-all" }}>{id}</Link></div>
        ))) },
  ], [t, locale]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("repliesTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("repliesHelp")}</Typography.Paragraph>
      <Input.Search aria-label={t("phoneFilter")} placeholder={t("phoneFilterHelp")} allowClear enterButton
        style={{ maxWidth: 320, marginBottom: 16 }} onSearch={(v) => setPhone(v.trim())} />
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <div tabIndex={0} role="region" aria-label={t("repliesTitle")} style={{ overflowX: "auto" }} data-testid="sms-replies">
          <Table<Reply> rowKey={(r) => `${r.phone ?? ""}|${r.received_at ?? ""}|${r.content ?? ""}`} columns={columns}
            dataSource={pages.items} loading={pages.loading} pagination={false} size="middle"
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("empty")}</span> }} />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </div>
      )}
    </>
  );
}
