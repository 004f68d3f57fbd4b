import { fireEvent, screen } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { openImports } from "./importsTestPage";

// The import screen against a fake gateway: the chosen entity goes in the query, a sales job's id
// (sales-…) is followed like any other, and a role the API refuses sees the API's 403 detail.
const posts: URL[] = [];
let forbid = false;
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "POST" && url.pathname === "/api/v1/imports") {
    posts.push(url);
    if (forbid) {
      return json(403, { type: "urn:shuniu:problem:forbidden", title: "Forbidden", status: 403,
        detail: "importing tickets needs the support or manager role" }, "application/problem+json");
    }
    return json(202, { id: "sales-42", entity: "lead", state: "running", file_name: "leads.csv", rows_total: 10, rows_done: 4, accepted: 3, rejected: 1 });
  }
  if (request.method === "GET" && url.pathname === "/api/v1/imports") return json(200, { items: [], next_page_token: "" });
  if (url.pathname === "/api/v1/imports/sales-42") {
    return json(200, { id: "sales-42", entity: "lead", state: "running", file_name: "leads.csv", rows_total: 10, rows_done: 4, accepted: 3, rejected: 1 });
  }
  return json(404, { status: 404, title: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Imports } = await import("./Imports");

const open = () => openImports(Imports);

async function upload(entity: string, name: string) {
  const input = (await screen.findByLabelText("文件（CSV 或 xlsx）", {}, { timeout: 10_000 })) as HTMLInputElement;
  fireEvent.change(input, { target: { files: [new File(["name,mobile\n王强,13800000000\n"], name, { type: "text/csv" })] } });
  fireEvent.click(screen.getByRole("radio", { name: entity }));
  fireEvent.click(screen.getByRole("button", { name: "上传并导入" }));
}

beforeEach(() => { posts.length = 0; forbid = false; });

describe("Imports", () => {
  it("offers every entity and sends the chosen one, then follows the sales job", async () => {
    open();
    for (const name of ["联系人", "客户公司", "线索", "产品", "工单"]) {
      expect(await screen.findByRole("radio", { name }, { timeout: 10_000 })).toBeTruthy();
    }
    await upload("线索", "leads.csv");
    await vi.waitFor(() => expect(posts).toHaveLength(1), { timeout: 10_000 });
    expect(posts[0]!.searchParams.get("entity")).toBe("lead");
    expect(posts[0]!.searchParams.get("file_name")).toBe("leads.csv");
    // the job screen for the sales job's id: its name and phase, as for a contacts job
    await screen.findByTestId("import-phase", {}, { timeout: 10_000 });
    expect(screen.getByRole("heading", { level: 2 }).textContent).toContain("leads.csv");
  });

  it("shows the API's refusal when the role may not import that entity", async () => {
    forbid = true;
    open();
    await upload("工单", "tickets.csv");
    await screen.findByText(/importing tickets needs the support or manager role/, {}, { timeout: 10_000 });
    expect(posts[0]!.searchParams.get("entity")).toBe("ticket");
  });
});
