import { fireEvent, render, screen, within } from "@testing-library/react";
import { MemoryRouter, Route, Routes } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { emptyPage, fakeFetch, json, problem, type Call } from "./fakeGateway";

// An A/B test screen against a fake gateway: a decided test shows the API's winner and its
// significance; a ready one starts with the version read as If-Match; a refused cancel says why.
const calls: Call[] = [];
const variants = [
  { name: "A", subject: "春季新品上市", counts: { sent: 500, opened: 105, clicked: 20 }, rate: 0.21, wave_id: "w-a" },
  { name: "B", subject: "限时 8 折", counts: { sent: 500, opened: 140, clicked: 31 }, rate: 0.28, wave_id: "w-b" },
];
const decided = { id: "ab1", name: "主题测试", campaign_id: "c1", status: "sending_winner", metric: "open", significance: 0.05,
  test_percent: 20, test_size: 1000, rest_size: 4000, variants, winner: "B", significant: true, z: 2.871, p_value: 0.0041,
  decided_at: "2026-12-01T10:00:00Z", decision: "B opened at 28.0% against 21.0% (z 2.87, p 0.004 < 0.05)", version: 4 };
const ready = { ...decided, id: "ab2", status: "ready", winner: "", significant: false, z: 0, p_value: 0, decided_at: undefined,
  decision: "", version: 1, variants: variants.map((v) => ({ ...v, counts: {}, rate: 0 })) };

const gateway = fakeFetch(calls, (call) => {
  if (call.path === "/api/v1/email-templates") return json(200, emptyPage);
  if (call.path === "/api/v1/ab-tests/ab1") return json(200, decided);
  if (call.path === "/api/v1/ab-tests/ab2") return json(200, ready);
  if (call.path === "/api/v1/ab-tests/ab2/start") return json(200, { ...ready, status: "testing", version: 2 });
  if (call.path === "/api/v1/ab-tests/ab2/cancel") return problem(409, "the test changed since it was read: reload it");
  return undefined;
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: AbTestView } = await import("./AbTestView");

function show(id: string, locale: "en" | "zh-CN" = "en") {
  render(
    <LocaleProvider initial={locale}>
      <MemoryRouter initialEntries={[`/ab-tests/${id}`]}>
        <Routes><Route path="/ab-tests/:id" element={<AbTestView />} /></Routes>
      </MemoryRouter>
    </LocaleProvider>,
  );
}

describe("an A/B test's results", () => {
  beforeEach(() => { calls.length = 0; });

  it("shows the winner the API picked, with its significance, and marks its row", async () => {
    show("ab1");
    const verdict = await screen.findByTestId("ab-verdict", {}, { timeout: 10_000 });
    expect(verdict.textContent).toBe("B wins: the difference is significant (p = 0.004, z = 2.87).");
    const rows = within(screen.getByTestId("ab-variants")).getAllByRole("row");
    const b = rows.find((r) => r.textContent?.includes("限时 8 折"));
    expect(b?.textContent).toContain("Winner");
    expect(b?.textContent).toContain("28%");
    expect(rows.find((r) => r.textContent?.includes("春季新品上市"))?.textContent).not.toContain("Winner");
    expect(screen.getByText("Sending the winner")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Start the test" })).toBeNull();
  }, 60_000);

  it("starts a ready test with the version it read, and shows why a cancel was refused", async () => {
    show("ab2", "zh-CN");
    expect((await screen.findByTestId("ab-verdict", {}, { timeout: 10_000 })).textContent).toBe("尚未决定。");
    fireEvent.click(screen.getByRole("button", { name: "开始测试" }));
    await screen.findByText("测试中", {}, { timeout: 10_000 });
    expect(screen.getByTestId("ab-status").textContent).toBe("测试中");
    expect(calls.find((c) => c.path === "/api/v1/ab-tests/ab2/start")).toMatchObject({ method: "POST", ifMatch: '"1"' });
    fireEvent.click(screen.getByRole("button", { name: "取消测试" }));
    // the refusal's own alert (a running test also shows an info alert: wait for this one)
    expect(await screen.findByText(/the test changed since it was read/, {}, { timeout: 10_000 })).toBeTruthy();
    expect(calls.find((c) => c.path === "/api/v1/ab-tests/ab2/cancel")?.ifMatch).toBe('"2"');
  }, 60_000);
});
