// The quote builder's form: lines (a product from the catalogue at its price book's price, or a
// named line with its own price), line and quote discounts, tax, validity and special terms. It
// creates a draft (POST /quotes) or revises one (POST /quotes/{id}/revise: a new version, same
// number). Totals are not computed here: the saved quote shows the API's.
import { MinusCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Col, Form, Input, Row, Select, Typography } from "antd";
import { useEffect, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { core } from "../../i18n/core";
import { CURRENCIES } from "./LeadActions";
import { m } from "./messages";

type Quote = Schema<"Quote">;
type LineInput = Schema<"QuoteLineInput">;

interface LineValues {
  product_id?: string;
  name?: string;
  quantity?: string;
  unit_price?: { amount?: string };
  discount_percent?: string;
}

export interface QuoteValues {
  opportunity_id?: string;
  price_book_id?: string;
  currency_code?: string;
  customer_name?: string;
  lines?: LineValues[];
  discount_percent?: string;
  tax_rate?: string;
  valid_until?: string;
  special_terms?: string;
  notes?: string;
}

const BOOK_PAGE = 100;
const LINE_FIELDS = ["product_id", "name", "quantity", "unit_price.amount", "discount_percent"];
const TOP_FIELDS = ["opportunity_id", "price_book_id", "currency_code", "customer_name", "lines", "discount_percent",
  "tax_rate", "valid_until", "special_terms", "notes"];

/** The API field names this form shows (for `lines` as many as there are lines), and where a
 * line's price error goes (the API names the money, the form shows its amount). */
export function quoteFormFields(lineCount: number): { fields: string[]; aliases: Record<string, string> } {
  const lines = Array.from({ length: lineCount }, (_, i) => LINE_FIELDS.map((f) => `lines.${i}.${f}`)).flat();
  const aliases = Object.fromEntries(Array.from({ length: lineCount }, (_, i) => [`lines.${i}.unit_price`, `lines.${i}.unit_price.amount`]));
  return { fields: [...TOP_FIELDS, ...lines], aliases };
}

/** The form's lines as the API takes them; blanks are left out (the API's defaults apply). */
export function linesBody(lines: LineValues[] | undefined, currency: string | undefined): LineInput[] {
  return (lines ?? []).map((l) => ({
    ...(l.product_id ? { product_id: l.product_id } : {}),
    ...(l.name ? { name: l.name } : {}),
    quantity: l.quantity ?? "",
    ...(l.unit_price?.amount ? { unit_price: { amount: l.unit_price.amount, ...(currency ? { currency_code: currency } : {}) } } : {}),
    ...(l.discount_percent ? { discount_percent: l.discount_percent } : {}),
  }));
}

export function valuesOf(quote: Quote): QuoteValues {
  return {
    price_book_id: quote.price_book_id,
    currency_code: quote.currency_code,
    customer_name: quote.customer_name,
    discount_percent: quote.discount_percent,
    tax_rate: quote.tax_rate,
    valid_until: quote.valid_until,
    special_terms: quote.special_terms,
    notes: quote.notes,
    lines: (quote.lines ?? []).map((l) => ({
      product_id: l.product_id || undefined,
      name: l.product_id ? undefined : l.name,
      quantity: l.quantity,
      unit_price: l.product_id && quote.price_book_id ? {} : { amount: l.unit_price?.amount },
      discount_percent: l.discount_percent,
    })),
  };
}

export function QuoteForm({ revising, opportunityId, onSaved }: {
  revising?: Quote; opportunityId?: string; onSaved: (quote: Quote) => void;
}) {
  const t = useT(m);
  const tc = useT(core);
  const [products, setProducts] = useState<Schema<"Product">[]>([]);
  const [books, setBooks] = useState<Schema<"PriceBook">[]>([]);
  const [booksNext, setBooksNext] = useState("");
  const [lineCount, setLineCount] = useState(revising?.lines?.length ?? 1);
  const opportunities = useOpenOpportunities(!revising);

  useEffect(() => {
    unwrap(api.GET("/api/v1/products")).then((p) => setProducts(p.items)).catch(() => setProducts([]));
    loadBooks("");
  }, []);
  // Price books by cursor: the first page, then more on request (never every page at once).
  function loadBooks(pageToken: string) {
    unwrap(api.GET("/api/v1/price-books", { params: { query: { page_size: BOOK_PAGE, page_token: pageToken || undefined } } }))
      .then((b) => {
        setBooks((seen) => (pageToken ? [...seen, ...b.items] : b.items));
        setBooksNext(b.next_page_token);
      })
      .catch(() => setBooksNext(""));
  }

  const f = useApiForm<QuoteValues, Quote>({
    ...quoteFormFields(lineCount),
    strip: ["quote.", "changes."],
    resetOnSuccess: false,
    submit: (v) => {
      const currency = v.currency_code || books.find((b) => b.id === v.price_book_id)?.currency_code || undefined;
      const common = {
        ...(v.price_book_id ? { price_book_id: v.price_book_id } : {}),
        ...(v.customer_name ? { customer_name: v.customer_name } : {}),
        lines: linesBody(v.lines, currency),
        ...(v.discount_percent ? { discount_percent: v.discount_percent } : {}),
        ...(v.tax_rate ? { tax_rate: v.tax_rate } : {}),
        ...(v.valid_until ? { valid_until: v.valid_until } : {}),
        ...(v.special_terms ? { special_terms: v.special_terms } : {}),
        ...(v.notes ? { notes: v.notes } : {}),
      };
      if (revising) {
        return unwrap(api.POST("/api/v1/quotes/{id}/revise", {
          params: { path: { id: revising.id ?? "" } },
          // a revision names what it sets; cleared terms and discounts are sent as cleared
          body: { ...common, discount_percent: v.discount_percent ?? "", special_terms: v.special_terms ?? "" },
        }));
      }
      return unwrap(api.POST("/api/v1/quotes", {
        body: { opportunity_id: v.opportunity_id ?? "", ...(currency ? { currency_code: currency } : {}), ...common },
      }));
    },
    onSuccess: onSaved,
  });

  const bookId = Form.useWatch("price_book_id", f.form);
  const book = books.find((b) => b.id === bookId);
  const priced = new Set((book?.entries ?? []).map((e) => e.product_id));

  return (
    <Form<QuoteValues> form={f.form} layout="vertical" onFinish={f.onFinish}
      initialValues={revising ? valuesOf(revising) : { opportunity_id: opportunityId, currency_code: "CNY", lines: [{ quantity: "1" }] }}>
      <ProblemAlert {...f.alert} />
      <Row gutter={16}>
        {!revising && (
          <Col xs={24} md={12}>
            <Form.Item name="opportunity_id" label={t("opportunity")}>
              <Select showSearch optionFilterProp="label" options={opportunities.options(opportunityId)}
                popupRender={(menu) => (
                  <>
                    {menu}
                    {opportunities.hasMore && <Button type="link" size="small" onClick={opportunities.more}>{tc("loadMore")}</Button>}
                  </>
                )} />
            </Form.Item>
          </Col>
        )}
        <Col xs={24} md={revising ? 12 : 6}>
          <Form.Item name="price_book_id" label={t("priceBook")} extra={booksNext ? (
            <Button type="link" size="small" style={{ paddingInline: 0 }} onClick={() => loadBooks(booksNext)}>
              {tc("loadMore")}
            </Button>
          ) : undefined}>
            <Select allowClear options={books.map((b) => ({ value: b.id ?? "", label: `${b.name ?? b.id} · ${b.currency_code ?? ""}` }))}
              onChange={(id?: string) => {
                const c = books.find((b) => b.id === id)?.currency_code;
                if (c && !revising) f.form.setFieldValue("currency_code", c);
              }} />
          </Form.Item>
        </Col>
        {!revising && (
          <Col xs={24} md={6}>
            <Form.Item name="currency_code" label={t("currency")}>
              <Select options={CURRENCIES.map((c) => ({ value: c, label: c }))} />
            </Form.Item>
          </Col>
        )}
      </Row>
      <Typography.Title level={2} style={{ fontSize: 16 }}>{t("lines")}</Typography.Title>
      <Form.List name="lines">
        {(fields, { add, remove }, { errors }) => (
          <>
            {fields.map((field, i) => (
              <Row key={field.key} gutter={8} align="top" data-testid="quote-line">
                <Col xs={24} md={7}>
                  <Form.Item name={[field.name, "product_id"]} label={t("product")}>
                    <Select allowClear showSearch optionFilterProp="label" aria-label={t("lineProduct", { n: i + 1 })}
                      options={products.filter((p) => p.active !== false).map((p) => ({
                        value: p.id ?? "", label: `${p.name ?? ""} (${p.sku ?? ""})${book && !priced.has(p.id) ? " · " + t("notInBook") : ""}`,
                      }))} />
                  </Form.Item>
                </Col>
                <Col xs={24} md={5}>
                  <Form.Item name={[field.name, "name"]} label={t("lineName")}>
                    <Input maxLength={300} aria-label={t("lineNameN", { n: i + 1 })} />
                  </Form.Item>
                </Col>
                <Col xs={8} md={3}>
                  <Form.Item name={[field.name, "quantity"]} label={t("quantity")}>
                    <Input inputMode="decimal" aria-label={t("quantityN", { n: i + 1 })} />
                  </Form.Item>
                </Col>
                <Col xs={8} md={4}>
                  <Form.Item name={[field.name, "unit_price", "amount"]} label={t("unitPrice")} tooltip={t("unitPriceHint")}>
                    <Input inputMode="decimal" aria-label={t("unitPriceN", { n: i + 1 })} />
                  </Form.Item>
                </Col>
                <Col xs={6} md={3}>
                  <Form.Item name={[field.name, "discount_percent"]} label={t("lineDiscount")}>
                    <Input inputMode="decimal" suffix="%" aria-label={t("lineDiscountN", { n: i + 1 })} />
                  </Form.Item>
                </Col>
                <Col xs={2} md={2} style={{ paddingTop: 30 }}>
                  <Button type="text" icon={<MinusCircleOutlined />} aria-label={t("removeLine", { n: i + 1 })}
                    onClick={() => { remove(field.name); setLineCount((n) => Math.max(0, n - 1)); }} />
                </Col>
              </Row>
            ))}
            <Form.ErrorList errors={errors} />
            <Button type="dashed" icon={<PlusOutlined />} style={{ marginBottom: 16 }}
              onClick={() => { add({ quantity: "1" }); setLineCount((n) => n + 1); }}>{t("addLine")}</Button>
          </>
        )}
      </Form.List>
      <Row gutter={16}>
        <Col xs={12} md={6}>
          <Form.Item name="discount_percent" label={t("quoteDiscount")}><Input inputMode="decimal" suffix="%" /></Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item name="tax_rate" label={t("taxRate")} tooltip={t("taxRateHint")}><Input inputMode="decimal" placeholder="0.13" /></Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item name="valid_until" label={t("validUntil")}><Input type="date" /></Form.Item>
        </Col>
        <Col xs={12} md={6}>
          <Form.Item name="customer_name" label={t("customerName")}><Input maxLength={300} /></Form.Item>
        </Col>
      </Row>
      <Form.Item name="special_terms" label={t("specialTerms")} tooltip={t("specialTermsHint")}>
        <Input.TextArea rows={2} maxLength={20000} />
      </Form.Item>
      <Form.Item name="notes" label={t("notes")}><Input.TextArea rows={2} maxLength={20000} /></Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{revising ? t("saveRevision") : t("saveDraft")}</Button>
    </Form>
  );
}

/** Open opportunities to quote on, a cursor page at a time ("load more" in the drop-down). */
function useOpenOpportunities(enabled: boolean) {
  const [items, setItems] = useState<Schema<"Opportunity">[]>([]);
  const [next, setNext] = useState("");
  const load = (token: string) => {
    unwrap(api.GET("/api/v1/opportunities", { params: { query: { status: "open", page_size: 50, page_token: token || undefined } } }))
      .then((page) => { setItems((seen) => (token ? [...seen, ...page.items] : page.items)); setNext(page.next_page_token); })
      .catch(() => undefined); // the select stays as it was; the API's answer on save names the field
  };
  useEffect(() => { if (enabled) load(""); }, [enabled]);
  return {
    hasMore: Boolean(next),
    more: () => load(next),
    options: (chosen?: string) => {
      const list = items.map((o) => ({ value: o.id ?? "", label: `${o.name ?? o.id}${o.account_name ? " · " + o.account_name : ""}` }));
      return chosen && !items.some((o) => o.id === chosen) ? [{ value: chosen, label: chosen }, ...list] : list;
    },
  };
}
