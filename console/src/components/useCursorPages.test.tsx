import { act, renderHook, waitFor } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { useCursorPages } from "./useCursorPages";

const PAGES: Record<string, { items: string[]; next_page_token: string }> = {
  "": { items: ["a", "b"], next_page_token: "t2" },
  t2: { items: ["c", "d"], next_page_token: "t3" },
  t3: { items: ["e"], next_page_token: "" },
};

describe("useCursorPages", () => {
  it("walks the API's cursors forward and back", async () => {
    const fetchPage = vi.fn(async (token: string) => PAGES[token]!);
    const { result } = renderHook(() => useCursorPages(fetchPage, "k"));
    await waitFor(() => expect(result.current.items).toEqual(["a", "b"]));
    expect(result.current.hasPrevious).toBe(false);
    act(() => result.current.next());
    await waitFor(() => expect(result.current.items).toEqual(["c", "d"]));
    act(() => result.current.next());
    await waitFor(() => expect(result.current.items).toEqual(["e"]));
    expect(result.current.hasNext).toBe(false);
    expect(result.current.page).toBe(3);
    act(() => result.current.previous());
    await waitFor(() => expect(result.current.items).toEqual(["c", "d"]));
    expect(fetchPage.mock.calls.map((c) => c[0])).toEqual(["", "t2", "t3", "t2"]);
  });

  it("starts again at the first page for a new query and ignores late answers", async () => {
    let release: (v: { items: string[]; next_page_token: string }) => void = () => undefined;
    const slow = new Promise<{ items: string[]; next_page_token: string }>((r) => { release = r; });
    const fetchPage = vi.fn((token: string) => (token === "" && fetchPage.mock.calls.length === 1 ? slow : Promise.resolve({ items: ["new"], next_page_token: "" })));
    const { result, rerender } = renderHook(({ k }) => useCursorPages(fetchPage, k), { initialProps: { k: "old" } });
    rerender({ k: "new" });
    await waitFor(() => expect(result.current.items).toEqual(["new"]));
    await act(async () => release({ items: ["stale"], next_page_token: "x" }));
    expect(result.current.items).toEqual(["new"]);
    expect(result.current.hasNext).toBe(false);
  });
});
