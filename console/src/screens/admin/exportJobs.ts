// Export jobs (POST /exports, then GET /exports/{id}; GET /exports lists the caller's own): what a
// job's answer means to the person waiting, and when to ask again.
import type { Schema } from "../../api";

export type ExportJob = Schema<"ExportJob">;
export type ExportList = Schema<"ExportJobInput">["list"];
export type ExportFilters = NonNullable<Schema<"ExportJobInput">["filters"]>;

export const EXPORT_LISTS = ["contacts", "accounts", "leads", "opportunities", "quotes", "products", "tasks", "tickets", "campaigns"] as const satisfies readonly ExportList[];
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** A list the gateway adds (or drops) becomes a type error here once `make console-api` runs. */
export const EXPORT_LISTS_MATCH_API: Same<(typeof EXPORT_LISTS)[number], ExportList> = true;

export function isExportList(v: string | undefined | null): v is ExportList {
  return (EXPORT_LISTS as readonly string[]).includes(v ?? "");
}

/** Ask again every second while it runs; stop once done or failed. */
export function nextPollMs(job: ExportJob): number | null {
  return job.status === "running" ? 1000 : null;
}

/** The filters a list screen has set, as the job's `filters`: unset and empty ones left out
 * (an empty text is "no filter" for the list routes too). */
export function filtersOf(values: Record<string, string | number | boolean | null | undefined>): ExportFilters {
  const out: ExportFilters = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === null || v === "" || v === false) continue;
    out[k] = v;
  }
  return out;
}

/** "name=value" rows typed on the exports screen → filters (numbers and booleans as text: the
 * gateway parses each like the list route's query). A row without a name is left out. */
export function filtersFromRows(rows: readonly { name?: string; value?: string }[] | undefined): ExportFilters {
  const out: ExportFilters = {};
  for (const r of rows ?? []) {
    const name = (r.name ?? "").trim();
    if (name) out[name] = (r.value ?? "").trim();
  }
  return out;
}

/** The file name the browser saves: the server's Content-Disposition name, else list-id.format. */
export function fileNameOf(disposition: string | null | undefined, job: Pick<ExportJob, "id" | "list" | "format">): string {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? "");
  if (star?.[1]) {
    try { return decodeURIComponent(star[1]); } catch { /* fall through */ }
  }
  const plain = /filename="?([^";]+)"?/i.exec(disposition ?? "");
  if (plain?.[1]) return plain[1];
  return `${job.list}-${job.id}.${job.format || "csv"}`;
}
