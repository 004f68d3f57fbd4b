import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, problem, type Call } from "./fakeGateway";

// Editing a saved drip sequence against a fake gateway: a draft's form holds its steps (an SMS
// step's variables as rows), the save carries the version read and a refused step's field shows
// in that step; an active sequence edits only what marketing still lets change (no steps sent).
const calls: Call[] = [];
const LATER = "each step comes at least a day after the one before";
let seq: Record<string, unknown> = {};
const fresh = (status: string) => ({ id: "s1", name: "新客培育", campaign_id: "c1", status, version: 4, purpose: "marketing_email", description: "",
  steps: [{ day: 0, channel: "email", template_id: "t1" }, { day: 3, channel: "sms", sms: { template_code: "SMS_230002", params: { name: "{{ name }}" } } }],
  counts: { enrolled: 0, active: 0, completed: 0 } });
const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/campaigns") return json(200, { items: [{ id: "c1", name: "双十二" }], next_page_token: "" });
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "欢迎信" }], next_page_token: "" });
  if (call.path === "/api/v1/contacts") return json(200, emptyPage);
  if (call.path === "/api/v1/sequences/s1/enrollments") return json(200, emptyPage);
  if (call.path === "/api/v1/sequences/s1" && call.method === "GET") return json(200, seq);
  if (call.path === "/api/v1/sequences/s1" && call.method === "PATCH") {
    const body = call.body as { steps?: { day: number }[] };
    const [first, second] = body.steps ?? [];
    if (first && second && second.day <= first.day) return problem(400, LATER, [{ field: "sequence.steps[1].day", message: LATER }]);
    seq = { ...seq, ...body, version: Number(seq.version) + 1 };
    return json(200, seq);
  }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: SequenceView } = await import("./SequenceView");

async function openEditor() {
  render(<LocaleProvider initial="en"><MemoryRouter initialEntries={["/sequences/s1"]}>
    <Routes><Route path="/sequences/:id" element={<SequenceView />} /></Routes>
  </MemoryRouter></LocaleProvider>);
  fireEvent.click(await screen.findByRole("button", { name: "Edit" }, { timeout: 10_000 }));
  return screen.findByTestId("edit-sequence", {}, { timeout: 10_000 });
}

describe("editing a drip sequence", () => {
  beforeEach(() => { calls.length = 0; });

  it("edits a draft's steps with If-Match; a refused step's day shows in that step", async () => {
    seq = fresh("draft");
    const form = await openEditor();
    const step = (n: number) => within(form).getByText(`Step ${n}`).closest("[role=group]") as HTMLElement;
    expect((within(step(2)).getByLabelText("Step 2: Provider's template code") as HTMLInputElement).value).toBe("SMS_230002");
    expect((within(step(2)).getByLabelText("Step 2: Value 1") as HTMLInputElement).value).toBe("{{ name }}");

    fireEvent.change(within(step(2)).getByLabelText("Step 2: Day"), { target: { value: "0" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const beside = await within(step(2)).findByText(LATER, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Day");
    expect(within(step(1)).queryByText(LATER)).toBeNull();

    fireEvent.change(within(step(2)).getByLabelText("Step 2: Day"), { target: { value: "5" } });
    fireEvent.change(within(form).getByLabelText("Name"), { target: { value: "新客培育（五天）" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const steps = await screen.findByTestId("sequence-steps", {}, { timeout: 10_000 });
    expect([...steps.querySelectorAll("li")].map((li) => li.textContent)).toEqual(["Day 0 · Email 欢迎信", "Day 5 · SMS SMS_230002"]);
    expect(screen.getByRole("heading", { level: 1 }).textContent).toContain("新客培育（五天）");
    const patches = calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.ifMatch)).toEqual(['"4"', '"4"']);
    expect(patches[1]?.body).toEqual({
      name: "新客培育（五天）", description: "", enroll_nurturing: false, purpose: "marketing_email",
      steps: [{ day: 0, channel: "email", template_id: "t1" }, { day: 5, channel: "sms", sms: { template_code: "SMS_230002", params: { name: "{{ name }}" } } }],
    });
  }, 60_000);

  it("on an active sequence says the steps are fixed and sends only what may change", async () => {
    seq = fresh("active");
    const form = await openEditor();
    expect(within(form).getByText(/Its steps and consent purpose are fixed/)).toBeTruthy();
    expect(within(form).queryByText("Step 1")).toBeNull();
    fireEvent.click(within(form).getByLabelText("Leads sales sends back for nurturing join it"));
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.queryByTestId("edit-sequence")).toBeNull(), { timeout: 10_000 });
    expect(calls.find((c) => c.method === "PATCH")?.body).toEqual({ name: "新客培育", description: "", enroll_nurturing: true });
  }, 60_000);
});
