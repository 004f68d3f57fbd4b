import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { CHANNELS } from "./labels";

// The create-ticket screen against a fake gateway: SMS notices without a usable number are refused
// beside the phone field; the corrected ticket is opened and the agent lands on it.
const posted: Record<string, unknown>[] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/api/v1/tickets" && request.method === "POST") {
    const body = (await request.json()) as Record<string, unknown>;
    posted.push(body);
    if (body.notice_phone !== "13912345678") {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400,
        detail: "not a valid phone number", errors: [{ field: "ticket.notice_phone", message: "not a valid phone number" }] },
      "application/problem+json");
    }
    return json(201, { id: "t9", number: "T-000009", subject: body.subject, status: "new" });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: NewTicket } = await import("./NewTicket");

describe("NewTicket", () => {
  it("offers only a ticket's channels (an SMS is a notice, not a channel)", () => {
    expect(CHANNELS).not.toContain("sms");
    expect(CHANNELS).toContain("wechat");
  });

  it("shows a refused phone number beside its field, then opens the ticket", async () => {
    render(
      <LocaleProvider initial="zh-CN">
        <MemoryRouter initialEntries={["/tickets/new"]}>
          <Routes>
            <Route path="/tickets/new" element={<NewTicket />} />
            <Route path="/tickets/:id" element={<p>opened</p>} />
          </Routes>
        </MemoryRouter>
      </LocaleProvider>,
    );
    fireEvent.change(await screen.findByLabelText("主题", {}, { timeout: 10_000 }), { target: { value: "发票抬头错了" } });
    fireEvent.click(screen.getByLabelText("短信"));
    const phone = await screen.findByLabelText("客户手机号", {}, { timeout: 10_000 });
    fireEvent.change(phone, { target: { value: "12345" } });
    fireEvent.submit(phone.closest("form")!);
    const error = await screen.findByText("not a valid phone number", {}, { timeout: 10_000 });
    // beside the phone field (its form item), not only in an alert above the form
    expect(error.closest(".ant-form-item")?.textContent).toContain("客户手机号");
    expect(posted[0]).toMatchObject({ subject: "发票抬头错了", notice_channel: "sms", notice_phone: "12345", channel: "phone", priority: "normal" });

    fireEvent.change(phone, { target: { value: "13912345678" } });
    fireEvent.submit(phone.closest("form")!);
    expect(await screen.findByText("opened", {}, { timeout: 10_000 })).toBeTruthy();
    expect(posted).toHaveLength(2);
  });
});
