import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider, useLocale } from "../../i18n";

// Level and industry keys are shown with the admin's labels (GET /admin/picklists); the built-in
// level labels stand in before it answers; a key no picklist has is shown as it is.
let release: () => void = () => undefined;
const answered = new Promise<void>((resolve) => { release = resolve; });
async function gateway(): Promise<Response> {
  await answered;
  return new Response(JSON.stringify({ version: 5, picklists: [
    { name: "level", restricted: true, values: [{ key: "vip", label_zh: "贵宾", label_en: "VIP" }, { key: "strategic", label_zh: "战略客户", label_en: "Strategic" }] },
    { name: "industry", restricted: false, values: [{ key: "manufacturing", label_zh: "制造业", label_en: "Manufacturing" }] },
  ] }), { status: 200, headers: { "Content-Type": "application/json" } });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { usePicklist } = await import("./picklists");

function Keys() {
  const { locale } = useLocale();
  const levels = usePicklist("level");
  const industries = usePicklist("industry");
  return <p data-testid="labels">{[levels.labelOf("vip", locale), levels.labelOf("strategic", locale), industries.labelOf("manufacturing", locale)].join("|")}</p>;
}

describe("level and industry labels", () => {
  it("shows built-in level words first, then the picklists' labels", async () => {
    render(<LocaleProvider initial="zh-CN"><Keys /></LocaleProvider>);
    expect(screen.getByTestId("labels").textContent).toBe("VIP|strategic|manufacturing");
    release();
    await screen.findByText("贵宾|战略客户|制造业", {}, { timeout: 10_000 });
  });
});
