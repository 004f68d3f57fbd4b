import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { fakeFetch, json, problem, type Call } from "./fakeGateway";

// A campaign's A/B tests against a fake gateway: the list links each test, the form (opened on
// demand) sends the variants of subject, the share and the metric, shows what each variant gets,
// and the API's refusal of one variant lands in that variant's row.
const calls: Call[] = [];
const TWICE = "two variants named A";
const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/email-templates") return json(200, { items: [{ id: "t1", name: "新品推荐" }], next_page_token: "" });
  if (call.path === "/api/v1/segments") return json(200, { items: [{ id: "g1", name: "华东会员" }], next_page_token: "" });
  if (call.path === "/api/v1/ab-tests" && call.method === "GET") {
    return json(200, { items: [{ id: "ab1", name: "主题测试", status: "completed", metric: "click", winner: "B",
      variants: [{ name: "A" }, { name: "B" }] }], next_page_token: "" });
  }
  if (call.path === "/api/v1/ab-tests" && call.method === "POST") return problem(400, TWICE, [{ field: "test.variants[1].name", message: TWICE }]);
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { AbTests } = await import("./AbTests");

describe("a campaign's A/B tests", () => {
  beforeEach(() => { calls.length = 0; });

  it("lists the tests, sends a new one's variants and shows a variant's refusal in its row", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter>
      <AbTests campaign={{ id: "c1", name: "双十二", audience: { segment_ids: ["g1"] } }} />
    </MemoryRouter></LocaleProvider>);
    const link = await screen.findByText("主题测试", {}, { timeout: 10_000 });
    expect(link.closest("a")?.getAttribute("href")).toBe("/ab-tests/ab1");
    expect(link.closest("tr")?.textContent).toContain("Clicks");
    expect(screen.queryByTestId("new-ab-test")).toBeNull(); // opened on demand
    fireEvent.click(screen.getByText("New A/B test"));
    const form = await screen.findByTestId("new-ab-test", {}, { timeout: 10_000 });
    expect(within(form).getByTestId("share-each").textContent).toBe("10% of the audience gets each variant; the rest gets the winner.");
    fireEvent.change(within(form).getByLabelText("Variant 1: Subject"), { target: { value: "新品上市" } });
    fireEvent.change(within(form).getByLabelText("Variant 2: Name (its utm_content)"), { target: { value: "A" } });
    fireEvent.change(within(form).getByLabelText("Variant 2: Subject"), { target: { value: "限时 8 折" } });
    fireEvent.change(within(form).getByLabelText("Share tested (%)"), { target: { value: "30" } });
    fireEvent.click(within(form).getByText("Create"));
    const beside = await within(form).findByText(TWICE, {}, { timeout: 10_000 });
    expect(beside.closest("[role=group]")?.getAttribute("aria-label")).toBe("Variant 2");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      campaign_id: "c1", template_id: "", audience: { segment_ids: ["g1"] },
      variants: [{ name: "A", subject: "新品上市" }, { name: "A", subject: "限时 8 折" }],
      test_percent: 30, metric: "open", wait_hours: 4, significance: 0.05,
    });
  }, 60_000);
});
