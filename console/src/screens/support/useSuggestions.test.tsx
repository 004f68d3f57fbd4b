import { act, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/problem";
import { useSuggestions } from "./useSuggestions";

beforeEach(() => { vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

/** Let the debounce timer fire and the answers' promises settle. */
async function settle(ms: number) {
  await act(async () => { vi.advanceTimersByTime(ms); });
  await act(async () => { await Promise.resolve(); });
}

describe("useSuggestions", () => {
  it("asks once for the text the agent stopped typing at, not for every keystroke", async () => {
    const fetchHits = vi.fn(async (q: string) => [`article about ${q}`]);
    const { result, rerender } = renderHook(({ text }) => useSuggestions(text, fetchHits, { delayMs: 250 }), {
      initialProps: { text: "" },
    });
    for (const text of ["打", "打印", "打印机", "打印机卡纸"]) {
      rerender({ text });
      await settle(100);
    }
    expect(fetchHits).not.toHaveBeenCalled();
    await settle(250);
    expect(fetchHits.mock.calls).toEqual([["打印机卡纸"]]);
    expect(result.current).toMatchObject({ query: "打印机卡纸", hits: ["article about 打印机卡纸"], loading: false });
  });

  it("asks nothing under the minimum length and clears the hits when the text is erased", async () => {
    const fetchHits = vi.fn(async () => ["x"]);
    const { result, rerender } = renderHook(({ text }) => useSuggestions(text, fetchHits, { delayMs: 50 }), {
      initialProps: { text: " a " },
    });
    await settle(60);
    expect(fetchHits).not.toHaveBeenCalled();
    expect(result.current).toMatchObject({ query: "", hits: [], loading: false });
    rerender({ text: "退款" });
    await settle(60);
    expect(result.current.hits).toEqual(["x"]);
    rerender({ text: "" });
    await settle(60);
    expect(result.current.hits).toEqual([]);
  });

  it("never lets a late answer to older text replace the newer one's", async () => {
    const pending: Record<string, (hits: string[]) => void> = {};
    const fetchHits = vi.fn((q: string) => new Promise<string[]>((resolve) => { pending[q] = resolve; }));
    const { result, rerender } = renderHook(({ text }) => useSuggestions(text, fetchHits, { delayMs: 50 }), {
      initialProps: { text: "发票" },
    });
    await settle(60);
    rerender({ text: "发票抬头" });
    await settle(60);
    await act(async () => { pending["发票抬头"]!(["new"]); });
    await act(async () => { pending["发票"]!(["old"]); });
    expect(result.current.hits).toEqual(["new"]);
  });

  it("reports the API's refusal instead of showing stale hits", async () => {
    const refusal = new ApiError(400, { type: "about:blank", title: "Invalid request", status: 400, detail: "q: too long" });
    const fetchHits = vi.fn(async () => { throw refusal; });
    const { result } = renderHook(() => useSuggestions("很长的问题", fetchHits, { delayMs: 10 }));
    await settle(20);
    expect(result.current.error).toBe(refusal);
    expect(result.current.hits).toEqual([]);
  });
});
