import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { fakeFetch, json, type Call } from "./fakeGateway";

// The SMS replies log against a fake gateway: what each reply says, whether it opted the phone
// out, the contacts of that phone as links; the next page comes with the API's cursor, and a
// phone number narrows the log to that phone.
const calls: Call[] = [];
const gateway = fakeFetch(calls, (call, url) => {
  if (call.path !== "/api/v1/sms-replies") return undefined;
  if (url.searchParams.get("phone") === "13800000002") {
    return json(200, { items: [{ phone: "13800000002", content: "好的，周六见", opt_out: false, contact_ids: [], received_at: "2026-11-30T02:00:00Z" }], next_page_token: "" });
  }
  if (url.searchParams.get("page_token") === "p2") {
    return json(200, { items: [{ phone: "13800000003", content: "TD", opt_out: true, contact_ids: ["c9"], received_at: "2026-11-29T02:00:00Z" }], next_page_token: "" });
  }
  return json(200, { items: [
    { phone: "13800000001", content: "回T退订", opt_out: true, contact_ids: ["c1", "c2"], received_at: "2026-12-01T02:00:00Z" },
    { phone: "13800000002", content: "好的，周六见", opt_out: false, contact_ids: [], received_at: "2026-11-30T02:00:00Z" },
  ], next_page_token: "p2" });
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: SmsReplies } = await import("./SmsReplies");

const rowOf = async (text: string) => (await within(screen.getByTestId("sms-replies")).findByText(text, {}, { timeout: 10_000 })).closest("tr") as HTMLElement;

describe("the SMS replies log", () => {
  beforeEach(() => { calls.length = 0; });

  it("shows who replied what, the opt-out it caused and that phone's contacts, and pages on", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><SmsReplies /></MemoryRouter></LocaleProvider>);
    await screen.findByTestId("sms-replies", {}, { timeout: 10_000 });
    const optOut = await rowOf("回T退订");
    expect(optOut.textContent).toContain("13800000001");
    expect(within(optOut).getByText("已退订短信")).toBeTruthy();
    expect(within(optOut).getAllByRole("link").map((l) => l.getAttribute("href"))).toEqual(["/customers/c1", "/customers/c2"]);
    const kept = await rowOf("好的，周六见");
    expect(within(kept).queryByText("已退订短信")).toBeNull();
    expect(within(kept).getByText("没有联系人使用此号码")).toBeTruthy();

    fireEvent.click(screen.getByRole("button", { name: /下一页/ }));
    await rowOf("TD");
    expect(screen.queryByText("回T退订")).toBeNull();
  }, 40_000);

  it("narrows the log to one phone number", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><SmsReplies /></MemoryRouter></LocaleProvider>);
    await rowOf("回T退订");
    const search = screen.getByLabelText("Phone number");
    fireEvent.change(search, { target: { value: " 13800000002 " } });
    fireEvent.keyDown(search, { key: "Enter", code: "Enter", keyCode: 13 });
    await waitFor(() => expect(screen.queryByText("回T退订")).toBeNull(), { timeout: 10_000 });
    expect((await rowOf("好的，周六见")).textContent).toContain("13800000002");
  }, 40_000);
});
