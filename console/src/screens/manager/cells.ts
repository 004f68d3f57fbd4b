// One cell of a report (QueryResult): measures carry a unit (count, amount, ratio, percent,
// days, hours, rating); an amount is in the currency of its row's `currency` key when there is
// one (reporting sums per currency, never across them).
import type { Schema } from "../../api";
import type { Locale } from "../../i18n";
import { formatMoney, formatNumber } from "../../i18n/format";

export type Column = Schema<"QueryColumn">;
export type Row = Schema<"QueryRow">;

const percent = new Map<Locale, Intl.NumberFormat>();

export function formatRatio(value: number, locale: Locale): string {
  let f = percent.get(locale);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 });
    percent.set(locale, f);
  }
  return f.format(value);
}

/** The row's currency: the key of its `currency` dimension, if the query has one. */
export function rowCurrency(columns: Column[], row: Row): string | undefined {
  const at = columns.filter((c) => c.kind === "dimension").findIndex((c) => c.name === "currency");
  return at >= 0 ? row.keys?.[at] || undefined : undefined;
}

/** A measure's value as the user reads it; "—" for null (nothing to average). */
export function formatMeasure(value: unknown, unit: string | undefined, locale: Locale, currency?: string): string {
  if (value === null || value === undefined || value === "") return "—";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  switch (unit) {
    case "amount":
      return currency ? formatMoney({ currency_code: currency, amount: String(value) }, locale) : formatNumber(n, locale);
    case "ratio":
      return formatRatio(n, locale);
    case "percent":
      return formatRatio(n / 100, locale);
    default:
      return formatNumber(n, locale);
  }
}

/** The figure's own unit: its query's first measure column. */
export function figureUnit(columns: Column[] | undefined): string | undefined {
  return columns?.find((c) => c.kind === "measure")?.unit;
}
