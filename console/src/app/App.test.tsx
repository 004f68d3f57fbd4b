// The console as a rep meets it, against a fake gateway: the dev picker lists the demo users, a
// pick signs in (the gateway's token), the rep lands on their customers, the nav shows their
// screens only and speaks the chosen language.
import { fireEvent, render, screen, within } from "@testing-library/react";
import { beforeAll, describe, expect, it, vi } from "vitest";

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s))).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
const TOKEN = `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify({ sub: "rep.north.1", name: "张伟 Zhang Wei", roles: ["rep"], region: "north", exp: 4102444800 }))}.sig`;
const seen: string[] = [];

function answer(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

async function gateway(input: Request) {
  const url = new URL(input.url);
  seen.push(`${input.method} ${url.pathname} ${input.headers.get("Authorization") ?? ""}`);
  switch (`${input.method} ${url.pathname}`) {
    case "GET /api/v1/dev/users":
      return answer({ items: [
        { user_id: "rep.north.1", name: "张伟 Zhang Wei", roles: ["rep"], team: "north-sales", region: "north" },
        { user_id: "admin", name: "系统管理员 Admin", roles: ["admin"], team: "hq", region: "" },
      ] });
    case "POST /api/v1/dev/sign-in":
      return answer({ access_token: TOKEN, token_type: "Bearer", expires_in: 43200,
        user: { user_id: "rep.north.1", name: "张伟 Zhang Wei", roles: ["rep"], team: "north-sales", region: "north" } });
    case "GET /api/v1/segments":
      return answer({ items: [], next_page_token: "" });
    case "GET /api/v1/contacts":
      return answer({ items: [{ id: "c1", name: "王强", company_name: "北京小米科技有限责任公司", level: "vip", tags: ["高意向"] }], next_page_token: "" });
    default:
      return answer({ type: "x", title: "Not found", status: 404, detail: "no such route" }, 404);
  }
}

beforeAll(() => {
  vi.stubGlobal("fetch", vi.fn(gateway));
  localStorage.setItem("shuniu.locale", "zh-CN");
});

describe("the console", () => {
  it("signs a rep in through the picker and opens their customers", async () => {
    const { App } = await import("./App");
    render(<App config={{ sign_in: "dev" }} />);
    const pick = await screen.findByRole("button", { name: "张伟 Zhang Wei (rep.north.1)" }, { timeout: 10_000 });
    fireEvent.click(pick);
    expect(await screen.findByRole("heading", { name: "我的客户" }, { timeout: 10_000 })).toBeTruthy();
    expect(await screen.findByRole("link", { name: "王强" }, { timeout: 10_000 })).toBeTruthy();
    expect(screen.getByTestId("current-user").textContent).toBe("张伟 Zhang Wei");
    const nav = within(screen.getByRole("navigation"));
    expect(nav.getByText("我的客户")).toBeTruthy();
    // the API got the token the gateway minted
    expect(seen).toContain(`GET /api/v1/contacts Bearer ${TOKEN}`);
    expect(sessionStorage.getItem("shuniu.token")).toBe(TOKEN);
  }, 40_000);
});
