import { fireEvent, render, screen, within } from "@testing-library/react";
import { ConfigProvider } from "antd";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// Delegations against a fake gateway: a refusal naming ends_at shows beside "Until"; a new
// delegation joins the list as active; "End now" (confirmed) ends it through the API; a list longer
// than a page follows the API's cursor.
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
const hour = 3_600_000;
let items: Record<string, unknown>[] = [];
const ended: string[] = [];

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const path = url.pathname;
  if (path === "/api/v1/sales/delegations" && request.method === "GET") {
    const size = Number(url.searchParams.get("page_size") ?? 200);
    const from = Number(url.searchParams.get("page_token") ?? 0);
    const more = from + size < items.length;
    return json(200, { items: items.slice(from, from + size), next_page_token: more ? String(from + size) : "" });
  }
  if (path === "/api/v1/sales/delegations") {
    const body = (await request.json()) as { to_user_id: string; ends_at: string };
    if (!body.ends_at) {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
        errors: [{ field: "delegation.ends_at", message: "a delegation needs an end date" }] }, "application/problem+json");
    }
    const d = { id: "d1", from_user_id: "rep.north.1", to_user_id: body.to_user_id, created_by: "rep.north.1",
      starts_at: new Date(Date.now() - hour).toISOString(), ends_at: body.ends_at, revoked: false };
    items = [d];
    return json(201, d);
  }
  if (path === "/api/v1/sales/delegations/d1/end") {
    ended.push("d1");
    items = [{ ...items[0], revoked: true }];
    return json(200, items[0]);
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "no" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Delegations } = await import("./Delegations");

describe("Delegations", () => {
  it("shows the end-date refusal beside its field, then delegates and ends early", async () => {
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en"><MemoryRouter><Delegations /></MemoryRouter></LocaleProvider></ConfigProvider>);
    await screen.findByText("No delegations.", {}, { timeout: 10_000 });
    fireEvent.change(screen.getByLabelText("To colleague (user ID)"), { target: { value: "rep.north.2" } });
    fireEvent.click(screen.getByRole("button", { name: "Delegate" }));
    const error = await screen.findByText("a delegation needs an end date", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Until");

    fireEvent.change(screen.getByLabelText("To colleague (user ID)"), { target: { value: "rep.north.2" } });
    fireEvent.change(screen.getByLabelText("Until"), { target: { value: "2099-01-31T18:00" } });
    fireEvent.click(screen.getByRole("button", { name: "Delegate" }));
    const table = await screen.findByTestId("delegations");
    expect((await within(table).findByText("Active", {}, { timeout: 10_000 })).textContent).toBe("Active");
    expect(screen.queryByText("a delegation needs an end date")).toBeNull();

    fireEvent.click(within(table).getByRole("button", { name: "End now: rep.north.1 → rep.north.2" }));
    fireEvent.click(await screen.findByRole("button", { name: "End now" }, { timeout: 10_000 }));
    await within(table).findByText("Ended early", {}, { timeout: 10_000 });
    expect(ended).toEqual(["d1"]);
  }, 90_000);

  it("pages through a long list with the API's cursor", async () => {
    items = Array.from({ length: 51 }, (_, n) => ({ id: `p${n}`, from_user_id: `rep.page.${n}`, to_user_id: "rep.north.2",
      created_by: "manager.north", starts_at: new Date(Date.now() - hour).toISOString(),
      ends_at: new Date(Date.now() + hour).toISOString(), revoked: false }));
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en"><MemoryRouter><Delegations /></MemoryRouter></LocaleProvider></ConfigProvider>);
    const table = await screen.findByTestId("delegations");
    await within(table).findByText("rep.page.0", {}, { timeout: 10_000 });
    expect(within(table).queryByText("rep.page.50")).toBeNull(); // 50 a page
    fireEvent.click(screen.getByRole("button", { name: "Next page" }));
    await within(table).findByText("rep.page.50", {}, { timeout: 10_000 });
    expect(within(table).queryByText("rep.page.0")).toBeNull();
    expect(screen.getByText("Page 2")).toBeTruthy();
  }, 90_000);
});
