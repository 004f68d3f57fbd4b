// My customers: search as you type (the search index, best match first), or the list with
// filters (tag, level, source) and cursor paging, or a segment's members. The API applies the
// caller's visibility: a rep gets their own customers, a manager their region.
import { Input, Table, Tag, Typography, Alert, Flex, type TableColumnsType } from "antd";
import { memo, useCallback, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDate, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { usePicklist } from "./picklists";
import { SEARCH_PAGE_SIZE as PAGE_SIZE, startSearch, useSearch, useSearchBox } from "./useCustomerSearch";
import { CustomerFilters, ExportCustomers } from "./CustomerFilters";

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

// Keys typed closer together than this wait for the pause after them (a query after a quiet
// moment leaves at once: useSearchBox).
const SEARCH_DELAY_MS = 50;

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
  const { locale } = useLocale();
  const [tag, setTag] = useState<string>();
  const [level, setLevel] = useState<string>();
  const levels = usePicklist("level");
  const [source, setSource] = useState<string>();
  const sources = usePicklist("source");
  const [segmentId, setSegmentId] = useState<string>();
  const [segments, setSegments] = useState<Segment[] | null>(null);
  const filtered = Boolean(tag || level || source);
  // The search request leaves as the query settles, before the render that shows it is waiting.
  const box = useSearchBox(SEARCH_DELAY_MS, (q) => { if (q && !filtered && !segmentId) startSearch(q, 0); });
  const query = box.settled;
  // A bare query goes to the search index (typo tolerant, ranked); with filters the list's own
  // substring match keeps every filter and the cursor; a segment lists its members.
  const mode = segmentId ? "segment" : query && !filtered ? "search" : "list";

  useEffect(() => {
    unwrap(api.GET("/api/v1/segments", { params: { query: { page_size: 100 } } }))
      .then((page) => setSegments(page.items))
      .catch(() => setSegments([])); // a role without segments simply has none to pick
  }, []);

  // The list's key leaves out a query that goes to the search index: the list stays as it was
  // under a search (on screen until the first answer is in), and is loaded again when it ends.
  const searching = mode === "search";
  const [wasSearching, setWasSearching] = useState(false);
  const [searchesEnded, setSearchesEnded] = useState(0);
  if (wasSearching !== searching) {
    setWasSearching(searching);
    if (!searching) setSearchesEnded((n) => n + 1);
  }
  const listMode = mode === "segment" ? "segment" : "list";
  const listQuery = mode === "list" ? query : "";
  const key = JSON.stringify([listMode, listQuery, tag, level, source, segmentId, searchesEnded]);
  const fetchPage = useCallback(
    async (pageToken: string): Promise<Page<Row>> => {
      if (listMode === "segment") {
        const page = await unwrap(api.GET("/api/v1/segments/{id}/members", {
          params: { path: { id: segmentId! }, query: { page_size: PAGE_SIZE, page_token: pageToken || undefined } },
        }));
        return { items: page.items.map(fromContact), next_page_token: page.next_page_token };
      }
      const page = await unwrap(api.GET("/api/v1/contacts", {
        params: { query: { q: listQuery || undefined, tag, level, source, page_size: PAGE_SIZE, page_token: pageToken || undefined } },
      }));
      return { items: page.items.map(fromContact), next_page_token: page.next_page_token };
    },
    [key], // key holds everything the page depends on
  );
  const pages = useCursorPages<Row>(mode === "search" ? null : fetchPage, key);
  const search = useSearch(searching ? query : "", fromHit);

  // What the table shows: the search's answer once one is in (the previous query's, marked as
  // updating, until the current one arrives), else the list, also while the first answer is on its way.
  const showsHits = searching && search.answer !== null;
  const rows = showsHits ? search.answer!.rows : pages.items;
  const updating = searching ? search.loading : pages.loading;
  const error = searching ? search.error : pages.error;
  // The tag filter offers the list's tags (a search hit carries none; a tag filters the list).
  const tagsSeen = useMemo(() => [...new Set(pages.items.flatMap((r) => r.tags))].join("\n"), [pages.items]);

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
  ].filter((c) => !showsHits || (c.key !== "tags" && c.key !== "updated")), // a search hit carries neither
  [t, locale, showsHits, levels]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("title")}</Typography.Title>
      <Flex wrap gap="small" style={{ marginBottom: 16 }}>
        <Input.Search
          aria-label={t("searchLabel")}
          placeholder={t("searchPlaceholder")}
          allowClear
          value={box.typed}
          onChange={(e) => box.onChange(e.target.value)}
          onCompositionStart={box.onCompositionStart}
          onCompositionEnd={(e) => box.onCompositionEnd(e.currentTarget.value)}
          style={{ width: 320 }}
          disabled={Boolean(segmentId)}
          loading={searching && search.loading}
        />
        <CustomerFilters tag={tag} setTag={setTag} level={level} setLevel={setLevel} source={source} setSource={setSource}
          segmentId={segmentId} setSegmentId={setSegmentId} segments={segments} levels={levels} sources={sources}
          tagsSeen={tagsSeen} />
        {!segmentId && <ExportCustomers query={query} tag={tag} level={level} source={source} />}
      </Flex>
      {segmentId && <Alert type="info" showIcon title={t("segmentHint")} style={{ marginBottom: 16 }} />}
      {error ? <LoadError error={error} retry={searching ? search.retry : pages.reload} /> : (
        <>
          {searching && search.current && (
            <Typography.Paragraph type="secondary" data-testid="search-total">
              {t("found", { n: formatNumber(search.total, locale) })}
            </Typography.Paragraph>
          )}
          {/* Rows not yet of the current query are dimmed and marked busy until its answer is in. */}
          <div aria-busy={updating} data-testid="results" style={updating && rows.length > 0 ? { opacity: 0.55 } : undefined}>
            <Results rows={rows} columns={columns} loading={updating && rows.length === 0} empty={t("empty")} />
          </div>
          {searching ? (
            <PagerButtons pages={search.pager} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: search.page }) }} />
          ) : (
            <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
          )}
        </>
      )}
    </>
  );
}

/**
 * The table alone, so a keystroke re-renders the search box, not every row. Rows are keyed by
 * their place on the page, not by customer: the next answer's rows update the ones shown in place
 * instead of unmounting them all and mounting new ones (antd even drops the level tags' style
 * sheet when the last tag unmounts, and inserts it again: two style recalculations of the page).
 * The rows hold no state of their own (no selection, nothing expanded) that could follow a place.
 */
const Results = memo(function Results({ rows, columns, loading, empty }: {
  rows: Row[]; columns: TableColumnsType<Row>; loading: boolean; empty: string;
}) {
  const places = useMemo(() => new Map(rows.map((row, place) => [row, place])), [rows]);
  return (
    <Table<Row> rowKey={(row) => places.get(row) ?? row.id} columns={columns} dataSource={rows}
      loading={loading} pagination={false} locale={{ emptyText: empty }} size="middle" />
  );
});

