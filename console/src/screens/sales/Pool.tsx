// The public pool (公海) of the caller's team: leads (GET /sales/pool) and customers
// (GET /customer-pool) nobody holds, each cursor paged, with why it came back; "Claim" takes one
// (POST /leads/{id}/claim, /accounts/{id}/claim). A refusal is the API's, in its words: past the
// team's claim_limit, within the cool-down after a release, or 409 when another rep was first.
import { Button, Card, Input, Table, Typography, message } from "antd";
import { useCallback, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT } from "../../components/tones";
import { useCursorPages, type CursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { ProblemAlert } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { pm } from "./poolMessages";

type Lead = Schema<"Lead">;
type Account = Schema<"Account">;
type Pooled = Pick<Lead, "id" | "name" | "pool_reason" | "pooled_at" | "previous_owner_id"> & { company?: string };
const PAGE_SIZE = 20;

export default function Pool() {
  const t = useT(pm);
  const [q, setQ] = useState("");
  const query = useDebounced(q.trim(), 300);
  const [refusal, setRefusal] = useState<ApiError | null>(null);
  const [toast, holder] = message.useMessage();

  const leadPage = useCallback(async (token: string): Promise<Page<Pooled>> => {
    const p = await unwrap(api.GET("/api/v1/sales/pool", { params: { query: { q: query || undefined, page_size: PAGE_SIZE, page_token: token || undefined } } }));
    return { items: p.items, next_page_token: p.next_page_token };
  }, [query]);
  const accountPage = useCallback(async (token: string): Promise<Page<Pooled>> => {
    const p = await unwrap(api.GET("/api/v1/customer-pool", { params: { query: { q: query || undefined, page_size: PAGE_SIZE, page_token: token || undefined } } }));
    return { items: p.items.map((a: Account) => ({ ...a })), next_page_token: p.next_page_token };
  }, [query]);
  const leads = useCursorPages<Pooled>(leadPage, `leads:${query}`);
  const accounts = useCursorPages<Pooled>(accountPage, `accounts:${query}`);

  async function claim(kind: "lead" | "account", id: string) {
    setRefusal(null);
    try {
      if (kind === "lead") await unwrap(api.POST("/api/v1/leads/{id}/claim", { params: { path: { id } } }));
      else await unwrap(api.POST("/api/v1/accounts/{id}/claim", { params: { path: { id } } }));
      void toast.success(t("claimed"));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setRefusal(err);
    }
    (kind === "lead" ? leads : accounts).reload(); // claimed, or taken by someone else meanwhile
  }

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("poolTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("poolNote")}</Typography.Paragraph>
      <Input.Search aria-label={t("poolSearch")} placeholder={t("poolSearch")} allowClear value={q}
        onChange={(e) => setQ(e.target.value)} style={{ maxWidth: 360, marginBottom: 16 }} />
      {refusal && (
        <div data-testid="claim-refusal">
          <ProblemAlert detail={`${t("claimRefused")}: ${refusal.problem.detail ?? refusal.problem.title ?? ""}`}
            unplaced={refusal.fieldErrors} />
        </div>
      )}
      <PoolTable title={t("poolLeads")} pages={leads} onClaim={(id) => claim("lead", id)} company />
      <PoolTable title={t("poolCustomers")} pages={accounts} onClaim={(id) => claim("account", id)} />
    </>
  );
}

function PoolTable({ title, pages, onClaim, company }: {
  title: string; pages: CursorPages<Pooled>; onClaim: (id: string) => Promise<void>; company?: boolean;
}) {
  const t = useT(pm);
  const { locale } = useLocale();
  const [busy, setBusy] = useState<string | null>(null);
  return (
    <Card title={<h2 className="card-title">{title}</h2>} style={{ marginBottom: 16 }}>
      {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
        <>
          <Table<Pooled>
            rowKey={(r) => r.id ?? ""}
            loading={pages.loading}
            dataSource={pages.items}
            pagination={false}
            size="small"
            locale={{ emptyText: <span style={EMPTY_TEXT}>{t("poolEmpty")}</span> }}
            columns={[
              { title: t("colName"), key: "name", render: (_, r) => r.name },
              ...(company ? [{ title: t("colCompany"), key: "company", render: (_: unknown, r: Pooled) => r.company }] : []),
              { title: t("colWhy"), key: "why", render: (_, r) => r.pool_reason },
              { title: t("colSince"), key: "since", render: (_, r) => formatDateTime(r.pooled_at, locale) },
              { title: t("colBefore"), key: "before", render: (_, r) => r.previous_owner_id },
              { title: t("claim"), key: "claim", render: (_, r) => (
                <Button loading={busy === r.id} aria-label={`${t("claim")}: ${r.name ?? r.id}`}
                  onClick={async () => { setBusy(r.id ?? null); try { await onClaim(r.id ?? ""); } finally { setBusy(null); } }}>
                  {t("claim")}
                </Button>
              ) },
            ]}
          />
          <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
        </>
      )}
    </Card>
  );
}
