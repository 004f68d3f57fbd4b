import { render, screen, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import type { Schema } from "../../api";
import { LocaleProvider, type Locale } from "../../i18n";

// The CSAT screen against a fake gateway: the share of satisfied answers (4s and 5s) beside the
// average, per day too; without any answer both read "—", never 0.
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
let summary: Schema<"SupportSummary"> = {};

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  const gateway = async () => json(summary);
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Csat } = await import("./Csat");

async function figure(locale: Locale, title: string): Promise<string> {
  render(<LocaleProvider initial={locale}><MemoryRouter><Csat /></MemoryRouter></LocaleProvider>);
  const figures = await screen.findByTestId("csat-figures", {}, { timeout: 10_000 });
  return within(figures).getByText(title).closest(".ant-statistic")?.textContent ?? "";
}

describe("Csat", () => {
  it("shows the share of satisfied answers overall and per day", async () => {
    summary = { csat_count: 4, csat_average: 3.25, csat_satisfied: 2, csat_satisfied_share: 0.5,
      csat_per_day: [{ day: "2024-05-02", count: 2, average: 4.5, satisfied: 2 }, { day: "2024-05-03", count: 2, average: 2, satisfied: 0 }] };
    expect(await figure("en", "Satisfied")).toContain("50%");
    const rows = screen.getAllByRole("row").slice(1).map((row) => row.textContent);
    expect(rows[0]).toContain("100%");
    expect(rows[1]).toContain("0%");
  }, 30_000);

  it("labels it 满意率 in Chinese", async () => {
    summary = { csat_count: 3, csat_average: 4, csat_satisfied: 2, csat_satisfied_share: 2 / 3 };
    expect(await figure("zh-CN", "满意率")).toContain("66.7%");
  }, 30_000);

  it("shows a dash, not 0%, while nobody has answered", async () => {
    summary = { csat_count: 0, csat_satisfied: 0, csat_per_day: [] };
    const satisfied = await figure("en", "Satisfied");
    expect(satisfied).toContain("—");
    expect(satisfied).not.toContain("%");
    expect(within(screen.getByTestId("csat-figures")).getByText("Average rating").closest(".ant-statistic")?.textContent).toContain("—");
  }, 30_000);
});
