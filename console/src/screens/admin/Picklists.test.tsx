import { fireEvent, render, screen, within } from "@testing-library/react";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The picklists tab against a fake gateway: retiring a value and saving PUTs every value in order
// with the version read as If-Match; a refusal naming values[2].key shows in that row; a 409 asks
// the user to reload (two-character buttons get antd's space outside the app's ConfigProvider); an added value goes last with both labels; reordering sends the new order.
const value = (key: string, zh: string, en: string, retired = false) => ({ key, label_zh: zh, label_en: en, retired, built_in: true });
const DOC = {
  version: 3,
  picklists: [
    { name: "source", restricted: true, values: [value("website", "官网", "Website"), value("ads", "广告", "Ads"), value("other", "其他", "Other")] },
    { name: "industry", restricted: false, values: [value("retail", "零售", "Retail")] },
    { name: "level", restricted: true, values: [] },
    { name: "lifecycle_stage", restricted: true, values: [] },
  ],
};
const puts: { path: string; ifMatch: string | null; body: { restricted: boolean; values: Record<string, unknown>[] } }[] = [];
let refuse: null | 400 | 409 = null;
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.method === "GET" && url.pathname === "/api/v1/admin/picklists") return json(200, DOC);
  if (request.method === "PUT") {
    const body = (await request.json()) as (typeof puts)[number]["body"];
    puts.push({ path: url.pathname, ifMatch: request.headers.get("If-Match"), body });
    if (refuse === 400) {
      return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "invalid",
        errors: [{ field: "values[2].key", message: "must be snake_case" }] }, "application/problem+json");
    }
    if (refuse === 409) {
      return json(409, { type: "urn:shuniu:problem:conflict", title: "Conflict", status: 409, detail: "version 3 is stale" }, "application/problem+json");
    }
    return json(200, { ...DOC, version: 4 });
  }
  return json(404, { status: 404, title: "Not found" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { Picklists } = await import("./Picklists");

async function open() {
  render(<LocaleProvider initial="zh-CN"><Picklists /></LocaleProvider>);
  return screen.findByTestId("picklist-row-2", {}, { timeout: 10_000 });
}
const save = () => fireEvent.click(screen.getByRole("button", { name: /^保\s*存$/ }));

beforeEach(() => { puts.length = 0; refuse = null; });

describe("Picklists", () => {
  it("retires a value and saves every value in order with If-Match", async () => {
    await open();
    const ads = screen.getByTestId("picklist-row-1");
    expect((within(ads).getByLabelText("中文名称") as HTMLInputElement).value).toBe("广告");
    expect((within(ads).getByLabelText("英文名称") as HTMLInputElement).value).toBe("Ads");
    fireEvent.click(within(ads).getByRole("button", { name: /^停\s*用$/ }));
    await within(ads).findByText("已停用", {}, { timeout: 10_000 });
    save();
    await vi.waitFor(() => expect(puts).toHaveLength(1), { timeout: 10_000 });
    expect(puts[0]!.path).toBe("/api/v1/admin/picklists/source");
    expect(puts[0]!.ifMatch).toBe('"3"');
    expect(puts[0]!.body).toEqual({
      restricted: true,
      values: [
        { key: "website", label_zh: "官网", label_en: "Website", retired: false },
        { key: "ads", label_zh: "广告", label_en: "Ads", retired: true },
        { key: "other", label_zh: "其他", label_en: "Other", retired: false },
      ],
    });
    await screen.findByText("选项列表已保存", {}, { timeout: 10_000 });
  });

  it("shows a refusal naming values[2].key beside that row's key", async () => {
    refuse = 400;
    await open();
    save();
    const error = await screen.findByText("must be snake_case", {}, { timeout: 10_000 });
    expect(screen.getByTestId("picklist-row-2").contains(error)).toBe(true);
    expect(error.closest(".ant-form-item")?.textContent).toContain("键");
    expect(screen.getByTestId("picklist-row-1").textContent).not.toContain("must be snake_case");
  });

  it("tells the user to reload when someone saved first (409)", async () => {
    refuse = 409;
    await open();
    save();
    await screen.findByText(/其他人修改了选项列表/, {}, { timeout: 10_000 });
    expect(screen.getByRole("button", { name: "重新加载" })).toBeTruthy();
  });

  it("adds a value with both labels and moves it up; saved keys cannot be removed", async () => {
    await open();
    expect(screen.queryByRole("button", { name: /^移\s*除$/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "添加值" }));
    const row = await screen.findByTestId("picklist-row-3", {}, { timeout: 10_000 });
    fireEvent.change(within(row).getByLabelText("键"), { target: { value: "webinar" } });
    fireEvent.change(within(row).getByLabelText("中文名称"), { target: { value: "线上研讨会" } });
    fireEvent.change(within(row).getByLabelText("英文名称"), { target: { value: "Webinar" } });
    fireEvent.click(await within(row).findByRole("button", { name: "上移 webinar" }, { timeout: 10_000 }));
    save();
    await vi.waitFor(() => expect(puts).toHaveLength(1), { timeout: 10_000 });
    expect(puts[0]!.body.values.map((v) => v.key)).toEqual(["website", "ads", "webinar", "other"]);
    expect(puts[0]!.body.values[2]).toEqual({ key: "webinar", label_zh: "线上研讨会", label_en: "Webinar", retired: false });
  });

  it("switches to another picklist and shows only its values", async () => {
    await open();
    fireEvent.mouseDown(screen.getByRole("combobox", { name: "选项列表" }));
    fireEvent.click(await screen.findByText("行业", { selector: ".ant-select-item-option-content" }, { timeout: 10_000 }));
    await vi.waitFor(() => expect(screen.queryByTestId("picklist-row-1")).toBeNull(), { timeout: 10_000 });
    expect((within(screen.getByTestId("picklist-row-0")).getByLabelText("中文名称") as HTMLInputElement).value).toBe("零售");
    expect(screen.getByRole("switch").getAttribute("aria-checked")).toBe("false");
    save();
    await vi.waitFor(() => expect(puts).toHaveLength(1), { timeout: 10_000 });
    expect(puts[0]!.path).toBe("/api/v1/admin/picklists/industry");
    expect(puts[0]!.body).toEqual({ restricted: false, values: [{ key: "retail", label_zh: "零售", label_en: "Retail", retired: false }] });
  });
});
