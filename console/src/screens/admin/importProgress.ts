// What an import job's answer means to the person waiting for it: its phase, how far it got,
// whether to keep polling, and how soon. The contacts service reports the job (status, rows
// done of total, accepted / merged / rejected, rate and ETA); this only reads it.
import type { Schema } from "../../api";

export type ImportJob = Schema<"ImportJob">;
export type Phase = "uploading" | "queued" | "reading" | "running" | "done" | "doneWithRejects" | "failed";

export interface Progress {
  phase: Phase;
  /** 0..100, or null while the row count is not known (the file is still being read). */
  percent: number | null;
  /** Done or failed: stop polling, offer the report. */
  finished: boolean;
  /** Rejected rows, or rows kept with a remark (warnings), exist: the report lists them, each
   * with every reason or remark. */
  hasReport: boolean;
  /** antd Progress status. */
  tone: "active" | "success" | "exception" | "normal";
}

const POLL_MS = { queued: 1500, running: 1000 } as const;
const SLOW_POLL_MS = 5000;

export function progressOf(job: ImportJob): Progress {
  const total = job.rows_total ?? 0;
  const done = job.rows_done ?? 0;
  const rejected = job.rejected ?? 0;
  const reported = rejected + (job.warnings ?? 0);
  const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : null;
  switch (job.status) {
    case "done":
      return { phase: rejected > 0 ? "doneWithRejects" : "done", percent: 100, finished: true,
               hasReport: reported > 0, tone: rejected > 0 ? "normal" : "success" };
    case "failed":
      return { phase: "failed", percent, finished: true, hasReport: reported > 0, tone: "exception" };
    case "running":
      return { phase: total > 0 ? "running" : "reading", percent, finished: false, hasReport: false, tone: "active" };
    case "uploading":
      return { phase: "uploading", percent: null, finished: false, hasReport: false, tone: "active" };
    default:
      return { phase: "queued", percent: null, finished: false, hasReport: false, tone: "normal" };
  }
}

/** How long to wait before asking again: null once finished; slower when the ETA is far off, so
 * a million-row import is not asked about every second for minutes. */
export function nextPollMs(job: ImportJob): number | null {
  const p = progressOf(job);
  if (p.finished) return null;
  if (p.phase === "queued" || p.phase === "uploading") return POLL_MS.queued;
  const eta = job.eta_seconds ?? 0;
  return eta > 60 ? SLOW_POLL_MS : POLL_MS.running;
}

/** RFC 4180 CSV (the rejected-rows report: UTF-8 with a BOM, quoted cells with commas, quotes
 * and newlines in them) → rows of cells. */
export function parseCsv(text: string): string[][] {
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') { cell += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") { row.push(cell); cell = ""; }
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += ch;
  }
  if (cell !== "" || row.length > 0) { row.push(cell); rows.push(row); }
  return rows;
}
