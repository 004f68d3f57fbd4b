import { render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider, useLocale } from "../../i18n";

// The source labels screens show: the built-in ones while GET /admin/picklists is on its way, then
// the admin's (a renamed label, an added value, a retired one still listed); an unknown key as is.
let release: () => void = () => undefined;
const answered = new Promise<void>((resolve) => { release = resolve; });
const calls: string[] = [];
async function gateway(request: Request): Promise<Response> {
  calls.push(new URL(request.url).pathname);
  await answered;
  return new Response(JSON.stringify({ version: 2, picklists: [{ name: "source", restricted: true, values: [
    { key: "website", label_zh: "公司官网", label_en: "Our website", built_in: true },
    { key: "ads", label_zh: "广告", label_en: "Ads", retired: true, built_in: true },
    { key: "webinar", label_zh: "线上研讨会", label_en: "Webinar" },
  ] }] }), { status: 200, headers: { "Content-Type": "application/json" } });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { usePicklist } = await import("./picklists");

function Sources() {
  const { locale } = useLocale();
  const { choices, labelOf } = usePicklist("source");
  return (
    <ul>
      {choices.map((c) => <li key={c.key}>{c.label[locale]}{c.retired ? " retired" : ""}</li>)}
      <li>{labelOf("gone_key", locale)}</li>
    </ul>
  );
}

describe("usePicklist", () => {
  it("shows the built-in labels while loading, then the admin's, read once for every screen", async () => {
    render(<LocaleProvider initial="zh-CN"><Sources /><Sources /></LocaleProvider>);
    expect(screen.getAllByText("官网")).toHaveLength(2);
    release();
    expect(await screen.findAllByText("公司官网", {}, { timeout: 10_000 })).toHaveLength(2);
    expect(screen.getAllByText("线上研讨会")).toHaveLength(2);
    expect(screen.getAllByText("广告 retired")).toHaveLength(2);
    expect(screen.queryByText("官网")).toBeNull();
    expect(screen.getAllByText("gone_key")).toHaveLength(2);
    expect(calls).toEqual(["/api/v1/admin/picklists"]);
  });
});
