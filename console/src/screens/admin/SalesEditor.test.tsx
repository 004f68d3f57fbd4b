import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Schema } from "../../api";
import { LocaleProvider } from "../../i18n";

// The assignment tab's editor against a fake gateway: a pool rule without its claim limit is refused
// beside that field; the If-Match carries the version read; the saved settings come back.
const SALES = {
  version: "4",
  assignment_rules: [{ id: "north", priority: 1, regions: ["华北"], strategy: "round_robin", members: ["rep.north.1"], team: "north-sales" }],
  pool_rules: [{ team: "north-sales", inactive_days: 14, unconverted_days: 60, cooldown_days: 7 }],
  pipelines: [{ id: "default", stages: [] }],
};
const sent: { ifMatch: string | null; body: Record<string, unknown> }[] = [];
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const body = (await request.json()) as Record<string, unknown>;
  sent.push({ ifMatch: request.headers.get("If-Match"), body });
  const pool = (body.pool_rules as Record<string, unknown>[] | undefined)?.[0] ?? {};
  if (!("claim_limit" in pool)) {
    return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
      errors: [{ field: "pool_rules[0].claim_limit", message: "is required" }] }, "application/problem+json");
  }
  return json(200, { ...SALES, ...body, version: "5" });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { SalesEditor } = await import("./SalesEditor");

describe("SalesEditor", () => {
  it("places a pool rule's refused claim limit beside it, then saves with the version read", async () => {
    const saved = vi.fn();
    render(
      <LocaleProvider initial="zh-CN">
        <SalesEditor sales={SALES as unknown as Schema<"SalesSettings">} sections={["assignment_rules", "pool_rules"]} onSaved={saved} />
      </LocaleProvider>,
    );
    const pool = await screen.findByRole("group", { name: "公海规则 1" }, { timeout: 10_000 });
    fireEvent.click(screen.getByText(/^保\s*存$/).closest("button")!);
    const error = await screen.findByText("is required", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("领取上限");
    expect(sent[0]!.ifMatch).toBe('"4"');
    // only the sections of this tab, the rows as read (ids and members kept)
    expect(Object.keys(sent[0]!.body).sort()).toEqual(["assignment_rules", "pool_rules"]);
    expect(sent[0]!.body.assignment_rules).toEqual(SALES.assignment_rules);

    const limit = within(pool).getAllByRole("spinbutton")[2]!;
    fireEvent.change(limit, { target: { value: "30" } });
    fireEvent.click(screen.getByText(/^保\s*存$/).closest("button")!);
    await vi.waitFor(() => expect(saved).toHaveBeenCalled(), { timeout: 10_000 });
    // the earlier refusal no longer stands beside the field
    await vi.waitFor(() => expect(screen.queryByText("is required")).toBeNull(), { timeout: 10_000 });
    expect(sent[1]!.body.pool_rules).toEqual([{ ...SALES.pool_rules[0]!, claim_limit: 30 }]);
  });
});
