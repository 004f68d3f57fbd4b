// Dates, money and numbers through Intl, per locale; formatters are cached (building one is the
// slow part). Values the API sends: RFC 3339 timestamps, Money {currency_code, amount: "123.45"}.
import type { Locale } from "./index";

const cache = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat>();

function cached<T extends Intl.DateTimeFormat | Intl.NumberFormat>(key: string, make: () => T): T {
  let found = cache.get(key) as T | undefined;
  if (!found) {
    found = make();
    cache.set(key, found);
  }
  return found;
}

function toDate(value: string | Date | undefined | null): Date | null {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatDate(value: string | Date | undefined | null, locale: Locale, timeZone?: string): string {
  const date = toDate(value);
  if (!date) return "";
  return cached(`d|${locale}|${timeZone ?? ""}`, () =>
    new Intl.DateTimeFormat(locale, { year: "numeric", month: "short", day: "numeric", timeZone }),
  ).format(date);
}

export function formatDateTime(value: string | Date | undefined | null, locale: Locale, timeZone?: string): string {
  const date = toDate(value);
  if (!date) return "";
  return cached(`dt|${locale}|${timeZone ?? ""}`, () =>
    new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }),
  ).format(date);
}

export function formatNumber(value: number | string | undefined | null, locale: Locale): string {
  if (value === undefined || value === null || value === "") return "";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return cached(`n|${locale}`, () => new Intl.NumberFormat(locale)).format(n);
}

export interface MoneyValue {
  currency_code?: string;
  amount?: string;
}

/** Money as the API sends it; the amount is a decimal string and is shown as written when it
 * has more digits than a double keeps, never rounded silently. */
export function formatMoney(money: MoneyValue | undefined | null, locale: Locale): string {
  if (!money || !money.amount) return "";
  const currency = money.currency_code || "CNY";
  const n = Number(money.amount);
  if (!Number.isFinite(n) || money.amount.replace(/[^0-9]/g, "").length > 15) {
    return `${currency} ${money.amount}`;
  }
  return cached(`m|${locale}|${currency}`, () =>
    new Intl.NumberFormat(locale, { style: "currency", currency }),
  ).format(n);
}

/** "3 minutes ago" / "3 分钟前". */
export function formatRelative(value: string | Date | undefined | null, locale: Locale, now: Date = new Date()): string {
  const date = toDate(value);
  if (!date) return "";
  const seconds = Math.round((date.getTime() - now.getTime()) / 1000);
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["year", 31_536_000], ["month", 2_592_000], ["day", 86_400], ["hour", 3_600], ["minute", 60],
  ];
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return rtf.format(Math.trunc(seconds / size), unit);
  }
  return rtf.format(seconds, "second");
}
