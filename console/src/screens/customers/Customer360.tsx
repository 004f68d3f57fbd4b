// The 360° view: the profile and the timeline gathered from every service (calls and notes from
// contacts, quotes and deals from sales, tickets and CSAT from support, ...), newest first, with
// the form to log a call or note. A customer the caller may not see is the API's 404: "not found".
import { Button, Card, Col, Descriptions, Row, Spin, Tag, Timeline, Typography, Space } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { formatDate, formatDateTime } from "../../i18n/format";
import { useLabel, useLocale, useT, type Label } from "../../i18n";
import { core } from "../../i18n/core";
import { LogInteraction } from "./LogInteraction";
import { m } from "./messages";
import { usePicklist } from "./picklists";

type Contact = Schema<"Contact">;
type Entry = Schema<"TimelineEntry">;

const TIMELINE_PAGE = 25;

export default function Customer360() {
  const { id = "" } = useParams();
  const t = useT(m);
  const tc = useT(core);
  const { locale } = useLocale();
  const levels = usePicklist("level");
  const industries = usePicklist("industry");
  const [contact, setContact] = useState<Contact | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const timeline = useTimeline(id);

  const load = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/contacts/{id}", { params: { path: { id } } }))
      .then(setContact)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [id]);
  useEffect(load, [load]);

  if (error) return <LoadError error={error} retry={load} />;
  if (!contact) return <Spin />;

  return (
    <>
      <Link to="/customers">← {t("back")}</Link>
      <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>
        {contact.name} {contact.level && <Tag color={contact.level === "vip" ? "gold" : undefined}>{levels.labelOf(contact.level, locale)}</Tag>}
      </Typography.Title>
      <Row gutter={[24, 24]}>
        <Col xs={24} lg={10}>
          <Card title={<h2 className="card-title">{t("profile")}</h2>}>
            <Descriptions column={1} size="small">
              <Descriptions.Item label={t("colCompany")}>{contact.company_name}</Descriptions.Item>
              <Descriptions.Item label={t("colTitle")}>{contact.title}</Descriptions.Item>
              <Descriptions.Item label={t("industry")}>{industries.labelOf(contact.industry, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("phones")}>{(contact.phones ?? []).map((p) => p.number || p.raw).join(", ")}</Descriptions.Item>
              <Descriptions.Item label={t("emails")}>{(contact.emails ?? []).map((e) => e.address).join(", ")}</Descriptions.Item>
              <Descriptions.Item label={t("colTags")}>{(contact.tags ?? []).map((x) => <Tag key={x}>{x}</Tag>)}</Descriptions.Item>
              <Descriptions.Item label={t("owner")}>{contact.owner_id}</Descriptions.Item>
              <Descriptions.Item label={t("colRegion")}>{contact.region}</Descriptions.Item>
              <Descriptions.Item label={t("created")}>{formatDate(contact.created_at, locale)}</Descriptions.Item>
            </Descriptions>
          </Card>
          <Card title={<h2 className="card-title">{t("logTitle")}</h2>} style={{ marginTop: 24 }}>
            <LogInteraction contactId={id} onLogged={timeline.reload} />
          </Card>
        </Col>
        <Col xs={24} lg={14}>
          <Card title={<h2 className="card-title">{t("timeline")}</h2>}>
            <TimelineList entries={timeline.entries} loading={timeline.loading} />
            {timeline.error && <LoadError error={timeline.error} retry={timeline.reload} />}
            {timeline.hasMore && <Button onClick={timeline.more} loading={timeline.loading}>{tc("loadMore")}</Button>}
          </Card>
        </Col>
      </Row>
    </>
  );
}

// Which service an entry came from, in the reader's words.
const SERVICE_NAMES: Record<string, Label> = {
  contacts: { en: "Contacts", "zh-CN": "客户管理" },
  sales: { en: "Sales", "zh-CN": "销售" },
  support: { en: "Support", "zh-CN": "客服" },
  marketing: { en: "Marketing", "zh-CN": "营销" },
};

function TimelineList({ entries, loading }: { entries: Entry[]; loading: boolean }) {
  const t = useT(m);
  const label = useLabel();
  const { locale } = useLocale();
  if (!loading && entries.length === 0) return <Typography.Text type="secondary">{t("timelineEmpty")}</Typography.Text>;
  return (
    <Timeline
      data-testid="timeline"
      items={entries.map((e) => ({
        key: e.id,
        children: (
          <div data-kind={e.kind}>
            <Space size="small" wrap>
              <Typography.Text strong>{kindLabel(e.kind ?? "", t)}</Typography.Text>
              <Typography.Text type="secondary">{formatDateTime(e.occurred_at, locale)}</Typography.Text>
              {e.source_service && <Tag>{t("from", { service: SERVICE_NAMES[e.source_service] ? label(SERVICE_NAMES[e.source_service]!) : e.source_service })}</Tag>}
            </Space>
            <div>{e.summary || e.interaction?.subject}</div>
            {e.interaction?.content && <Typography.Paragraph type="secondary" style={{ marginBottom: 0 }}>{e.interaction.content}</Typography.Paragraph>}
          </div>
        ),
      }))}
    />
  );
}

function kindLabel(kind: string, t: ReturnType<typeof useT<typeof m.en>>): string {
  const known = ["call", "note", "meeting", "email"] as const;
  return (known as readonly string[]).includes(kind) ? t(`kind_${kind as (typeof known)[number]}`) : kind;
}

/** The timeline, a cursor page at a time ("load more" appends the next page). */
function useTimeline(contactId: string) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [nextToken, setNextToken] = useState("");
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<ApiError | null>(null);
  const fetchPage = useCallback(async (pageToken: string, append: boolean) => {
    setLoading(true);
    try {
      const page = await unwrap(api.GET("/api/v1/contacts/{id}/timeline", {
        params: { path: { id: contactId }, query: { page_size: TIMELINE_PAGE, page_token: pageToken || undefined } },
      }));
      setEntries((seen) => (append ? [...seen, ...page.items] : page.items));
      setNextToken(page.next_page_token);
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    } finally {
      setLoading(false);
    }
  }, [contactId]);
  useEffect(() => { void fetchPage("", false); }, [fetchPage]);
  return {
    entries, loading, error,
    hasMore: Boolean(nextToken),
    more: () => void fetchPage(nextToken, true),
    reload: () => void fetchPage("", false),
  };
}
