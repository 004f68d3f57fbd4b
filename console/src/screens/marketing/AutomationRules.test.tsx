import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, problem, type Call } from "./fakeGateway";

// Automation rules against a fake gateway: a rule turns off in place with the version read, and a
// new rule the API refuses shows the refusal beside the field it names.
const calls: Call[] = [];
const rule = { id: "r1", name: "看过价格页", campaign_id: "c1", trigger: { event_type: "web.visit", url_pattern: "*/pricing*" },
  count: 3, within_days: 7, unless: [{ event_type: "crm.sales.lead.converted" }], template_id: "t1", status: "active", fired: 12, version: 2 };
const UNKNOWN = "crm.web.vist is no event type of a contract: name one like crm.support.ticket.created, crm.marketing.email.clicked or web.visit";

const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/campaigns") return json(200, { items: [{ id: "c1", name: "春季促销" }], next_page_token: "" });
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "价格页跟进" }], next_page_token: "" });
  if (call.path === "/api/v1/sequences") return json(200, emptyPage);
  if (call.path === "/api/v1/automation-rules" && call.method === "GET") return json(200, { items: [rule], next_page_token: "" });
  if (call.path === "/api/v1/automation-rules/r1") return json(200, { ...rule, ...(call.body as object), version: 3 });
  if (call.path === "/api/v1/automation-rules" && call.method === "POST") {
    return problem(400, UNKNOWN, [{ field: "rule.trigger.event_type", message: UNKNOWN }]);
  }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: AutomationRules } = await import("./AutomationRules");

describe("automation rules", () => {
  beforeEach(() => { calls.length = 0; });

  it("describes a rule in the marketer's words and pauses it with the version read", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><AutomationRules /></MemoryRouter></LocaleProvider>);
    const table = await screen.findByTestId("rules", {}, { timeout: 10_000 });
    const row = await within(table).findByText("看过价格页", {}, { timeout: 10_000 }).then((el) => el.closest("tr") as HTMLElement);
    await within(row).findByText("发送 价格页跟进", {}, { timeout: 10_000 });
    expect(row.textContent).toContain("7 天内 3 次");
    expect(row.textContent).toContain("除非 crm.sales.lead.converted");
    const toggle = within(row).getByRole("switch", { name: "启用 看过价格页" });
    expect(toggle.getAttribute("aria-checked")).toBe("true");
    fireEvent.click(toggle);
    await waitFor(() => expect(toggle.getAttribute("aria-checked")).toBe("false"), { timeout: 10_000 });
    expect(calls.find((c) => c.method === "PATCH")).toMatchObject({ path: "/api/v1/automation-rules/r1", ifMatch: '"2"', body: { status: "paused" } });
  }, 60_000);

  it("shows the API's refusal beside the trigger's event type", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><AutomationRules /></MemoryRouter></LocaleProvider>);
    const form = await screen.findByTestId("new-rule", {}, { timeout: 10_000 });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "Pricing visitors" } });
    fireEvent.change(within(form).getByLabelText("Event type"), { target: { value: "crm.web.vist" } });
    fireEvent.click(within(form).getByRole("button", { name: "Create" }));
    const beside = await within(form).findByText(UNKNOWN, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Event type");
    const post = calls.find((c) => c.method === "POST");
    expect(post?.body).toMatchObject({ name: "Pricing visitors", trigger: { event_type: "crm.web.vist" }, count: 1, within_days: 7, template_id: "" });
    expect(within(form).queryByRole("alert")).toBeNull(); // every error sits beside its field
  }, 60_000);
});
