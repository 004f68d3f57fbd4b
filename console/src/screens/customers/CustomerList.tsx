// My customers: search as you type (the search index, best match first), or the list with
// filters (tag, level, source) and cursor paging, or a segment's members. The API applies the
// caller's visibility: a rep gets their own customers, a manager their region.
import { Input, Select, Table, Tag, Typography, Alert, Flex, type TableColumnsType } from "antd";
import { memo, useCallback, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { formatDate, formatNumber } from "../../i18n/format";
import { useLabel, useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { usePicklist } from "./picklists";
import { ExportButton } from "../admin/ExportButton";

type Contact = Schema<"Contact">;
type Hit = Schema<"CustomerHit">;
type Segment = Schema<"Segment">;

/** One row, from either answer: a contact of the list or a hit of the search. */
interface Row {
  id: string;
  name: string;
  company: string;
  title: string;
  level: string;
  tags: string[];
  place: string;
  updated: string;
}

const PAGE_SIZE = 20;
const SEARCH_DELAY_MS = 50; // skips the keystrokes of a fast typist, adds little to the answer

function fromContact(c: Contact): Row {
  return {
    id: c.id ?? "", name: c.name ?? "", company: c.company_name ?? "", title: c.title ?? "",
    level: c.level ?? "", tags: c.tags ?? [], place: c.addresses?.[0]?.city ?? c.region ?? "", updated: c.updated_at ?? "",
  };
}

function fromHit(h: Hit): Row {
  return {
    id: h.id ?? "", name: h.name ?? "", company: h.company ?? "", title: h.title ?? "",
    level: h.level ?? "", tags: [], place: h.city ?? h.region ?? "", updated: "",
  };
}

export default function CustomerList() {
  const t = useT(m);
  const label = useLabel();
  const { locale } = useLocale();
  const [typed, setTyped] = useState("");
  const [composing, setComposing] = useState(false);
  const [tag, setTag] = useState<string>();
  const [level, setLevel] = useState<string>();
  const levels = usePicklist("level");
  const [source, setSource] = useState<string>();
  const sources = usePicklist("source");
  const [segmentId, setSegmentId] = useState<string>();
  const [segments, setSegments] = useState<Segment[] | null>(null);
  const filtered = Boolean(tag || level || source);
  // The search request leaves when typing settles, while the list re-renders into search mode.
  const prefetch = (q: string) => { if (q && !filtered && !segmentId) startSearch(q, 0); };
  const query = useDebounced(composing ? "" : typed.trim(), SEARCH_DELAY_MS, prefetch);
  // A bare query goes to the search index (typo tolerant, ranked); with filters the list's own
  // substring match keeps every filter and the cursor; a segment lists its members.
  const mode = segmentId ? "segment" : query && !filtered ? "search" : "list";

  useEffect(() => {
    unwrap(api.GET("/api/v1/segments", { params: { query: { page_size: 100 } } }))
      .then((page) => setSegments(page.items))
      .catch(() => setSegments([])); // a role without segments simply has none to pick
  }, []);

  const key = JSON.stringify([mode, query, tag, level, source, segmentId]);
  const fetchPage = useCallback(
    async (pageToken: string): Promise<Page<Row>> => {
      if (mode === "segment") {
        const page = await unwrap(api.GET("/api/v1/segments/{id}/members", {
          params: { path: { id: segmentId! }, query: { page_size: PAGE_SIZE, page_token: pageToken || undefined } },
        }));
        return { items: page.items.map(fromContact), next_page_token: page.next_page_token };
      }
      const page = await unwrap(api.GET("/api/v1/contacts", {
        params: { query: { q: query || undefined, tag, level, source, page_size: PAGE_SIZE, page_token: pageToken || undefined } },
      }));
      return { items: page.items.map(fromContact), next_page_token: page.next_page_token };
    },
    [key], // key holds everything the page depends on
  );
  const pages = useCursorPages<Row>(mode === "search" ? null : fetchPage, key);
  const search = useSearch(mode === "search" ? query : "");

  const rows = mode === "search" ? search.rows : pages.items;
  const loading = mode === "search" ? search.loading : pages.loading;
  const error = mode === "search" ? search.error : pages.error;

  const columns = useMemo(() => [
    { title: t("colName"), dataIndex: "name", key: "name",
      render: (name: string, row: Row) => <Link to={`/customers/${encodeURIComponent(row.id)}`}>{name || row.id}</Link> },
    { title: t("colCompany"), dataIndex: "company", key: "company" },
    { title: t("colTitle"), dataIndex: "title", key: "title" },
    { title: t("colLevel"), dataIndex: "level", key: "level",
      render: (v: string) => (v ? <Tag color={v === "vip" ? "gold" : undefined}>{levels.labelOf(v, locale)}</Tag> : null) },
    { title: t("colTags"), dataIndex: "tags", key: "tags",
      render: (tags: string[]) => tags.map((x) => <Tag key={x}>{x}</Tag>) },
    { title: t("colCity"), dataIndex: "place", key: "place" },
    { title: t("colUpdated"), dataIndex: "updated", key: "updated", render: (v: string) => formatDate(v, locale) },
  ].filter((c) => mode !== "search" || (c.key !== "tags" && c.key !== "updated")), // a search hit carries neither
  [t, locale, mode, levels]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("title")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Input.Search
          aria-label={t("searchLabel")}
          placeholder={t("searchPlaceholder")}
          allowClear
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          onCompositionStart={() => setComposing(true)}
          onCompositionEnd={(e) => { setComposing(false); setTyped(e.currentTarget.value); }}
          style={{ width: 320 }}
          disabled={Boolean(segmentId)}
          loading={mode === "search" && loading}
        />
        <Select aria-label={t("filterTag")} placeholder={t("filterTag")} allowClear style={{ width: 160 }}
          value={tag} onChange={setTag} disabled={Boolean(segmentId)} showSearch
          options={tagOptions(rows, tag)} />
        <Select aria-label={t("filterLevel")} placeholder={t("filterLevel")} allowClear style={{ width: 120 }}
          value={level} onChange={setLevel} disabled={Boolean(segmentId)}
          options={levels.choices.map((c) => ({ value: c.key, label: c.retired ? t("retiredSource", { label: label(c.label) }) : label(c.label) }))} />
        <Select aria-label={t("filterSource")} placeholder={t("filterSource")} allowClear style={{ width: 160 }}
          value={source} onChange={setSource} disabled={Boolean(segmentId)}
          options={sources.choices.map((c) => ({ value: c.key, label: c.retired ? t("retiredSource", { label: label(c.label) }) : label(c.label) }))} />
        {segments && segments.length > 0 && (
          <Select aria-label={t("filterSegment")} placeholder={t("filterSegment")} allowClear style={{ width: 200 }}
            value={segmentId} onChange={setSegmentId}
            options={segments.map((s) => ({ value: s.id ?? "", label: s.name ?? s.id }))} />
        )}
        {!segmentId && (
          <span style={{ marginInlineStart: "auto" }}>
            <ExportButton list="contacts" filters={{ q: query, tag, level, source }} />
          </span>
        )}
      </Flex>
      {segmentId && <Alert type="info" showIcon title={t("segmentHint")} style={{ marginBottom: 16 }} />}
      {error ? <LoadError error={error} retry={pages.reload} /> : (
        <>
          {mode === "search" && !loading && (
            <Typography.Paragraph type="secondary" data-testid="search-total">
              {t("found", { n: formatNumber(search.total, locale) })}
            </Typography.Paragraph>
          )}
          <Results rows={rows} columns={columns} loading={loading && rows.length === 0} empty={t("empty")} />
          {mode === "search" ? (
            <PagerButtons pages={search.pager} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: search.page }) }} />
          ) : (
            <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
          )}
        </>
      )}
    </>
  );
}

/** The table alone, so a keystroke re-renders the search box, not every row. */
const Results = memo(function Results({ rows, columns, loading, empty }: {
  rows: Row[]; columns: TableColumnsType<Row>; loading: boolean; empty: string;
}) {
  return (
    <Table<Row> rowKey="id" columns={columns} dataSource={rows} loading={loading} pagination={false}
      locale={{ emptyText: empty }} size="middle" />
  );
});

/** Tags seen on this page, plus the one chosen: the API has no tag list to offer. */
function tagOptions(rows: Row[], chosen: string | undefined) {
  const seen = new Set(rows.flatMap((r) => r.tags));
  if (chosen) seen.add(chosen);
  return [...seen].sort().map((x) => ({ value: x, label: x }));
}

const searchOf = (q: string, offset: number) =>
  unwrap(api.GET("/api/v1/search/customers", { params: { query: { q, kind: "contact", limit: PAGE_SIZE, offset, highlight: false } } }));
type SearchAnswer = Awaited<ReturnType<typeof searchOf>>;
// Requests started ahead of the render that asks for them (at most a few: each is taken once).
const started = new Map<string, Promise<SearchAnswer>>();

function startSearch(q: string, offset: number): void {
  const key = `${offset}|${q}`;
  if (started.has(key)) return;
  if (started.size >= 4) started.delete(started.keys().next().value!);
  const request = searchOf(q, offset);
  request.catch(() => undefined); // its error reaches whoever takes it
  started.set(key, request);
}

function takeSearch(q: string, offset: number): Promise<SearchAnswer> {
  const key = `${offset}|${q}`;
  const request = started.get(key);
  started.delete(key);
  return request ?? searchOf(q, offset);
}

/** The search index pages by offset (it ranks; there is no cursor to keep). */
function useSearch(query: string) {
  const [offset, setOffset] = useState(0);
  const [state, setState] = useState<{ query: string; offset: number; rows: Row[]; total: number } | null>(null);
  const [error, setError] = useState<import("../../api").ApiError | null>(null);
  useEffect(() => setOffset(0), [query]);
  useEffect(() => {
    if (!query) return;
    let stale = false;
    takeSearch(query, offset)
      .then((answer) => {
        if (stale) return;
        setState({ query, offset, rows: answer.items.map(fromHit), total: answer.total });
        setError(null);
      })
      .catch((err) => { if (!stale) setError(err); });
    return () => { stale = true; };
  }, [query, offset]);
  const current = state && state.query === query && state.offset === offset ? state : null;
  const total = current?.total ?? 0;
  return {
    // While the next answer is on its way the last one stays on screen (the search box shows the
    // wait): the table re-renders once, with the new rows, instead of emptying first.
    rows: current?.rows ?? (query && state ? state.rows : []),
    total,
    loading: Boolean(query) && current === null && error === null,
    error,
    page: Math.floor(offset / PAGE_SIZE) + 1,
    pager: {
      hasPrevious: offset > 0,
      hasNext: offset + PAGE_SIZE < total,
      loading: current === null,
      next: () => setOffset((o) => o + PAGE_SIZE),
      previous: () => setOffset((o) => Math.max(0, o - PAGE_SIZE)),
    },
  };
}
