// The knowledge base: suggestions appear while the agent types (debounced), Enter runs the full
// search (Chinese and English, ranked); with nothing typed, the articles a cursor page at a time.
import { Flex, Input, List, Table, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { formatDate, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { m } from "./messages";
import { Snippet } from "./Snippet";
import { TONE, EMPTY_TEXT } from "../../components/tones";
import { useSuggestions } from "./useSuggestions";

type Hit = Schema<"KbSearchHit">;
type Article = Schema<"KbArticle">;

const PAGE_SIZE = 20;
const ARTICLE_STATUSES = ["draft", "published", "archived"] as const;

export default function KnowledgeBase() {
  const t = useT(m);
  const { locale } = useLocale();
  const [typed, setTyped] = useState("");
  const [searched, setSearched] = useState("");
  const suggest = useCallback(
    async (q: string) => (await unwrap(api.GET("/api/v1/kb/suggest", { params: { query: { q, limit: 8 } } }))).hits ?? [],
    [],
  );
  const suggestions = useSuggestions<Hit>(searched ? "" : typed, suggest);
  const search = useSearch(searched);

  const fetchPage = useCallback(
    (pageToken: string): Promise<Page<Article>> =>
      unwrap(api.GET("/api/v1/kb/articles", { params: { query: { page_size: PAGE_SIZE, page_token: pageToken || undefined } } })),
    [],
  );
  const showHits = Boolean(searched || suggestions.query);
  const pages = useCursorPages<Article>(showHits ? null : fetchPage, "articles");

  const columns = useMemo(() => [
    { title: t("colTitle"), dataIndex: "title", key: "title" },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (v: string) => <Tag style={v === "published" ? TONE.green : TONE.grey}>
        {(ARTICLE_STATUSES as readonly string[]).includes(v) ? t(`kbStatus_${v as (typeof ARTICLE_STATUSES)[number]}`) : v}</Tag> },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDate(v, locale) },
    { title: "", key: "votes", render: (_: unknown, a: Article) =>
      t("helpful", { yes: formatNumber(a.helpful_count ?? 0, locale), no: formatNumber(a.not_helpful_count ?? 0, locale) }) },
  ], [t, locale]);

  const hits = searched ? search.hits : suggestions.hits;
  const error = searched ? search.error : suggestions.error;
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("kbTitle")}</Typography.Title>
      <Flex gap="small" style={{ marginBottom: 16 }}>
        <Input.Search
          aria-label={t("kbSearch")}
          placeholder={t("kbPlaceholder")}
          allowClear
          value={typed}
          onChange={(e) => { setTyped(e.target.value); setSearched(""); }}
          onSearch={(v) => setSearched(v.trim())}
          style={{ maxWidth: 520 }}
        />
      </Flex>
      {error && <LoadError error={error} />}
      {showHits ? (
        <section aria-label={t("suggestTitle")} data-testid="kb-hits">
          {searched && !search.loading && (
            <Typography.Paragraph type="secondary">{t("kbResults", { n: formatNumber(search.total, locale) })}</Typography.Paragraph>
          )}
          <List<Hit>
            loading={searched ? search.loading : suggestions.loading}
            dataSource={hits}
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("suggestNone")}</span> }}
            renderItem={(hit) => (
              <List.Item key={hit.id}>
                <List.Item.Meta title={hit.title} description={<Snippet text={hit.snippet} />} />
              </List.Item>
            )}
          />
        </section>
      ) : pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Typography.Title level={2} style={{ fontSize: 18 }}>{t("kbArticles")}</Typography.Title>
          <Table<Article> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading}
            pagination={false} locale={{ emptyText: <span style={EMPTY_TEXT}>{t("kbEmpty")}</span> }} size="middle" />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </>
  );
}

/** The full search for what the agent submitted (ranked; the API returns the best hits). */
function useSearch(query: string) {
  const [state, setState] = useState<{ query: string; hits: Hit[]; total: number; error: ApiError | null } | null>(null);
  useEffect(() => {
    if (!query) return;
    let stale = false;
    unwrap(api.GET("/api/v1/kb/search", { params: { query: { q: query, limit: 50 } } }))
      .then((r) => { if (!stale) setState({ query, hits: r.hits ?? [], total: r.total ?? 0, error: null }); })
      .catch((err: unknown) => { if (!stale && err instanceof ApiError) setState({ query, hits: [], total: 0, error: err }); });
    return () => { stale = true; };
  }, [query]);
  const current = state?.query === query ? state : null;
  return { hits: current?.hits ?? [], total: current?.total ?? 0, error: current?.error ?? null, loading: Boolean(query) && !current };
}
