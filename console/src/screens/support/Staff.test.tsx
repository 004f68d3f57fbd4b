import { fireEvent, render, screen, within } from "@testing-library/react";
import { ConfigProvider } from "antd";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The staff directory against a fake gateway: settings never saved (version 0) go without
// If-Match; the service's refusal of a row's address shows beside that row's email field.
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
const puts: { ifMatch: string | null; body: unknown }[] = [];

async function gateway(request: Request): Promise<Response> {
  if (request.method === "GET") return json(200, { version: 0, staff: [{ user_id: "agent.support", name: "王芳", email: "wf@example.com", language: "zh-CN" }] });
  const body = await request.json();
  puts.push({ ifMatch: request.headers.get("If-Match"), body });
  return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
    errors: [{ field: "staff[1].email", message: "give a plain address like li.na@example.com" }] }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Staff } = await import("./Staff");

describe("Staff", () => {
  it("sends the whole directory and shows a row's refused address beside it", async () => {
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en"><MemoryRouter><Staff /></MemoryRouter></LocaleProvider></ConfigProvider>);
    await screen.findByTestId("staff-row-0", {}, { timeout: 10_000 });
    fireEvent.click(screen.getByRole("button", { name: "Add a staff member" }));
    const row = await screen.findByTestId("staff-row-1", {}, { timeout: 10_000 });
    fireEvent.change(within(row).getByLabelText("User ID"), { target: { value: "agent.2" } });
    fireEvent.change(within(row).getByLabelText("Email"), { target: { value: "li.na at example" } });
    fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const error = await within(row).findByText("give a plain address like li.na@example.com", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Email");
    expect(puts).toEqual([{ ifMatch: null, body: { staff: [
      { user_id: "agent.support", name: "王芳", email: "wf@example.com", language: "zh-CN" },
      { user_id: "agent.2", name: "", email: "li.na at example", language: "" },
    ] } }]);
  }, 90_000);
});
