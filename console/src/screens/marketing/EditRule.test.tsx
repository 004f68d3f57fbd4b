import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { fakeFetch, json, problem, type Call } from "./fakeGateway";

// Editing a saved automation rule against a fake gateway: the drawer shows the rule's values, a
// switch from "send a template" to "enrol in a sequence" empties the template, the save carries
// the version read, the API's refusal lands beside the field it names, and a 409 offers a reload
// that brings the other person's version into the form.
const calls: Call[] = [];
let saved = { id: "r1", name: "看过价格页", campaign_id: "c1", trigger: { event_type: "web.visit", url_pattern: "*/pricing*" },
  count: 3, within_days: 7, unless: [{ event_type: "crm.sales.lead.converted" }], template_id: "t1", sequence_id: "", status: "active", fired: 12, version: 2 };
let answer: "ok" | "refuse" | "conflict" = "ok";
const TOO_MANY = "count is between 1 and 100";

const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/campaigns") return json(200, { items: [{ id: "c1", name: "春季促销" }], next_page_token: "" });
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "价格页跟进" }], next_page_token: "" });
  if (call.path === "/api/v1/sequences") return json(200, { items: [{ id: "s1", name: "新客培育" }], next_page_token: "" });
  if (call.path === "/api/v1/automation-rules" && call.method === "GET") return json(200, { items: [saved], next_page_token: "" });
  if (call.path === "/api/v1/automation-rules/r1" && call.method === "GET") return json(200, saved);
  if (call.path === "/api/v1/automation-rules/r1" && call.method === "PATCH") {
    if (answer === "refuse") return problem(400, TOO_MANY, [{ field: "rule.count", message: TOO_MANY }]);
    if (answer === "conflict") {
      saved = { ...saved, name: "看过价格页（同事改过）", version: 5 };
      return new Response(JSON.stringify({ type: "urn:shuniu:problem:conflict", title: "Conflict", status: 409, detail: "the rule changed since version 2" }),
        { status: 409, headers: { "Content-Type": "application/problem+json" } });
    }
    saved = { ...saved, ...(call.body as object), version: saved.version + 1 };
    return json(200, saved);
  }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: AutomationRules } = await import("./AutomationRules");

async function openEditor() {
  render(<LocaleProvider initial="en"><MemoryRouter><AutomationRules /></MemoryRouter></LocaleProvider>);
  const table = await screen.findByTestId("rules", {}, { timeout: 10_000 });
  fireEvent.click(await within(table).findByRole("button", { name: `Edit ${saved.name}` }, { timeout: 10_000 }));
  return screen.findByTestId("edit-rule", {}, { timeout: 10_000 });
}

async function choose(combobox: HTMLElement, text: string) {
  fireEvent.mouseDown(combobox);
  const option = await waitFor(() => {
    const found = [...document.querySelectorAll(".ant-select-item-option")].find((el) => el.textContent === text);
    if (!found) throw new Error(`no option ${text}`);
    return found;
  }, { timeout: 10_000 });
  fireEvent.click(option);
}

describe("editing an automation rule", () => {
  beforeEach(() => {
    calls.length = 0;
    answer = "ok";
    saved = { ...saved, name: "看过价格页", count: 3, template_id: "t1", sequence_id: "", version: 2 };
  });

  it("shows the saved rule, saves a change of action with If-Match and shows the saved rule in the list", async () => {
    const form = await openEditor();
    expect((within(form).getByLabelText("Name") as HTMLInputElement).value).toBe("看过价格页");
    expect((within(form).getByLabelText("Event type") as HTMLInputElement).value).toBe("web.visit");
    expect((within(form).getByLabelText("Unless one of these happened 1: Event type") as HTMLInputElement).value).toBe("crm.sales.lead.converted");
    expect(within(form).getByText("春季促销")).toBeTruthy(); // the campaign is shown, not editable

    fireEvent.click(within(form).getByLabelText("Enrol in a sequence"));
    await choose(await within(form).findByLabelText("Sequence", {}, { timeout: 10_000 }), "新客培育");
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));

    await waitFor(() => expect(screen.queryByTestId("edit-rule")).toBeNull(), { timeout: 10_000 });
    const patch = calls.find((c) => c.method === "PATCH");
    expect(patch).toMatchObject({ path: "/api/v1/automation-rules/r1", ifMatch: '"2"' });
    expect(patch?.body).toEqual({
      name: "看过价格页", trigger: { event_type: "web.visit", url_pattern: "*/pricing*" }, count: 3, within_days: 7,
      unless: [{ event_type: "crm.sales.lead.converted" }], template_id: "", sequence_id: "s1", purpose: "",
    });
    const row = (await within(screen.getByTestId("rules")).findByText("enrol in 新客培育", {}, { timeout: 10_000 })).closest("tr");
    expect(row?.textContent).toContain("看过价格页");
  }, 60_000);

  it("puts the API's refusal beside the field, and after a 409 reloads the other person's version", async () => {
    const form = await openEditor();
    answer = "refuse";
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const beside = await within(form).findByText(TOO_MANY, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("At least this many times");

    answer = "conflict";
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "价格页访客" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const stale = await within(form).findByText(/Someone saved this in the meantime/, {}, { timeout: 10_000 });
    fireEvent.click(within(stale.closest("[role=alert]") as HTMLElement).getByRole("button", { name: "Reload" }));
    await waitFor(() => expect((within(form).getByLabelText("Name") as HTMLInputElement).value).toBe("看过价格页（同事改过）"), { timeout: 10_000 });

    answer = "ok";
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.queryByTestId("edit-rule")).toBeNull(), { timeout: 10_000 });
    expect(calls.filter((c) => c.method === "PATCH").map((c) => c.ifMatch)).toEqual(['"2"', '"2"', '"5"']);
  }, 60_000);
});
