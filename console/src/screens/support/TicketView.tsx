// One ticket: its details and SLA clocks (live countdowns), the conversation (public replies,
// internal notes, customer messages, with the channel each came by and its delivery), and the
// reply box with knowledge-base suggestions while typing. A ticket the caller may not see is the
// API's 404: "not found".
import { Alert, Card, Col, Descriptions, Empty, Row, Space, Spin, Tag, Timeline, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatDateTime } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { PRIORITY_TONE, channelLabel, noticeLabel, priorityLabel, statusLabel, type T } from "./labels";
import { m } from "./messages";
import { ReplyBox } from "./ReplyBox";
import { clockView } from "./sla";
import { SlaTag } from "./SlaTag";
import { EMPTY_TEXT, TONE } from "../../components/tones";
import { useNow } from "./useNow";
import { usePicklist } from "../customers/picklists";

type Ticket = Schema<"Ticket">;
type Comment = Schema<"Comment">;

export default function TicketView() {
  const { id = "" } = useParams();
  const t = useT(m);
  const { locale } = useLocale();
  const levels = usePicklist("level");
  const now = useNow();
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [comments, setComments] = useState<Comment[]>([]);
  const [error, setError] = useState<ApiError | null>(null);

  const load = useCallback(() => {
    setError(null);
    Promise.all([
      unwrap(api.GET("/api/v1/tickets/{id}", { params: { path: { id } } })),
      unwrap(api.GET("/api/v1/tickets/{id}/comments", { params: { path: { id } } })),
    ])
      .then(([tk, thread]) => { setTicket(tk); setComments(thread.items); })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!ticket) return <Spin />;

  const windowEnds = ticket.reply_window_ends_at ? Date.parse(ticket.reply_window_ends_at) : null;
  return (
    <>
      <Link to="/tickets">← {t("back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {ticket.number} {ticket.subject}
      </Typography.Title>
      <Space wrap style={{ marginBottom: 16 }} data-testid="ticket-sla">
        <Tag style={TONE.grey} data-testid="ticket-status">{statusLabel(t, ticket.status)}</Tag>
        <Tag style={TONE[PRIORITY_TONE[ticket.priority || "normal"] ?? "grey"]}>{priorityLabel(t, ticket.priority)}</Tag>
        {ticket.channel && <Tag style={TONE.grey} data-testid="ticket-channel">{channelLabel(t, ticket.channel)}</Tag>}
        {(ticket.sla ?? []).map((c) => <SlaTag key={c.metric} view={clockView(c, now)} t={t} />)}
      </Space>
      {ticket.escalated && <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("escalated", { who: ticket.escalated_to ?? "" })} />}
      <Row gutter={[24, 24]}>
        <Col xs={24} lg={9}>
          <Card title={<h2 className="card-title">{t("details")}</h2>}>
            <Descriptions column={1} size="small">
              <Descriptions.Item label={t("requester")}>
                {ticket.contact_id
                  ? <Link to={`/customers/${encodeURIComponent(ticket.contact_id)}`}>{ticket.requester_name || ticket.requester_email || ticket.contact_id}</Link>
                  : ticket.requester_name || ticket.requester_email}
              </Descriptions.Item>
              {ticket.customer_level && <Descriptions.Item label={t("customerLevel")}>{levels.labelOf(ticket.customer_level, locale)}</Descriptions.Item>}
              <Descriptions.Item label={t("assignee")}>{ticket.assignee_id}</Descriptions.Item>
              <Descriptions.Item label={t("group")}>{ticket.group}</Descriptions.Item>
              <Descriptions.Item label={t("colChannel")}>{channelLabel(t, ticket.channel)}</Descriptions.Item>
              {ticket.notice_channel && (
                <Descriptions.Item label={t("noticeChannel")}>
                  {noticeLabel(t, ticket.notice_channel)} {ticket.notice_phone}
                </Descriptions.Item>
              )}
              {ticket.reply_window_ends_at && (
                <Descriptions.Item label={t("replyWindow")}>{formatDateTime(ticket.reply_window_ends_at, locale)}</Descriptions.Item>
              )}
              <Descriptions.Item label={t("created")}>{formatDateTime(ticket.created_at, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("firstResponded")}>{formatDateTime(ticket.first_responded_at, locale)}</Descriptions.Item>
            </Descriptions>
            {ticket.description && <Typography.Paragraph style={{ marginTop: 12, whiteSpace: "pre-wrap" }}>{ticket.description}</Typography.Paragraph>}
          </Card>
        </Col>
        <Col xs={24} lg={15}>
          <Card title={<h2 className="card-title">{t("thread")}</h2>}>
            <Thread comments={comments} t={t} />
          </Card>
          {ticket.status !== "closed" && (
            <Card title={<h2 className="card-title">{t("replyTitle")}</h2>} style={{ marginTop: 24 }}>
              {windowEnds !== null && windowEnds < now && (
                <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("replyWindowClosed")} />
              )}
              <ReplyBox ticketId={ticket.id ?? id} onSent={(tk, comment) => {
                if (tk) setTicket(tk);
                if (comment) setComments((seen) => [...seen, comment]);
              }} />
            </Card>
          )}
        </Col>
      </Row>
    </>
  );
}

function Thread({ comments, t }: { comments: Comment[]; t: T }) {
  const { locale } = useLocale();
  if (comments.length === 0) return <Empty description={<span style={EMPTY_TEXT}>{t("threadEmpty")}</span>} />;
  const who = (kind: string | undefined) =>
    kind === "agent" || kind === "customer" || kind === "system" ? t(`author_${kind}`) : kind ?? "";
  return (
    <Timeline
      data-testid="thread"
      items={comments.map((c) => ({
        key: c.id,
        content: (
          <div data-comment={c.id}>
            <Space size="small" wrap>
              <Typography.Text strong>{who(c.author_kind)} {c.author_id}</Typography.Text>
              <Typography.Text type="secondary">{formatDateTime(c.created_at, locale)}</Typography.Text>
              {!c.public && <Tag style={TONE.gold}>{t("internalNote")}</Tag>}
              {c.channel && <Tag style={TONE.grey}>{t("via", { channel: channelLabel(t, c.channel) })}</Tag>}
              {c.delivery_status && <Tag style={c.delivery_status === "failed" ? TONE.red : TONE.grey}>{t("delivery", { status: c.delivery_status })}</Tag>}
            </Space>
            <Typography.Paragraph style={{ whiteSpace: "pre-wrap", marginBottom: 0 }}>{c.body}</Typography.Paragraph>
            {c.delivery_error && <Typography.Text type="danger">{c.delivery_error}</Typography.Text>}
          </div>
        ),
      }))}
    />
  );
}
