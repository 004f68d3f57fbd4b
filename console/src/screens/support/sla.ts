// A ticket's SLA clocks as an agent sees them, computed from what the API sends (due_at, warn_at,
// met_at, the running / warned / breached flags) and the time now, so a countdown can tick in the
// browser between two answers. The server stays the judge: a clock it has flagged breached or
// warned is shown so even if this browser's clock lags.
import type { Schema } from "../../api";

export type SlaClock = Schema<"SlaClock">;
export type SlaState = "met" | "met_late" | "breached" | "warning" | "running" | "paused";

export interface ClockView {
  metric: string;
  state: SlaState;
  /** Milliseconds until due (negative: overdue); null when the clock is not running. */
  remainingMs: number | null;
  dueAt: string | null;
}

function ms(value: string | undefined): number | null {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

export function clockView(clock: SlaClock, now: number): ClockView {
  const metric = clock.metric ?? "";
  if (clock.met_at) return { metric, state: clock.breached ? "met_late" : "met", remainingMs: null, dueAt: null };
  const due = ms(clock.due_at);
  if (!clock.running || due === null) {
    return { metric, state: clock.breached ? "breached" : "paused", remainingMs: null, dueAt: null };
  }
  const remainingMs = due - now;
  const warn = ms(clock.warn_at);
  let state: SlaState = "running";
  if (clock.breached || remainingMs <= 0) state = "breached";
  else if (clock.warned || (warn !== null && now >= warn)) state = "warning";
  return { metric, state, remainingMs, dueAt: clock.due_at ?? null };
}

const URGENCY: Record<SlaState, number> = { breached: 0, warning: 1, running: 2, paused: 3, met_late: 4, met: 5 };

/** The clock that needs the agent first: breached, then warning, then the soonest due. */
export function mostUrgent(clocks: readonly SlaClock[] | undefined, now: number): ClockView | null {
  const views = (clocks ?? []).map((c) => clockView(c, now));
  views.sort((a, b) =>
    URGENCY[a.state] - URGENCY[b.state] ||
    (a.remainingMs ?? Number.POSITIVE_INFINITY) - (b.remainingMs ?? Number.POSITIVE_INFINITY));
  return views[0] ?? null;
}

/** "2h 05m", "4m 09s", "3d 4h": the largest two units, rounded toward zero. */
export function countdownParts(remainingMs: number): { days: number; hours: number; minutes: number; seconds: number } {
  const total = Math.floor(Math.abs(remainingMs) / 1000);
  return {
    days: Math.floor(total / 86_400),
    hours: Math.floor((total % 86_400) / 3_600),
    minutes: Math.floor((total % 3_600) / 60),
    seconds: total % 60,
  };
}

export function formatCountdown(remainingMs: number, units: { d: string; h: string; m: string; s: string }): string {
  const { days, hours, minutes, seconds } = countdownParts(remainingMs);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (days > 0) return `${days}${units.d} ${hours}${units.h}`;
  if (hours > 0) return `${hours}${units.h} ${pad(minutes)}${units.m}`;
  return `${minutes}${units.m} ${pad(seconds)}${units.s}`;
}
