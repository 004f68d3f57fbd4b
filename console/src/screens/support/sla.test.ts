import { describe, expect, it } from "vitest";
import { clockView, formatCountdown, mostUrgent, type SlaClock } from "./sla";

const NOW = Date.parse("2026-12-01T08:00:00Z");
const at = (minutes: number) => new Date(NOW + minutes * 60_000).toISOString();
const running = (metric: string, dueIn: number, warnIn: number, extra: Partial<SlaClock> = {}): SlaClock => ({
  metric, running: true, target_minutes: 120, due_at: at(dueIn), warn_at: at(warnIn), ...extra,
});
const UNITS = { d: "d", h: "h", m: "m", s: "s" };

describe("SLA clock states", () => {
  it("counts down to the API's due time and turns to a warning at its warning time", () => {
    const clock = running("first_response", 45, 15);
    expect(clockView(clock, NOW)).toMatchObject({ state: "running", remainingMs: 45 * 60_000 });
    expect(clockView(clock, NOW + 15 * 60_000)).toMatchObject({ state: "warning", remainingMs: 30 * 60_000 });
    expect(clockView(clock, NOW + 45 * 60_000).state).toBe("breached");
    expect(clockView(clock, NOW + 50 * 60_000).remainingMs).toBe(-5 * 60_000);
  });

  it("believes the server's flags even when this browser's clock lags", () => {
    expect(clockView(running("resolution", 90, 60, { warned: true }), NOW).state).toBe("warning");
    expect(clockView(running("resolution", 90, 60, { warned: true, breached: true }), NOW).state).toBe("breached");
  });

  it("shows an answered clock as met, late when it had breached, and a pending one as paused", () => {
    expect(clockView({ metric: "first_response", met_at: at(-1), running: false }, NOW).state).toBe("met");
    expect(clockView({ metric: "first_response", met_at: at(-1), breached: true }, NOW).state).toBe("met_late");
    expect(clockView({ metric: "resolution", running: false, used_seconds: 600 }, NOW)).toMatchObject({ state: "paused", remainingMs: null });
    expect(clockView({ metric: "resolution", running: false, breached: true }, NOW).state).toBe("breached");
  });

  it("puts the clock that needs the agent first: breached, then warning, then the soonest due", () => {
    const clocks = [running("resolution", 300, 240), running("first_response", 20, 0)];
    expect(mostUrgent(clocks, NOW)).toMatchObject({ metric: "first_response", state: "warning" });
    const answered = [{ metric: "first_response", met_at: at(-5) }, running("resolution", 300, 240)];
    expect(mostUrgent(answered, NOW)).toMatchObject({ metric: "resolution", state: "running" });
    expect(mostUrgent([], NOW)).toBeNull();
    expect(mostUrgent(undefined, NOW)).toBeNull();
  });

  it("writes the countdown with its two largest units", () => {
    expect(formatCountdown((2 * 3600 + 5 * 60 + 9) * 1000, UNITS)).toBe("2h 05m");
    expect(formatCountdown((4 * 60 + 9) * 1000, UNITS)).toBe("4m 09s");
    expect(formatCountdown((3 * 86_400 + 4 * 3600) * 1000, UNITS)).toBe("3d 4h");
    expect(formatCountdown(-90_000, UNITS)).toBe("1m 30s");
  });
});
