import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The board against a fake gateway: the stage gate refuses solution_demo (no budget) and accepts
// needs_confirmed, as the sales service's default pipeline does.
const calls: { method: string; path: string; ifMatch: string | null; body: unknown }[] = [];
const REFUSAL = "cannot move to 方案演示 (solution_demo): missing budget: a demo needs a stated budget";
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url, "http://console.test");
  const body = request.method === "POST" ? await request.json() : undefined;
  calls.push({ method: request.method, path: url.pathname + url.search, ifMatch: request.headers.get("If-Match"), body });
  if (url.pathname === "/api/v1/sales/settings") {
    return json(200, { pipelines: [{ id: "default", name: "标准", stages: [
      { key: "first_contact", name: "初步接触", probability: 10, outcome: "open" },
      { key: "needs_confirmed", name: "需求确认", probability: 20, outcome: "open" },
      { key: "solution_demo", name: "方案演示", probability: 40, outcome: "open" },
      { key: "closed_lost", name: "输单", probability: 0, outcome: "lost" },
    ] }] });
  }
  if (url.pathname === "/api/v1/opportunities") {
    const items = url.searchParams.get("stage") === "first_contact"
      ? [{ id: "o1", name: "天津港 CRM 项目", stage: "first_contact", status: "open", version: 3, amount: { currency_code: "CNY", amount: "480000" } }]
      : [];
    return json(200, { items, next_page_token: "" });
  }
  if (url.pathname === "/api/v1/opportunities/o1/stage") {
    const stage = (body as { stage: string }).stage;
    if (stage === "solution_demo") {
      return json(400, { type: "urn:shuniu:problem:failed-precondition", title: "Failed precondition", status: 400,
        detail: REFUSAL, errors: [{ field: "budget", message: REFUSAL }] }, "application/problem+json");
    }
    return json(200, { id: "o1", name: "天津港 CRM 项目", stage, status: "open", version: 4 });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Pipeline } = await import("./Pipeline");

async function moveWithTheKeyboardFriendlySelect(stageLabel: string) {
  const select = screen.getByRole("combobox", { name: "Move 天津港 CRM 项目 to a stage" });
  fireEvent.mouseDown(select);
  const option = await waitFor(() => {
    const found = [...document.querySelectorAll(".ant-select-item-option")].find((el) => el.textContent === stageLabel);
    if (!found) throw new Error(`no option ${stageLabel}`);
    return found;
  });
  fireEvent.click(option);
}

describe("the pipeline board", () => {
  beforeEach(() => { calls.length = 0; });

  it("keeps a refused card in its column and shows the gate's words; an accepted move moves it", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><Pipeline /></MemoryRouter></LocaleProvider>);
    const first = await screen.findByTestId("column-first_contact");
    await within(first).findByText("天津港 CRM 项目");

    await moveWithTheKeyboardFriendlySelect("Solution demo");
    const refusal = await screen.findByTestId("stage-refusal");
    expect(within(refusal).getByTestId("stage-refusal-detail").textContent).toBe(REFUSAL);
    expect(refusal.textContent).toContain("天津港 CRM 项目 cannot move to Solution demo");
    expect(within(screen.getByTestId("column-first_contact")).getByText("天津港 CRM 项目")).toBeTruthy();
    expect(within(screen.getByTestId("column-solution_demo")).queryByText("天津港 CRM 项目")).toBeNull();
    expect(within(screen.getByTestId("column-first_contact")).getByText("Move refused")).toBeTruthy();
    const post = calls.find((c) => c.method === "POST");
    expect(post).toMatchObject({ path: "/api/v1/opportunities/o1/stage", ifMatch: '"3"', body: { stage: "solution_demo" } });

    await moveWithTheKeyboardFriendlySelect("Needs confirmed");
    await within(screen.getByTestId("column-needs_confirmed")).findByText("天津港 CRM 项目");
    expect(within(screen.getByTestId("column-first_contact")).queryByText("天津港 CRM 项目")).toBeNull();
    expect(screen.queryByTestId("stage-refusal")).toBeNull();
  }, 20_000); // antd in jsdom is slow on a loaded machine

  it("asks why before closing a deal as lost, and sends the reason", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><Pipeline /></MemoryRouter></LocaleProvider>);
    await within(await screen.findByTestId("column-first_contact")).findByText("天津港 CRM 项目");
    const select = screen.getByRole("combobox", { name: "将 天津港 CRM 项目 移动到阶段" });
    fireEvent.mouseDown(select);
    const option = await waitFor(() => {
      const found = [...document.querySelectorAll(".ant-select-item-option")].find((el) => el.textContent === "输单");
      if (!found) throw new Error("no option");
      return found;
    });
    fireEvent.click(option);
    fireEvent.change(await screen.findByLabelText("输单原因"), { target: { value: "预算被砍" } });
    fireEvent.click(screen.getByRole("button", { name: "标记为输单" }));
    await within(screen.getByTestId("column-closed_lost")).findByText("天津港 CRM 项目");
    expect(calls.filter((c) => c.method === "POST").map((c) => c.body)).toEqual([{ stage: "closed_lost", loss_reason: "预算被砍" }]);
  }, 20_000);
});
