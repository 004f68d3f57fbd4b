import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { ConfigProvider } from "antd";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// Macros against a fake gateway: the whole list goes back in one PUT with the version read as
// If-Match; a refusal naming a row's field shows beside that row's input; a 409 offers a reload.
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
let doc = { version: 3, macros: [{ id: "refund", name: "退款说明", body: "您好，退款将在 3 个工作日内到账。", public: true, set_status: "pending", add_tags: ["退款"] }] };
const puts: { ifMatch: string | null; body: { macros: { id: string; name: string }[] } }[] = [];
let answer409 = false;

async function gateway(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path !== "/api/v1/support/macros") return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "no" }, "application/problem+json");
  if (request.method === "GET") return json(200, doc);
  const body = (await request.json()) as { macros: { id: string; name: string }[] };
  puts.push({ ifMatch: request.headers.get("If-Match"), body });
  if (answer409) return json(409, { type: "urn:shuniu:problem:conflict", title: "Conflict", status: 409, detail: "version 4 is current" }, "application/problem+json");
  const ids = body.macros.map((m) => m.id);
  const dup = ids.findIndex((id, i) => ids.indexOf(id) !== i);
  if (dup >= 0) {
    return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400, detail: "every macro needs a unique id",
      errors: [{ field: `macros[${dup}].id`, message: "every macro needs a unique id" }] }, "application/problem+json");
  }
  doc = { ...doc, version: doc.version + 1, macros: body.macros as typeof doc.macros };
  return json(200, doc);
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Macros } = await import("./Macros");

describe("Macros", () => {
  it("puts the whole list back, shows a refusal beside the row it names, then a conflict's reload", async () => {
    // as the app sets it: "保存", not antd's "保 存"
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="zh-CN"><MemoryRouter><Macros /></MemoryRouter></LocaleProvider></ConfigProvider>);
    const first = await screen.findByTestId("macros-row-0", {}, { timeout: 10_000 });
    expect((within(first).getByLabelText("名称") as HTMLInputElement).value).toBe("退款说明");
    expect((within(first).getByLabelText("ID") as HTMLInputElement).disabled).toBe(true); // tickets apply it by id

    fireEvent.click(screen.getByRole("button", { name: "添加快捷回复" }));
    const second = await screen.findByTestId("macros-row-1", {}, { timeout: 10_000 });
    fireEvent.change(within(second).getByLabelText("ID"), { target: { value: "refund" } });
    fireEvent.change(within(second).getByLabelText("名称"), { target: { value: "催办" } });
    fireEvent.click(screen.getByRole("button", { name: "保存" }));
    const error = await within(second).findByText("every macro needs a unique id", {}, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("ID");
    expect(within(first).queryByText("every macro needs a unique id")).toBeNull();
    expect(puts[0]!.ifMatch).toBe('"3"');
    expect(puts[0]!.body.macros.map((m) => m.name)).toEqual(["退款说明", "催办"]);

    fireEvent.change(within(second).getByLabelText("ID"), { target: { value: "chase" } });
    fireEvent.click(screen.getByRole("button", { name: "保存" }));
    await screen.findByText("版本 4", { exact: false }, { timeout: 10_000 });
    await waitFor(() => expect(within(second).queryByText("every macro needs a unique id")).toBeNull());
    expect(doc.macros.map((m) => m.id)).toEqual(["refund", "chase"]);

    answer409 = true;
    fireEvent.click(screen.getByRole("button", { name: "保存" }));
    await screen.findByRole("button", { name: "重新加载" }, { timeout: 10_000 });
    expect(puts.at(-1)!.ifMatch).toBe('"4"');
  }, 90_000); // several antd renders on a loaded two-core machine
});
