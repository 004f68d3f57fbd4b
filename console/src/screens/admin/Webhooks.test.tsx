import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// Webhooks against a fake gateway: a target the API refuses (an internal address) is shown beside
// the URL field; an accepted subscription shows its signing secret once and joins the list.
const made: unknown[] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
const SUB = { id: "w1", target_url: "https://erp.example.com/hook", event_types: ["opportunity.won"], status: "active", owner_id: "admin" };

async function gateway(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/api/v1/webhooks/event-types") return json(200, { event_types: [{ name: "opportunity.won" }, { name: "ticket.solved" }] });
  if (path === "/api/v1/webhooks/subscriptions" && request.method === "POST") {
    const body = (await request.json()) as { target_url: string };
    if (body.target_url.includes("10.0.0.1")) {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "refused",
        errors: [{ field: "subscription.target_url", message: "resolves to an internal address" }] }, "application/problem+json");
    }
    made.push(body);
    return json(201, { ...SUB, secret: "whsec_once" });
  }
  if (path === "/api/v1/webhooks/subscriptions") return json(200, { items: made.length ? [SUB] : [], next_page_token: "" });
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Webhooks } = await import("./Webhooks");

describe("Webhooks", () => {
  it("places a refused target beside its field, then shows the new secret once", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><Webhooks /></MemoryRouter></LocaleProvider>);
    await screen.findByText("No subscriptions", {}, { timeout: 10_000 });
    const url = screen.getByLabelText("Target URL");
    fireEvent.change(url, { target: { value: "http://10.0.0.1/hook" } });
    fireEvent.click(screen.getByRole("button", { name: "Subscribe" }));
    const error = await screen.findByText("resolves to an internal address", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Target URL");
    fireEvent.change(url, { target: { value: "https://erp.example.com/hook" } });
    fireEvent.click(screen.getByRole("button", { name: "Subscribe" }));
    expect((await screen.findByTestId("webhook-secret", {}, { timeout: 10_000 })).textContent).toContain("whsec_once");
    await screen.findByText("https://erp.example.com/hook", {}, { timeout: 10_000 });
    expect(made).toEqual([{ target_url: "https://erp.example.com/hook", event_types: [] }]);
  });
});
