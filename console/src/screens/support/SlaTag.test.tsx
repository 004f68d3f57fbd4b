import { act, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider, useT } from "../../i18n";
import { m } from "./messages";
import { clockView, type SlaClock } from "./sla";
import { SlaTag } from "./SlaTag";
import { useNow } from "./useNow";

const START = Date.parse("2026-12-01T08:00:00Z");

function Live({ clock }: { clock: SlaClock }) {
  const t = useT(m);
  const now = useNow(1000);
  return <SlaTag view={clockView(clock, now)} t={t} />;
}

beforeEach(() => { vi.useFakeTimers(); vi.setSystemTime(START); });
afterEach(() => { vi.useRealTimers(); });

describe("SlaTag", () => {
  it("ticks down in the browser and turns to due-soon, then overdue, at the API's times", () => {
    const clock: SlaClock = {
      metric: "first_response", running: true,
      warn_at: new Date(START + 60_000).toISOString(), due_at: new Date(START + 125_000).toISOString(),
    };
    render(<LocaleProvider initial="zh-CN"><Live clock={clock} /></LocaleProvider>);
    const tag = () => screen.getByTestId("sla-first_response");
    expect(tag().textContent).toBe("首次响应：剩余 2分 05秒");
    expect(tag().dataset.slaState).toBe("running");
    act(() => { vi.advanceTimersByTime(61_000); });
    expect(tag().textContent).toBe("首次响应：即将到期，剩余 1分 04秒");
    expect(tag().dataset.slaState).toBe("warning");
    act(() => { vi.advanceTimersByTime(70_000); });
    expect(tag().textContent).toBe("首次响应：已超时 0分 06秒");
    expect(tag().dataset.slaState).toBe("breached");
  });

  it("says met in English once the agent has answered", () => {
    render(<LocaleProvider initial="en"><Live clock={{ metric: "first_response", met_at: new Date(START).toISOString() }} /></LocaleProvider>);
    expect(screen.getByTestId("sla-first_response").textContent).toBe("First response: met");
  });
});
