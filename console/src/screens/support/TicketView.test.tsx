import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The ticket screen against a fake gateway: a WeChat ticket whose first response is due soon; the
// first reply is refused (the window rule, naming the body), the second is accepted and meets the clock.
const soon = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
const TICKET = {
  id: "t1", number: "T-000042", subject: "退货进度", status: "new", priority: "high", channel: "wechat",
  requester_name: "钱多多", reply_window_ends_at: soon(-5),
  sla: [{ metric: "first_response", running: true, due_at: soon(20), warn_at: soon(-10), warned: true }],
};
const REFUSED = "the WeChat reply window has closed";
let replies = 0;
const posted: unknown[] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/api/v1/tickets/t1") return json(200, TICKET);
  if (url.pathname === "/api/v1/tickets/t1/comments" && request.method === "GET") return json(200, { items: [] });
  if (url.pathname === "/api/v1/tickets/t1/comments") {
    posted.push(await request.json());
    if (++replies === 1) {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: REFUSED,
        errors: [{ field: "comment.body", message: REFUSED }] }, "application/problem+json");
    }
    return json(201, {
      ticket: { ...TICKET, status: "open", sla: [{ metric: "first_response", running: false, met_at: new Date().toISOString() }] },
      comment: { id: "c1", body: "已为您加急处理", public: true, author_kind: "agent", author_id: "agent.support", channel: "api" },
    });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: TicketView } = await import("./TicketView");

beforeEach(() => { replies = 0; posted.length = 0; });

// by text, not by role: the accessibility tree of a whole antd screen is slow to compute in jsdom
const sendButton = () => screen.getByText(/^发\s*送$/).closest("button")!;

describe("TicketView", () => {
  it("shows the channel and the due-soon clock, places a refusal beside the reply, and shows the ticket as responded", async () => {
    render(
      <LocaleProvider initial="zh-CN">
        <MemoryRouter initialEntries={["/tickets/t1"]}>
          <Routes><Route path="/tickets/:id" element={<TicketView />} /></Routes>
        </MemoryRouter>
      </LocaleProvider>,
    );
    expect(await screen.findByTestId("ticket-channel")).toHaveProperty("textContent", "微信");
    expect(screen.getByTestId("sla-first_response").dataset.slaState).toBe("warning");
    expect(screen.getByText("回复窗口已关闭：平台现在不接受回复。")).toBeTruthy();

    fireEvent.change(screen.getByLabelText("回复内容"), { target: { value: "已为您加急处理" } });
    fireEvent.click(sendButton());
    const message = await screen.findByText(REFUSED);
    expect(message.closest(".ant-form-item")).toBe(screen.getByLabelText("回复内容").closest(".ant-form-item"));
    expect(screen.getByTestId("sla-first_response").dataset.slaState).toBe("warning");

    fireEvent.change(screen.getByLabelText("回复内容"), { target: { value: "已为您加急处理" } });
    fireEvent.click(sendButton());
    await waitFor(() => expect(screen.getByTestId("sla-first_response").dataset.slaState).toBe("met"));
    expect(screen.getByTestId("ticket-status").textContent).toBe("处理中");
    expect(screen.getByTestId("thread").textContent).toContain("已为您加急处理");
    expect(posted).toEqual([
      { comment: { body: "已为您加急处理", public: true } },
      { comment: { body: "已为您加急处理", public: true } },
    ]);
  }, 60_000); // antd in jsdom on a busy two-core machine is slow; this bounds a hang, it times nothing
});
