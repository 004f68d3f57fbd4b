// My customers against a fake gateway: typing searches the index, a filter switches to the list
// with the query kept, and "next page" sends the API's cursor.
import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

const calls: URL[] = [];

function answer(body: unknown) {
  return new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

async function gateway(input: Request) {
  const url = new URL(input.url);
  calls.push(url);
  if (url.pathname === "/api/v1/segments") return answer({ items: [], next_page_token: "" });
  if (url.pathname === "/api/v1/search/customers") {
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
});
