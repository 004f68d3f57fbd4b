import { fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";
import { fakeFetch, json, problem, type Call } from "./fakeGateway";

// Automation settings against a fake gateway. Scoring: the values read are shown, a save sends
// every key shown with the version read, a refused threshold lands beside it. Tracked sites: the saved site's key is shown and cannot be retyped, a new
// site gets a generated key, the whole list is saved with the version read, a refused domain
// lands on that site's domains, and a 409 offers a reload.
const calls: Call[] = [];
const SHOP = { key: "shop-site-key-01", name: "官网商城", domains: ["shop.example.cn"] };
let doc: Record<string, unknown> = {};
let answer: "check" | "conflict" = "check";
const BAD_DOMAIN = "a domain is a host name like example.cn";
const POSITIVE = "the threshold is a positive score";
const SCORING = { weights: { open: 1, click: 3, visit: 2, form: 10 }, half_life_days: 30, mql_threshold: 50, mql_enabled: true,
  ab_significance: 0.05, form_limit_per_address: 20, form_limit_per_email: 5, form_min_seconds: 2, visit_limit_per_visitor: 60 };

const gateway = fakeFetch(calls, (call) => {
  if (call.path !== "/api/v1/automation-settings") return undefined;
  if (call.method === "GET") return json(200, doc);
  if (answer === "conflict") {
    doc = { ...doc, version: 8, sites: [SHOP, { key: "blog-site-key-02", name: "博客", domains: ["blog.example.cn"] }] };
    return problem(409, "the settings changed since version 7");
  }
  const scoring = call.body as { sites?: unknown; mql_threshold?: number };
  if (!scoring.sites) {
    if ((scoring.mql_threshold ?? 0) <= 0) return problem(400, POSITIVE, [{ field: "settings.mql_threshold", message: POSITIVE }]);
    doc = { ...doc, ...scoring, version: Number(doc.version) + 1 };
    return json(200, doc);
  }
  const sites = (call.body as { sites: { domains: string[] }[] }).sites;
  const bad = sites.findIndex((s) => s.domains.some((d) => d.includes("/")));
  if (bad >= 0) return problem(400, BAD_DOMAIN, [{ field: `settings.sites[${bad}].domains[0]`, message: BAD_DOMAIN }]);
  doc = { ...doc, sites, version: Number(doc.version) + 1 };
  return json(200, doc);
});

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway }) };
});

const { default: AutomationSettings } = await import("./AutomationSettings");

function addDomain(input: HTMLElement, domain: string) {
  fireEvent.change(input, { target: { value: domain } });
  fireEvent.keyDown(input, { key: "Enter", code: "Enter", keyCode: 13 });
}

describe("tracked sites", () => {
  beforeEach(() => {
    calls.length = 0;
    answer = "check";
    doc = { version: 7, updated_at: "2026-11-30T08:00:00Z", ...SCORING, sites: [SHOP] };
  });

  it("adds a site with a generated key; a refused domain shows on that site; the save carries If-Match", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><AutomationSettings /></MemoryRouter></LocaleProvider>);
    const form = await screen.findByTestId("tracked-sites", {}, { timeout: 10_000 });
    const saved = within(form).getByLabelText("Site 1: Site key") as HTMLInputElement;
    expect(saved.value).toBe("shop-site-key-01");
    expect(saved.disabled).toBe(true);

    fireEvent.click(within(form).getByRole("button", { name: "Add a site" }));
    const site2 = await within(form).findByTestId("site-1", {}, { timeout: 10_000 });
    const key = (within(site2).getByLabelText("Site 2: Site key") as HTMLInputElement).value;
    expect(key).toMatch(/^[A-Za-z0-9]{24}$/);
    fireEvent.change(within(site2).getByLabelText("Site 2: Site name"), { target: { value: "活动页" } });
    addDomain(within(site2).getByLabelText("Site 2: Domains"), "event.example.cn/spring");
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const beside = await within(site2).findByText(BAD_DOMAIN, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Domains");
    expect(within(screen.getByTestId("site-0")).queryByText(BAD_DOMAIN)).toBeNull();

    const tag = within(site2).getByText("event.example.cn/spring").closest(".ant-select-selection-item") as HTMLElement;
    fireEvent.click(tag.querySelector(".ant-select-selection-item-remove") as HTMLElement);
    await waitFor(() => expect(within(site2).queryByText("event.example.cn/spring")).toBeNull(), { timeout: 10_000 });
    addDomain(within(site2).getByLabelText("Site 2: Domains"), "event.example.cn");
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    await screen.findByText("Settings saved.", {}, { timeout: 10_000 });
    const patches = calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.ifMatch)).toEqual(['"7"', '"7"']);
    expect(patches[1]?.body).toEqual({ sites: [SHOP, { key, name: "活动页", domains: ["event.example.cn"] }] });
    await waitFor(() => expect((within(form).getByLabelText("Site 2: Site key") as HTMLInputElement).disabled).toBe(true), { timeout: 10_000 });
  }, 60_000);

  it("saves scoring with every key shown and If-Match; a refused threshold shows beside it", async () => {
    render(<LocaleProvider initial="en"><MemoryRouter><AutomationSettings /></MemoryRouter></LocaleProvider>);
    const form = await screen.findByTestId("scoring", {}, { timeout: 10_000 });
    expect((within(form).getByLabelText("Link clicked") as HTMLInputElement).value).toBe("3");
    expect((within(form).getByLabelText("Hand marketing-qualified leads to sales") as HTMLInputElement).checked).toBe(true);
    fireEvent.change(within(form).getByLabelText("Marketing-qualified at this score"), { target: { value: "0" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    const beside = await within(form).findByText(POSITIVE, {}, { timeout: 10_000 });
    expect(beside.closest(".ant-form-item")?.textContent).toContain("Marketing-qualified at this score");

    fireEvent.change(within(form).getByLabelText("Marketing-qualified at this score"), { target: { value: "65" } });
    fireEvent.change(within(form).getByLabelText("Link clicked"), { target: { value: "5" } });
    fireEvent.click(within(form).getByRole("button", { name: "Save" }));
    await screen.findByText("Settings saved.", {}, { timeout: 10_000 });
    const patches = calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => c.ifMatch)).toEqual(['"7"', '"7"']);
    expect(patches[1]?.body).toEqual({ ...SCORING, weights: { ...SCORING.weights, click: 5 }, mql_threshold: 65 });
    await waitFor(() => expect(screen.getByText(/Version 8/)).toBeTruthy(), { timeout: 10_000 });
  }, 60_000);

  it("after someone else saved, offers a reload that shows their sites", async () => {
    render(<LocaleProvider initial="zh-CN"><MemoryRouter><AutomationSettings /></MemoryRouter></LocaleProvider>);
    const form = await screen.findByTestId("tracked-sites", {}, { timeout: 10_000 });
    answer = "conflict";
    fireEvent.click(within(form).getByRole("button", { name: /保\s*存/ }));
    const stale = await within(form).findByText(/在此期间已有人保存了它/, {}, { timeout: 10_000 });
    fireEvent.click(within(stale.closest("[role=alert]") as HTMLElement).getByRole("button", { name: /重新加载/ }));
    await waitFor(() => expect((within(form).getByLabelText("站点 2: 站点名称") as HTMLInputElement).value).toBe("博客"), { timeout: 10_000 });
    expect(within(form).queryByText(/在此期间已有人保存了它/)).toBeNull();
  }, 60_000);
});
