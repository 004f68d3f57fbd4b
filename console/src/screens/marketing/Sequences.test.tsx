import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, problem, type Call } from "./fakeGateway";

// The sequence list and its form against a fake gateway: steps show as day offsets; a step turned
// into an SMS sends its content (no template), and the API's refusal of that step's field lands
// in that step's block.
const calls: Call[] = [];
const BAD_CODE = "the provider's template code (letters, digits, _ . -), e.g. SMS_123456789";
const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/campaigns") return json(200, { items: [{ id: "c1", name: "双十二" }], next_page_token: "" });
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "欢迎信" }], next_page_token: "" });
  if (call.path === "/api/v1/segments") return json(200, emptyPage);
  if (call.path === "/api/v1/sequences" && call.method === "GET") {
    return json(200, { items: [{ id: "s1", name: "新客培育", campaign_id: "c1", status: "active",
      steps: [{ day: 0, channel: "email", template_id: "t1" }, { day: 3, channel: "sms" }, { day: 7, channel: "email", template_id: "t1" }],
      counts: { enrolled: 40, active: 31, completed: 6, exited: { unsubscribed: 3 } } }], next_page_token: "" });
  }
  if (call.path === "/api/v1/sequences" && call.method === "POST") {
    return problem(400, BAD_CODE, [{ field: "sequence.steps[1].sms.template_code", message: BAD_CODE }]);
  }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: Sequences } = await import("./Sequences");

async function choose(combobox: HTMLElement, text: string) {
  fireEvent.mouseDown(combobox);
  const option = await waitFor(() => {
    const found = [...document.querySelectorAll(".ant-select-item-option")].find((el) => el.textContent === text);
    if (!found) throw new Error(`no option ${text}`);
    return found;
  }, { timeout: 10_000 });
  fireEvent.click(option);
}

describe("drip sequences", () => {
  beforeEach(() => { calls.length = 0; });

  it("lists a sequence's steps by day and its enrolments; an SMS step's refusal lands in that step", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><Sequences /></MemoryRouter></LocaleProvider>);
    const row = (await screen.findByText("新客培育", {}, { timeout: 10_000 })).closest("tr") as HTMLElement;
    expect(row.textContent).toContain("Day 0 → Day 3 (SMS) → Day 7");
    await within(row).findByText("双十二", {}, { timeout: 10_000 });
    expect([...row.querySelectorAll("td")].slice(4).map((td) => td.textContent)).toEqual(["40", "31", "6"]);

    const form = screen.getByTestId("new-sequence");
    const step = (n: number) => within(form).getByText(`Step ${n}`).closest("[role=group]") as HTMLElement;
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "沉睡客户唤醒" } });
    await choose(within(step(2)).getByLabelText("Step 2: Channel"), "SMS");
    fireEvent.change(await within(step(2)).findByLabelText("Step 2: Provider's template code", {}, { timeout: 10_000 }), { target: { value: "SMS 1" } });
    fireEvent.click(within(step(2)).getByText("Add a variable"));
    fireEvent.change(await within(step(2)).findByLabelText("Step 2: Variable 1", {}, { timeout: 10_000 }), { target: { value: "name" } });
    fireEvent.change(within(step(2)).getByLabelText("Step 2: Value 1"), { target: { value: "{{ name }}" } });
    fireEvent.click(within(form).getByText("Create"));

    const beside = await within(step(2)).findByText(BAD_CODE, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Provider's template code");
    expect(within(step(1)).queryByText(BAD_CODE)).toBeNull();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      name: "沉睡客户唤醒", campaign_id: "",
      steps: [{ day: 0, channel: "email", template_id: "" }, { day: 3, channel: "sms", sms: { template_code: "SMS 1", params: { name: "{{ name }}" } } }],
      enroll_nurturing: false,
    });
  }, 40_000);
});
