import { fireEvent, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { openImports } from "./importsTestPage";

// "My imports" on the import screen against a fake gateway: the caller's jobs over every service
// (a contacts job and a sales one), each row with its file, entity, phase, rows done of total,
// accepted, rejected and creation time, linking to the job's page; the next page is asked with the
// answer's token; no jobs says so.
const lists: URL[] = [];
let jobs: unknown[][] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

const SALES_JOB = { id: "sales-42", entity: "lead", status: "running", file_name: "leads.csv", rows_total: 10,
  rows_done: 4, accepted: 3, rejected: 1, created_at: "2026-06-15T08:05:00Z" };
const CONTACTS_JOB = { id: "0b9c", entity: "contact", status: "done", file_name: "客户.xlsx", rows_total: 1200,
  rows_done: 1200, accepted: 1190, rejected: 10, created_at: "2026-06-15T08:00:00Z" };
const OLDER_JOB = { id: "support-7", entity: "ticket", status: "failed", file_name: "tickets.csv",
  error: "not a CSV file", created_at: "2026-06-14T09:00:00Z" };

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/api/v1/imports") {
    lists.push(url);
    const page = url.searchParams.get("page_token") === "page-2" ? 1 : 0;
    return json(200, { items: jobs[page] ?? [], next_page_token: page === 0 && jobs.length > 1 ? "page-2" : "" });
  }
  if (url.pathname === "/api/v1/imports/sales-42") return json(200, SALES_JOB);
  return json(404, { status: 404, title: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Imports } = await import("./Imports");

const open = () => openImports(Imports);

const cells = (row: HTMLElement) => within(row).getAllByRole("cell").map((c) => c.textContent);

beforeEach(() => { lists.length = 0; jobs = []; });

describe("My imports", () => {
  it("lists the caller's jobs of every service with their progress, each linking to its page", async () => {
    jobs = [[SALES_JOB, CONTACTS_JOB], [OLDER_JOB]];
    open();
    const table = await screen.findByTestId("my-imports", {}, { timeout: 10_000 });
    expect(screen.getByRole("heading", { name: "我的导入" })).toBeTruthy();
    const headers = within(table).getAllByRole("columnheader").map((h) => h.textContent);
    expect(headers).toEqual(["文件", "记录类型", "状态", "已处理 / 总行数", "已接受", "已拒绝", "创建时间"]);
    const [sales, contacts] = within(table).getAllByRole("row").slice(1);
    expect(cells(sales!).slice(0, 6)).toEqual(["leads.csv", "线索", "导入中", "4 / 10", "3", "1"]);
    expect(cells(contacts!).slice(0, 6)).toEqual(["客户.xlsx", "联系人", "已完成，有被拒绝的行", "1,200 / 1,200", "1,190", "10"]);
    expect(cells(sales!)[6]).toMatch(/2026/);
    expect(lists[0]!.searchParams.get("page_size")).toBe("20");
    expect(lists[0]!.searchParams.has("page_token")).toBe(false);

    fireEvent.click(screen.getByRole("button", { name: "下一页" }));
    await screen.findByText("tickets.csv", {}, { timeout: 10_000 });
    expect(lists.at(-1)!.searchParams.get("page_token")).toBe("page-2");
    const [failed] = within(screen.getByTestId("my-imports")).getAllByRole("row").slice(1);
    expect(cells(failed!).slice(0, 6)).toEqual(["tickets.csv", "工单", "失败", "0", "0", "0"]);

    fireEvent.click(screen.getByRole("button", { name: "上一页" }));
    fireEvent.click(await screen.findByRole("link", { name: "leads.csv" }, { timeout: 10_000 }));
    await screen.findByTestId("import-phase", {}, { timeout: 10_000 });  // the job's own page
    expect(screen.getByRole("heading", { level: 2 }).textContent).toContain("leads.csv");
  });

  it("says so when the caller has no imports", async () => {
    open();
    expect(await screen.findByText("还没有导入。", {}, { timeout: 10_000 })).toBeTruthy();
    expect(screen.queryByTestId("my-imports")).toBeNull();
  });
});
