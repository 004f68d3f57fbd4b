import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The public pool against a fake gateway: the pooled lead and customer are listed with why they
// are there; a claim past the team's limit shows the API's refusal naming claim_limit, a claim
// that goes through takes the lead off the list.
let leadInPool = true;
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/api/v1/sales/pool") {
    return json(200, { items: leadInPool ? [{ id: "l1", name: "李娜", company: "天津港", pool_reason: "inactive 14 days", pooled_at: "2026-03-01T02:00:00Z", previous_owner_id: "rep.north.2" }] : [], next_page_token: "" });
  }
  if (path === "/api/v1/customer-pool") return json(200, { items: [{ id: "a1", name: "北京小米科技有限责任公司", pool_reason: "released" }], next_page_token: "" });
  if (path === "/api/v1/accounts/a1/claim") {
    return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "claim limit reached: you hold 30",
      errors: [{ field: "claim_limit", message: "claim limit reached: you hold 30 open customers" }] }, "application/problem+json");
  }
  if (path === "/api/v1/leads/l1/claim") {
    leadInPool = false;
    return json(200, { id: "l1", name: "李娜", owner_id: "rep.north.1" });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Pool } = await import("./Pool");

describe("Pool", () => {
  it("claims from the pool and shows the rule's refusal in the API's words", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><Pool /></MemoryRouter></LocaleProvider>);
    await screen.findByText("inactive 14 days", {}, { timeout: 10_000 });
    fireEvent.click(await screen.findByRole("button", { name: "领取: 北京小米科技有限责任公司" }, { timeout: 10_000 }));
    const refusal = await screen.findByTestId("claim-refusal", {}, { timeout: 10_000 });
    expect(refusal.textContent).toContain("claim_limit");
    expect(refusal.textContent).toContain("claim limit reached: you hold 30 open customers");
    fireEvent.click(screen.getByRole("button", { name: "领取: 李娜" }));
    await vi.waitFor(() => expect(screen.queryByText("inactive 14 days")).toBeNull(), { timeout: 10_000 });
    expect(screen.queryByTestId("claim-refusal")).toBeNull();
  });
});
