import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { fakeFetch, json, problem, type Call } from "./fakeGateway";

// The SMS wave form against a fake gateway: the template's variables are sent as params (the
// first merges the recipient's name), and the API's refusal of one variable shows under the
// variables, the rest of the form untouched.
const calls: Call[] = [];
const UNKNOWN = "wave.sms.params.date: unknown merge field 日期";
const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/segments") return json(200, { items: [{ id: "g1", name: "华东会员" }], next_page_token: "" });
  if (call.path === "/api/v1/sms-waves") return problem(400, UNKNOWN, [{ field: "wave.sms.params.date", message: UNKNOWN }]);
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { NewSmsWave } = await import("./SmsWave");

describe("a new SMS wave", () => {
  beforeEach(() => { calls.length = 0; });

  it("sends the template code and variables, and shows a variable's refusal under the variables", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter>
      <NewSmsWave campaign={{ id: "c1", name: "双十二", audience: { segment_ids: ["g1"] } }} onCreated={() => undefined} />
    </MemoryRouter></LocaleProvider>);
    const form = await screen.findByTestId("new-sms-wave", {}, { timeout: 10_000 });
    fireEvent.change(within(form).getByLabelText("Provider's template code"), { target: { value: "SMS_230001" } });
    fireEvent.click(within(form).getByText("Add a variable"));
    fireEvent.change(await within(form).findByLabelText("Variable 2", {}, { timeout: 10_000 }), { target: { value: "date" } });
    fireEvent.change(within(form).getByLabelText("Value 2"), { target: { value: "{{ 日期 }}" } });
    fireEvent.click(within(form).getByText("Prepare the SMS wave"));
    const shown = await within(form).findByText(UNKNOWN, {}, { timeout: 10_000 });
    expect(shown.closest("fieldset")?.querySelector("legend")?.textContent).toBe("Template variables");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      campaign_id: "c1", audience: { segment_ids: ["g1"] },
      sms: { template_code: "SMS_230001", params: { name: "{{ name }}", date: "{{ 日期 }}" } },
    });
  }, 60_000);
});
