// Where a figure leads: the records behind it. A widget's figure (no keys) or one of its rows
// (the row's keys) goes through the dashboard's drill-down; a report row (team ranking) through
// the query's. The URL carries everything, so a drill-down can be shared and reloaded.
import type { Schema } from "../../api";

export type Query = Schema<"Query">;

export function widgetRecordsPath(dashboardId: string, widgetId: string, what: string, keys: string[] = []): string {
  const q = new URLSearchParams({ what });
  if (keys.length) q.set("keys", JSON.stringify(keys));
  return `/dashboards/${encodeURIComponent(dashboardId)}/widgets/${encodeURIComponent(widgetId)}/records?${q}`;
}

export function queryRecordsPath(query: Query, what: string, keys: string[] = []): string {
  const q = new URLSearchParams({ what, query: JSON.stringify(query) });
  if (keys.length) q.set("keys", JSON.stringify(keys));
  return `/reports/records?${q}`;
}

/** The keys of a URL made by the functions above; anything else is no keys. */
export function parseKeys(raw: string | null): string[] {
  if (!raw) return [];
  try {
    const keys: unknown = JSON.parse(raw);
    return Array.isArray(keys) ? keys.map(String) : [];
  } catch {
    return [];
  }
}

export function parseQuery(raw: string | null): Query | null {
  if (!raw) return null;
  try {
    const q: unknown = JSON.parse(raw);
    return q && typeof q === "object" && "source" in q ? (q as Query) : null;
  } catch {
    return null;
  }
}
