// What the quote screen shows of the API's arithmetic. The service computes every line and total
// exactly, to the cent; the console never adds, rounds or recomputes them, it only formats the
// API's figures (a total that looks wrong is the API's to fix, and must be visible as such).
import type { Schema } from "../../api";
import type { Locale } from "../../i18n";
import { formatMoney, formatNumber } from "../../i18n/format";

type Quote = Schema<"Quote">;
type Money = Schema<"Money">;

export interface TotalRow {
  key: "subtotal" | "discount_total" | "tax_total" | "total";
  text: string;
}

export interface LineRow {
  index: number;
  name: string;
  quantity: string;
  unitPrice: string;
  discountPercent: string;
  gross: string;
  discount: string;
  net: string;
}

/** A money the API sent, in the quote's currency when the money names none. */
function money(value: Money | undefined, currency: string, locale: Locale): string {
  if (!value?.amount) return "";
  return formatMoney({ currency_code: value.currency_code || currency, amount: value.amount }, locale);
}

/** The four totals as the API computed them (empty ones shown as nothing, not as zero). */
export function totalRows(quote: Quote, locale: Locale): TotalRow[] {
  const currency = quote.currency_code || "CNY";
  return (["subtotal", "discount_total", "tax_total", "total"] as const).map((key) => ({
    key,
    text: money(quote[key], currency, locale),
  }));
}

export function lineRows(quote: Quote, locale: Locale): LineRow[] {
  const currency = quote.currency_code || "CNY";
  return (quote.lines ?? []).map((line, index) => ({
    index,
    name: line.name || line.sku || line.product_id || "",
    quantity: formatDecimal(line.quantity, locale),
    unitPrice: money(line.unit_price, currency, locale),
    discountPercent: line.discount_percent ? `${formatDecimal(line.discount_percent, locale)}%` : "",
    gross: money(line.gross, currency, locale),
    discount: money(line.discount, currency, locale),
    net: money(line.net, currency, locale),
  }));
}

/** "13.5" → "13.5" / "1,000" per locale; a value that is not a plain decimal is shown as sent. */
export function formatDecimal(value: string | undefined, locale: Locale): string {
  if (!value) return "";
  if (!/^-?\d{1,15}(\.\d{1,6})?$/.test(value)) return value;
  const negative = value.startsWith("-");
  const [whole = "0", frac] = (negative ? value.slice(1) : value).split(".");
  const head = formatNumber(Number(whole), locale);
  return `${negative ? "-" : ""}${head}${frac ? decimalSeparator(locale) + frac : ""}`;
}

function decimalSeparator(locale: Locale): string {
  return new Intl.NumberFormat(locale).formatToParts(1.5).find((p) => p.type === "decimal")?.value ?? ".";
}

/** The tax rate as the API keeps it (a fraction, "0.13") shown as a percent, exactly ("13%"). */
export function fractionAsPercent(value: string | undefined): string {
  if (!value) return "";
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) return value;
  const digits = (match[1] ?? "") + (match[2] ?? "").padEnd(2, "0");
  const cut = (match[1] ?? "").length + 2;
  const whole = digits.slice(0, cut).replace(/^0+(?=\d)/, "");
  const frac = digits.slice(cut).replace(/0+$/, "");
  return `${whole}${frac ? "." + frac : ""}%`;
}
