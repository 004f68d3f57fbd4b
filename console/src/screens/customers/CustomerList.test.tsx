// My customers against a fake gateway: typing searches the index, a filter switches to the list
// with the query kept, and "next page" sends the API's cursor.
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

const calls: URL[] = [];
// Search answers held back until a test lets them go (a slow network), and hits named per query.
const held = new Map<string, Promise<void>>();
const hitNames: Record<string, string> = { "刘": "刘洋", "刘德": "刘德明", "刘德华": "刘德华", "慢": "慢半拍", "快": "快手张" };

function holdSearch(q: string): () => void {
  let release = () => {};
  held.set(q, new Promise<void>((done) => { release = done; }));
  return () => { held.delete(q); release(); };
}

function answer(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

async function gateway(input: Request) {
  const url = new URL(input.url);
  calls.push(url);
  if (url.pathname === "/api/v1/segments") return answer({ items: [], next_page_token: "" });
  if (url.pathname === "/api/v1/search/customers") {
    const q = url.searchParams.get("q") ?? "";
    await held.get(q);
    if (hitNames[q]) return answer({ items: [{ id: `h-${q}`, kind: "contact", name: hitNames[q] }], total: 7 });
    return answer({ items: [{ id: "c7", kind: "contact", name: "王强", company: "北京小米科技有限责任公司", level: "vip" }], total: 1 });
  }
  const token = url.searchParams.get("page_token");
  return answer(token === "p2"
    ? { items: [{ id: "c9", name: "第二页的客户", level: "regular", tags: [] }], next_page_token: "" }
    : { items: [{ id: "c1", name: "孙丽", level: "regular", tags: ["3个月未联系"] }], next_page_token: "p2" });
}

beforeAll(() => vi.stubGlobal("fetch", vi.fn(gateway)));

async function renderList() {
  const { default: CustomerList } = await import("./CustomerList");
  render(<LocaleProvider initial="zh-CN"><MemoryRouter><CustomerList /></MemoryRouter></LocaleProvider>);
}

const last = (path: string) => [...calls].reverse().find((u) => u.pathname === path);
const searchedFor = (from: number) =>
  calls.filter((u) => u.pathname === "/api/v1/search/customers").slice(from).map((u) => u.searchParams.get("q"));
const searchCount = () => searchedFor(0).length;

describe("my customers", () => {
  it("pages the list with the API's cursor", async () => {
    await renderList();
    expect(await screen.findByRole("link", { name: "孙丽" }, { timeout: 10_000 })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "下一页" }));
    expect(await screen.findByRole("link", { name: "第二页的客户" }, { timeout: 10_000 })).toBeTruthy();
    expect(last("/api/v1/contacts")?.searchParams.get("page_token")).toBe("p2");
    fireEvent.click(screen.getByRole("button", { name: "上一页" }));
    expect(await screen.findByRole("link", { name: "孙丽" }, { timeout: 10_000 })).toBeTruthy();
  }, 60_000);

  it("searches as the rep types, the query as typed", async () => {
    await renderList();
    fireEvent.change(screen.getByLabelText("搜索客户"), { target: { value: "王强" } });
    expect(await screen.findByRole("link", { name: "王强" }, { timeout: 10_000 })).toBeTruthy();
    const search = last("/api/v1/search/customers")!;
    expect(search.searchParams.get("q")).toBe("王强");
    expect(search.searchParams.get("kind")).toBe("contact");
    expect(search.searchParams.get("highlight")).toBe("false"); // the list shows no highlights: none computed
    expect(screen.getByTestId("search-total").textContent).toBe("找到 1 个");
    expect(screen.getByRole("link", { name: "王强" }).getAttribute("href")).toBe("/customers/c7");
  }, 60_000);

  it("sends one search request per settled query, started as typing settles", async () => {
    await renderList();
    const before = calls.filter((u) => u.pathname === "/api/v1/search/customers").length;
    fireEvent.change(screen.getByLabelText("搜索客户"), { target: { value: "小米" } });
    expect(await screen.findByRole("link", { name: "王强" }, { timeout: 10_000 })).toBeTruthy();
    const searches = calls.filter((u) => u.pathname === "/api/v1/search/customers").slice(before);
    expect(searches.map((u) => u.searchParams.get("q"))).toEqual(["小米"]);
  }, 60_000);

  it("keeps the list on screen, marked as updating and without a total, until the search's answer is in", async () => {
    await renderList();
    expect(await screen.findByRole("link", { name: "孙丽" }, { timeout: 10_000 })).toBeTruthy();
    const release = holdSearch("慢");
    const before = searchCount();
    fireEvent.change(screen.getByLabelText("搜索客户"), { target: { value: "慢" } });
    await waitFor(() => expect(searchedFor(before)).toEqual(["慢"]), { timeout: 10_000 });
    expect(screen.getByRole("link", { name: "孙丽" })).toBeTruthy(); // what was there, not emptied
    expect(screen.getByTestId("results").getAttribute("aria-busy")).toBe("true");
    expect(screen.queryByTestId("search-total")).toBeNull(); // nothing claims to be the answer yet
    release();
    expect(await screen.findByRole("link", { name: "慢半拍" }, { timeout: 10_000 })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "孙丽" })).toBeNull();
    expect(screen.getByTestId("results").getAttribute("aria-busy")).toBe("false");
    expect(screen.getByTestId("search-total").textContent).toBe("找到 7 个");
  }, 60_000);

  it("of keys typed in quick succession searches the first (after a pause) and the last", async () => {
    await renderList();
    const box = screen.getByLabelText("搜索客户");
    const before = searchCount();
    // The keys' clock stands still: they come faster than the pause that settles a query (a slow
    // test machine would otherwise space them out). The timers stay real.
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      fireEvent.change(box, { target: { value: "刘" } });
      fireEvent.change(box, { target: { value: "刘德" } });
      fireEvent.change(box, { target: { value: "刘德华" } });
    } finally {
      vi.useRealTimers();
    }
    expect(await screen.findByRole("link", { name: "刘德华" }, { timeout: 10_000 })).toBeTruthy();
    expect(searchedFor(before)).toEqual(["刘", "刘德华"]);
  }, 60_000);

  it("shows the answer to what was typed last, whatever order the answers come in", async () => {
    await renderList();
    const seen: string[] = [];
    const watch = new MutationObserver((changes) => { // every text put on screen, however briefly
      for (const c of changes) {
        seen.push(c.target.textContent ?? "", ...[...c.addedNodes].map((n) => n.textContent ?? ""));
      }
    });
    watch.observe(document.body, { subtree: true, childList: true, characterData: true });
    const release = holdSearch("慢");
    const box = screen.getByLabelText("搜索客户");
    const before = searchCount();
    fireEvent.change(box, { target: { value: "慢" } });
    fireEvent.change(box, { target: { value: "快" } });
    expect(await screen.findByRole("link", { name: "快手张" }, { timeout: 10_000 })).toBeTruthy();
    release(); // the first query's answer comes last
    fireEvent.change(box, { target: { value: "刘" } }); // and after it, one more query's answer
    await waitFor(() => expect(searchedFor(before)).toEqual(["慢", "快", "刘"]), { timeout: 10_000 });
    expect(await screen.findByRole("link", { name: "刘洋" }, { timeout: 10_000 })).toBeTruthy();
    watch.disconnect();
    expect(seen.some((text) => text.includes("快手张"))).toBe(true); // the watch sees rows come
    expect(seen.some((text) => text.includes("慢半拍"))).toBe(false);
  }, 60_000);
});
