// One quote: its lines and totals exactly as the API computed them, its status and approval
// trail, and what can be done with it: revise (a new version), submit for approval, open or save
// the PDF. /quotes/new is the builder for a new draft (?opportunity= preselects the deal).
import { Alert, Button, Card, Descriptions, Flex, Space, Spin, Table, Tag, Timeline, Typography } from "antd";
import { useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { formatDate, formatDateTime } from "../../i18n/format";
import { label, TAG } from "./labels";
import { m } from "./messages";
import { downloadPdf, fetchQuotePdf, openPdf } from "./pdf";
import { QuoteForm } from "./QuoteForm";
import { formatDecimal, fractionAsPercent, lineRows, totalRows, type LineRow } from "./quoteView";

type Quote = Schema<"Quote">;

export default function QuoteScreen() {
  const { id = "new" } = useParams();
  const [search] = useSearchParams();
  const navigate = useNavigate();
  const t = useT(m);
  if (id === "new") {
    return (
      <>
        <Link to="/quotes">← {t("allQuotes")}</Link>
        <Typography.Title level={1} style={{ fontSize: 22, marginTop: 8 }}>{t("newQuoteTitle")}</Typography.Title>
        <Card><QuoteForm opportunityId={search.get("opportunity") ?? undefined} onSaved={(q) => navigate(`/quotes/${q.id}`)} /></Card>
      </>
    );
  }
  return <QuoteDetail id={id} />;
}

function QuoteDetail({ id }: { id: string }) {
  const t = useT(m);
  const { locale } = useLocale();
  const navigate = useNavigate();
  const [quote, setQuote] = useState<Quote | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [actionError, setActionError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [revising, setRevising] = useState(false);
  const [approvals, setApprovals] = useState<Schema<"ApprovalRequest">[]>([]);

  const load = useCallback(() => {
    setError(null);
    setQuote(null);
    setRevising(false);
    unwrap(api.GET("/api/v1/quotes/{id}", { params: { path: { id } } }))
      .then(setQuote)
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
    unwrap(api.GET("/api/v1/approvals", { params: { query: { quote_id: id } } }))
      .then((a) => setApprovals(a.items))
      .catch(() => setApprovals([])); // the trail is extra; the quote itself says its status
  }, [id]);
  useEffect(load, [load]);

  const act = async (name: string, run: () => Promise<void>) => {
    setBusy(name);
    setActionError(null);
    try {
      await run();
    } catch (err) {
      if (err instanceof ApiError) setActionError(err);
      else throw err;
    } finally {
      setBusy(null);
    }
  };

  if (error) return <LoadError error={error} retry={load} />;
  if (!quote) return <Spin />;
  const fallbackName = `${quote.number ?? "quote"}-v${quote.version ?? 1}.pdf`;
  const pdf = (then: typeof openPdf) => act("pdf", async () => then(await fetchQuotePdf(id, fallbackName)));
  const submit = () => act("submit", async () => {
    await unwrap(api.POST("/api/v1/quotes/{id}/submit", { params: { path: { id } } }));
    load(); // the quote and its new approval trail
  });
  const status = quote.status ?? "";
  const revisable = !["superseded", "accepted"].includes(status);

  return (
    <>
      <Link to="/quotes">← {t("allQuotes")}</Link>
      <Flex justify="space-between" align="center" wrap gap="small" style={{ marginTop: 8 }}>
        <Typography.Title level={1} style={{ fontSize: 22, margin: 0 }}>
          {t("quoteHeading", { number: quote.number ?? "", version: quote.version ?? 1 })}{" "}
          <Tag color={status === "approved" || status === "accepted" ? TAG.good : status === "rejected" ? TAG.bad : undefined}
            data-testid="quote-status">{label(locale, "quoteStatus", status)}</Tag>
        </Typography.Title>
        <Space wrap>
          <Button onClick={() => void pdf(openPdf)} loading={busy === "pdf"}>{t("openPdf")}</Button>
          <Button onClick={() => void pdf(downloadPdf)} loading={busy === "pdf"}>{t("downloadPdf")}</Button>
          {revisable && <Button onClick={() => setRevising((r) => !r)}>{revising ? t("cancel") : t("revise")}</Button>}
          {(status === "draft" || status === "rejected") && (
            <Button type="primary" onClick={() => void submit()} loading={busy === "submit"}>{t("submitForApproval")}</Button>
          )}
          {status === "accepted" && (
            <Link to={`/contracts?quote=${encodeURIComponent(id)}`}><Button type="primary">{t("makeContract")}</Button></Link>
          )}
        </Space>
      </Flex>
      {actionError && <div style={{ marginTop: 16 }}><ProblemAlert detail={actionError.problem.detail ?? null} unplaced={actionError.fieldErrors} /></div>}
      {status === "superseded" && <Alert type="info" showIcon style={{ marginTop: 16 }} title={t("supersededHint")} />}
      {revising ? (
        <Card style={{ marginTop: 16 }} title={<h2 className="card-title">{t("reviseTitle")}</h2>}>
          <QuoteForm revising={quote} onSaved={(q) => navigate(`/quotes/${q.id}`)} />
        </Card>
      ) : (
        <>
          <Card style={{ marginTop: 16 }} title={<h2 className="card-title">{t("lines")}</h2>}>
            <LinesTable quote={quote} />
            <Totals quote={quote} />
          </Card>
          <Card style={{ marginTop: 16 }} title={<h2 className="card-title">{t("quoteDetails")}</h2>}>
            <Descriptions column={{ xs: 1, md: 2 }} size="small">
              <Descriptions.Item label={t("customerName")}>{quote.customer_name}</Descriptions.Item>
              <Descriptions.Item label={t("opportunity")}>{quote.opportunity_id}</Descriptions.Item>
              <Descriptions.Item label={t("validUntil")}>{formatDate(quote.valid_until, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("sentAt")}>{formatDateTime(quote.sent_at, locale)}</Descriptions.Item>
              <Descriptions.Item label={t("specialTerms")}>{quote.special_terms}</Descriptions.Item>
              <Descriptions.Item label={t("notes")}>{quote.notes}</Descriptions.Item>
            </Descriptions>
          </Card>
          {approvals.length > 0 && (
            <Card style={{ marginTop: 16 }} title={<h2 className="card-title">{t("approvalTrail")}</h2>}>
              {approvals.map((a) => <ApprovalSteps key={a.id} approval={a} />)}
            </Card>
          )}
        </>
      )}
    </>
  );
}

function LinesTable({ quote }: { quote: Quote }) {
  const t = useT(m);
  const { locale } = useLocale();
  const columns = [
    { title: t("product"), dataIndex: "name", key: "name" },
    { title: t("quantity"), dataIndex: "quantity", key: "q", align: "end" as const },
    { title: t("unitPrice"), dataIndex: "unitPrice", key: "p", align: "end" as const },
    { title: t("lineDiscount"), dataIndex: "discountPercent", key: "d", align: "end" as const },
    { title: t("gross"), dataIndex: "gross", key: "g", align: "end" as const },
    { title: t("discount"), dataIndex: "discount", key: "dd", align: "end" as const },
    { title: t("net"), dataIndex: "net", key: "n", align: "end" as const },
  ];
  return <Table<LineRow> rowKey="index" columns={columns} dataSource={lineRows(quote, locale)} pagination={false} size="small" />;
}

/** The API's totals, beside the quote-level discount and tax rate they came from. */
export function Totals({ quote }: { quote: Quote }) {
  const t = useT(m);
  const { locale } = useLocale();
  return (
    <Descriptions column={1} size="small" bordered style={{ marginTop: 16, maxWidth: 420, marginInlineStart: "auto" }} data-testid="quote-totals">
      {quote.discount_percent && <Descriptions.Item label={t("quoteDiscount")}>{formatDecimal(quote.discount_percent, locale)}%</Descriptions.Item>}
      {totalRows(quote, locale).map((row) => (
        <Descriptions.Item key={row.key} label={row.key === "tax_total" && quote.tax_rate ? `${t("total_tax_total")} (${fractionAsPercent(quote.tax_rate)})` : t(`total_${row.key}`)}>
          <span data-testid={`total-${row.key}`} style={row.key === "total" ? { fontWeight: 600 } : undefined}>{row.text}</span>
        </Descriptions.Item>
      ))}
      {quote.effective_discount_percent && (
        <Descriptions.Item label={t("effectiveDiscount")}>{formatDecimal(quote.effective_discount_percent, locale)}%</Descriptions.Item>
      )}
    </Descriptions>
  );
}

export function ApprovalSteps({ approval }: { approval: Schema<"ApprovalRequest"> }) {
  const t = useT(m);
  const { locale } = useLocale();
  return (
    <Timeline items={(approval.steps ?? []).map((s) => ({
      key: `${approval.id}-${s.order}`,
      color: s.status === "approved" ? "green" : s.status === "rejected" ? "red" : "blue",
      children: (
        <div>
          <Typography.Text strong>{label(locale, "role", s.approver_role)}</Typography.Text>{" "}
          <Tag>{label(locale, "stepStatus", s.status)}</Tag>
          <div>{s.reason}</div>
          {s.decided_by && <Typography.Text type="secondary">{t("decidedBy", { who: s.decided_by, when: formatDateTime(s.decided_at, locale) })}</Typography.Text>}
          {s.comment && <div>“{s.comment}”</div>}
        </div>
      ),
    }))} />
  );
}

