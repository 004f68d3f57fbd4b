import { fireEvent, render, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import type { Schema } from "../../api";
import { LocaleProvider } from "../../i18n";

// The stages tab against a fake gateway: a refusal naming the stage list as a whole
// (pipelines[0].stages) stands beside that list, not in the alert above the form; and a save on the
// other tab (the same settings, a new version) leaves this tab's unsaved edits alone.
type Sales = Schema<"SalesSettings">;
const SALES = {
  version: "4",
  pipelines: [{ id: "default", name: "标准", stages: [{ key: "new", name: "新建", probability: 10, outcome: "open" }] }],
  approval_policies: [],
  follow_up_rules: [],
} as unknown as Sales;
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(): Promise<Response> {
  return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
    errors: [{ field: "pipelines[0].stages", message: "a pipeline needs a won stage" }] }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { SalesEditor } = await import("./SalesEditor");
const SECTIONS = ["pipelines", "approval_policies", "follow_up_rules"] as const;

function editor(sales: Sales) {
  return (
    <LocaleProvider initial="zh-CN">
      <SalesEditor sales={sales} sections={SECTIONS} onSaved={() => undefined} />
    </LocaleProvider>
  );
}

describe("SalesEditor, stages tab", () => {
  it("shows an error about the whole stage list beside the list", async () => {
    render(editor(SALES));
    const stage = await screen.findByRole("group", { name: "阶段 1" }, { timeout: 10_000 });
    fireEvent.click(screen.getByText(/^保\s*存$/).closest("button")!);
    const error = await screen.findByText("a pipeline needs a won stage", {}, { timeout: 10_000 });
    expect(error.closest("[role=alert].ant-alert")).toBeNull(); // not the alert above the form
    // in the pipeline's card, after its stage rows
    const card = stage.closest(".ant-card")!;
    expect(within(card as HTMLElement).getByText("a pipeline needs a won stage")).toBe(error);
  });

  it("keeps unsaved edits when the other tab's save brings a new version", async () => {
    const { rerender } = render(editor(SALES));
    const stage = await screen.findByRole("group", { name: "阶段 1" }, { timeout: 10_000 });
    const name = within(stage).getByDisplayValue("新建");
    fireEvent.change(name, { target: { value: "线索" } });
    // the assignment tab saved: same stages, pipelines and rules, version 5
    rerender(editor({ ...SALES, version: "5", assignment_rules: [{ id: "x" }] } as unknown as Sales));
    expect(within(stage).getByDisplayValue("线索")).toBeTruthy();
    expect(screen.getByText(/5/, { selector: ".ant-alert-title, .ant-alert-message" })).toBeTruthy();
    // settings that did change this tab's sections (saved here, or reloaded) fill it again
    const changed = { ...SALES, version: "6", pipelines: [{ ...SALES.pipelines![0]!, stages: [{ key: "new", name: "初访", probability: 10, outcome: "open" }] }] };
    rerender(editor(changed as unknown as Sales));
    await vi.waitFor(() => expect(within(stage).getByDisplayValue("初访")).toBeTruthy(), { timeout: 10_000 });
  });
});
