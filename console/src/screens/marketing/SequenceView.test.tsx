import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, type Call } from "./fakeGateway";

// One sequence against a fake gateway: its steps by day, why enrolments ended, activation with the
// version read, enrolling pasted ids (the answer's counts shown), and taking a contact out.
const calls: Call[] = [];
let status = "draft";
let out = false;
const sequence = () => ({ id: "s1", name: "新客培育", campaign_id: "c1", status, version: status === "draft" ? 1 : 2, purpose: "marketing_email",
  steps: [{ day: 0, channel: "email", template_id: "t1" }, { day: 3, channel: "sms", sms: { template_code: "SMS_230002" } }],
  counts: { enrolled: 9, active: 5, completed: 1, exited: { unsubscribed: 2, converted: 1 } } });
const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/campaigns") return json(200, { items: [{ id: "c1", name: "双十二" }], next_page_token: "" });
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "欢迎信" }], next_page_token: "" });
  if (call.path === "/api/v1/contacts") return json(200, emptyPage);
  if (call.path === "/api/v1/sequences/s1") return json(200, sequence());
  if (call.path === "/api/v1/sequences/s1/status") { status = (call.body as { status: string }).status; return json(200, sequence()); }
  if (call.path === "/api/v1/sequences/s1/enrollments" && call.method === "POST") return json(200, { enrolled: 2, already_enrolled: 1, skipped: { no_consent: 1 } });
  if (call.path === "/api/v1/sequences/s1/enrollments") {
    return json(200, { items: [{ contact_id: "p1", status: out ? "exited" : "active", exit_reason: out ? "removed" : "", steps_done: 1 }], next_page_token: "" });
  }
  if (call.path === "/api/v1/sequences/s1/enrollments/p1" && call.method === "DELETE") { out = true; return json(200, { contact_id: "p1", status: "exited", exit_reason: "removed" }); }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: SequenceView } = await import("./SequenceView");

describe("one drip sequence", () => {
  beforeEach(() => { calls.length = 0; status = "draft"; out = false; });

  it("shows steps and exit reasons, activates with If-Match, enrols pasted ids and takes a contact out", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter initialEntries={["/sequences/s1"]}>
      <Routes><Route path="/sequences/:id" element={<SequenceView />} /></Routes>
    </MemoryRouter></LocaleProvider>);
    const steps = await screen.findByTestId("sequence-steps", {}, { timeout: 10_000 });
    await within(steps).findByText(/欢迎信/, {}, { timeout: 10_000 });
    expect([...steps.querySelectorAll("li")].map((li) => li.textContent)).toEqual(["Day 0 · Email 欢迎信", "Day 3 · SMS SMS_230002"]);
    const exits = screen.getByTestId("sequence-exits");
    expect([...exits.querySelectorAll(".ant-descriptions-item")].map((x) => x.textContent)).toEqual(["Converted1", "Unsubscribed2"]);

    fireEvent.click(screen.getByText("Activate"));
    await waitFor(() => expect(screen.getByTestId("sequence-status").textContent).toBe("Active"), { timeout: 10_000 });
    expect(calls.find((c) => c.path === "/api/v1/sequences/s1/status")).toMatchObject({ ifMatch: '"1"', body: { status: "active" } });
    expect(screen.getByText("Pause")).toBeTruthy();

    const enrol = screen.getByTestId("enrol-form");
    fireEvent.change(within(enrol).getByLabelText("Or paste contact ids"), { target: { value: "p2, p3\np4" } });
    fireEvent.click(within(enrol).getByText("Enrol"));
    await screen.findByText("2 enrolled, 1 already in it. Not enrolled: No consent 1", {}, { timeout: 10_000 });
    expect(calls.find((c) => c.path === "/api/v1/sequences/s1/enrollments" && c.method === "POST")?.body).toEqual({ contact_ids: ["p2", "p3", "p4"] });

    fireEvent.click(within(screen.getByTestId("enrollments")).getByLabelText("Take p1 out"));
    await waitFor(() => expect(within(screen.getByTestId("enrollments")).getByText("p1").closest("tr")?.textContent).toContain("Taken out"), { timeout: 10_000 });
    expect(calls.some((c) => c.method === "DELETE" && c.path === "/api/v1/sequences/s1/enrollments/p1")).toBe(true);
  }, 40_000);
});
