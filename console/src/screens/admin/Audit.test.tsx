import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The audit log against a fake gateway: filters the API refuses are shown beside their field by the
// form helper (and taken down by the next submit); accepted filters page the list.
const asked: URLSearchParams[] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const query = new URL(request.url).searchParams;
  asked.push(query);
  if (query.get("actor") === "bad") {
    return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
      errors: [{ field: "actor", message: "no such actor here" }, { field: "shard", message: "kept, never dropped" }] },
      "application/problem+json");
  }
  const who = query.get("actor") || "admin";
  return json(200, { items: [{ service: "sales", seq: 1, at: "2026-03-02T09:00:00Z", actor: who, action: "update",
    record_type: "lead", record_id: "l-1", fields: [], request_id: "r-1", client_addr: "", details: "" }], next_page_token: "" });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Audit } = await import("./Audit");

describe("Audit", () => {
  it("places a refused filter beside its field and keeps the rest in the alert", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><Audit /></MemoryRouter></LocaleProvider>);
    await screen.findByText("admin", {}, { timeout: 10_000 });
    const actor = screen.getByLabelText("Actor");
    fireEvent.change(actor, { target: { value: "bad" } });
    fireEvent.click(screen.getByRole("button", { name: "Filter" }));
    const error = await screen.findByText("no such actor here", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Actor");
    expect(screen.getByRole("alert").textContent).toContain("kept, never dropped");
    fireEvent.change(actor, { target: { value: "rep.north.1" } });
    fireEvent.click(screen.getByRole("button", { name: "Filter" }));
    await screen.findByText("rep.north.1", { selector: "td" }, { timeout: 10_000 });
    await vi.waitFor(() => expect(screen.queryByText("no such actor here")).toBeNull(), { timeout: 10_000 });
    expect(asked.at(-1)?.get("page_size")).toBe("50");
  });
});
