import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The dashboards list pages with the API's cursor: the first page, then the one its
// next_page_token names, and back.
const tokens: (string | null)[] = [];
const json = (body: unknown) => new Response(JSON.stringify(body), { status: 200, headers: { "Content-Type": "application/json" } });
const board = (id: string, name: string) => ({ id, name, sharing: "team", owner_id: "manager.north", widgets: [] });

async function gateway(request: Request): Promise<Response> {
  const token = new URL(request.url).searchParams.get("page_token");
  tokens.push(token);
  return token === "next-1"
    ? json({ items: [board("d3", "季度目标")], next_page_token: "" })
    : json({ items: [board("d1", "Alpha"), board("d2", "销售漏斗")], next_page_token: "next-1" });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Dashboards } = await import("./Dashboards");

describe("Dashboards", () => {
  it("pages by cursor", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><Dashboards /></MemoryRouter></LocaleProvider>);
    await screen.findByText("销售漏斗", {}, { timeout: 10_000 });
    expect(tokens).toEqual([null]);
    fireEvent.click(screen.getByRole("button", { name: "下一页" }));
    await screen.findByText("季度目标", {}, { timeout: 10_000 });
    expect(screen.queryByText("销售漏斗")).toBeNull();
    expect(tokens.at(-1)).toBe("next-1");
    expect((screen.getByRole("button", { name: "下一页" }) as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByRole("button", { name: "上一页" }));
    await screen.findByText("销售漏斗", {}, { timeout: 10_000 });
  });
});
