import { fireEvent, render, screen, within } from "@testing-library/react";
import { ConfigProvider } from "antd";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// Export jobs against a fake gateway: a filter the list does not take is refused beside that
// filter's value; an accepted export opens its job, which is followed until done, then offers the
// download; the landing page lists the caller's jobs as the API answers them (GET /exports).
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
const started: unknown[] = [];
let polls = 0;
const JOB = { id: "x1", list: "tickets", format: "csv", filters: { status: "open" }, status: "running", rows_written: 120,
  created_at: "2026-12-01T02:00:00Z", updated_at: "2026-12-01T02:00:01Z" };

async function gateway(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/api/v1/exports" && request.method === "GET") {
    return json(200, { items: [{ ...JOB, id: "x0", status: "done", rows_written: 42, download_url: "/api/v1/exports/x0/download" }],
      next_page_token: "" });
  }
  if (path === "/api/v1/exports" && request.method === "POST") {
    const body = (await request.json()) as { filters: Record<string, string> };
    if ("colour" in body.filters) {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
        errors: [{ field: "filters.colour", message: "not a filter of tickets (known: channel, status)" }] }, "application/problem+json");
    }
    started.push(body);
    return json(202, JOB);
  }
  if (path === "/api/v1/exports/x1") {
    polls += 1;
    return json(200, polls < 2 ? JOB : { ...JOB, status: "done", rows_written: 5000, size: 204800, finished_at: "2026-12-01T02:00:09Z",
      expires_at: "2026-12-02T02:00:09Z", download_url: "/api/v1/exports/x1/download" });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "no" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Exports } = await import("./Exports");

describe("Exports", () => {
  it("places a refused filter beside its value, then follows the job to its download", async () => {
    render(
      <ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en">
        <MemoryRouter initialEntries={["/admin/exports?list=tickets"]}>
          <Routes>
            <Route path="/admin/exports" element={<Exports />} />
            <Route path="/admin/exports/:id" element={<Exports />} />
          </Routes>
        </MemoryRouter>
      </LocaleProvider></ConfigProvider>,
    );
    const mine = await screen.findByTestId("recent-exports", {}, { timeout: 10_000 });
    expect(within(mine).getByRole("link").getAttribute("href")).toBe("/admin/exports/x0");
    expect(mine.textContent).toContain("Done");
    expect(mine.textContent).toContain("42 rows written");
    fireEvent.click(await screen.findByRole("button", { name: "Add a filter" }, { timeout: 10_000 }));
    fireEvent.click(screen.getByRole("button", { name: "Add a filter" }));
    const [first, second] = await screen.findAllByRole("group", {}, { timeout: 10_000 });
    fireEvent.change(within(first!).getByLabelText("Filter (the list's query name)"), { target: { value: "status" } });
    fireEvent.change(within(first!).getByLabelText("Value"), { target: { value: "open" } });
    fireEvent.change(within(second!).getByLabelText("Filter (the list's query name)"), { target: { value: "colour" } });
    fireEvent.change(within(second!).getByLabelText("Value"), { target: { value: "red" } });
    fireEvent.click(screen.getByRole("button", { name: "Start the export" }));
    const error = await within(second!).findByText("not a filter of tickets (known: channel, status)", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Value");

    fireEvent.click(within(second!).getByRole("button", { name: "Remove 2" }));
    fireEvent.click(screen.getByRole("button", { name: "Start the export" }));
    expect((await screen.findByTestId("export-status", {}, { timeout: 10_000 })).textContent).toBe("Running");
    expect(started).toEqual([{ list: "tickets", format: "csv", filters: { status: "open" } }]);
    expect(screen.getByText("status = open")).toBeTruthy();
    // followed until done (the next answer in a second), then the file can be fetched
    expect(await screen.findByRole("button", { name: "Download" }, { timeout: 15_000 })).toBeTruthy();
    expect(screen.getByTestId("export-rows").textContent).toBe("5,000 rows written");
  }, 90_000);
});
