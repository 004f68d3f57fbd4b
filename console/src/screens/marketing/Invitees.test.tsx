import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, problem, type Call } from "./fakeGateway";

// Invitees and the door against a fake gateway: a code admits its invitee (the list then shows
// them attended), a code used twice shows the API's words beside the code, and a registration
// is recorded from the list.
const calls: Call[] = [];
let attended = false;
let registered = false;
const USED = "this code was already used at 2026-12-01 09:12 (checked in by marketing.hq)";
const gateway = fakeFetch(calls, (call, url) => {
  if (call.path === "/api/v1/contacts") return json(200, emptyPage);
  if (call.path === "/api/v1/campaigns/c1/invitees" && call.method === "GET") {
    const items = [
      { contact_id: "p1", name: "王芳", email: "wang@e2e.example", check_in_code: "K7Q-2MX", status: attended ? "attended" : "invited" },
      { contact_id: "p2", name: "李雷", email: "li@e2e.example", check_in_code: "ZP4-9TT", status: registered ? "registered" : "invited" },
    ].filter((x) => !url.searchParams.get("status") || x.status === url.searchParams.get("status"));
    return json(200, { items, next_page_token: "" });
  }
  if (call.path === "/api/v1/campaigns/c1/check-ins") {
    const code = (call.body as { check_in_code: string }).check_in_code;
    if (code === "k7q2mx" && !attended) { attended = true; return json(200, { contact_id: "p1", name: "王芳", status: "attended" }); }
    return problem(409, USED, [{ field: "check_in_code", message: USED }]);
  }
  if (call.path === "/api/v1/campaigns/c1/invitees/p2/register") { registered = true; return json(200, { contact_id: "p2", name: "李雷", status: "registered" }); }
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { Invitees } = await import("./Invitees");

describe("invitees and check-in", () => {
  beforeEach(() => { calls.length = 0; attended = false; registered = false; });

  it("admits an invitee by code once, shows a reused code's refusal beside the code, and registers another", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><Invitees campaign={{ id: "c1", name: "春季展会" }} /></MemoryRouter></LocaleProvider>);
    const list = await screen.findByTestId("invitees", {}, { timeout: 10_000 });
    await within(list).findByText("王芳", {}, { timeout: 10_000 });
    const door = screen.getByTestId("check-in");
    fireEvent.change(within(door).getByLabelText("Check-in code"), { target: { value: "k7q2mx" } });
    fireEvent.click(within(door).getByText("Check in"));
    expect((await within(door).findByTestId("checked-in", {}, { timeout: 10_000 })).textContent).toBe("王芳 checked in.");
    await waitFor(() => expect(within(list).getByText("王芳").closest("tr")?.textContent).toContain("Attended"), { timeout: 10_000 });

    fireEvent.change(within(door).getByLabelText("Check-in code"), { target: { value: "k7q2mx" } });
    fireEvent.click(within(door).getByText("Check in"));
    const beside = await within(door).findByText(USED, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Check-in code");
    expect(within(door).queryByTestId("checked-in")).toBeNull();

    const li = within(list).getByText("李雷").closest("tr") as HTMLElement;
    fireEvent.click(within(li).getByLabelText("Register 李雷"));
    await waitFor(() => expect(within(list).getByText("李雷").closest("tr")?.textContent).toContain("Registered"), { timeout: 10_000 });
    expect(within(list).getByText("王芳").closest("tr")?.querySelector("button")).toBeNull(); // attended: nothing to register
  }, 40_000);
});
