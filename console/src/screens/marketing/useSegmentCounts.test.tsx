import { renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { audienceUpperBound, useSegmentCounts } from "./useSegmentCounts";

describe("audience size from segments", () => {
  it("asks the API's count of each chosen segment once, and keeps known counts when one is added", async () => {
    const count = vi.fn(async (id: string) => ({ vip: 120, north: 3400 })[id] ?? 0);
    const { result, rerender } = renderHook(({ ids }) => useSegmentCounts(ids, count), { initialProps: { ids: ["vip"] } });
    await waitFor(() => expect(result.current).toEqual({ vip: 120 }));
    rerender({ ids: ["vip", "north"] });
    await waitFor(() => expect(result.current).toEqual({ vip: 120, north: 3400 }));
    expect(count.mock.calls.map((c) => c[0])).toEqual(["vip", "north"]);
  });

  it("marks a segment whose count failed instead of counting it as empty", async () => {
    const count = vi.fn(async (id: string) => { if (id === "gone") throw new Error("404"); return 5; });
    const { result } = renderHook(() => useSegmentCounts(["ok", "gone"], count));
    await waitFor(() => expect(result.current).toEqual({ ok: 5, gone: "error" }));
    expect(audienceUpperBound(["ok", "gone"], result.current)).toBeNull();
  });

  it("sums to an upper bound only when every count is in", () => {
    expect(audienceUpperBound(["a", "b"], { a: 10, b: 32 })).toBe(42);
    expect(audienceUpperBound(["a", "b"], { a: 10 })).toBeNull();
    expect(audienceUpperBound([], {})).toBe(0);
  });
});
