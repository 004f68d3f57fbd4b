import { fireEvent, render, screen, within } from "@testing-library/react";
import { ConfigProvider } from "antd";
import { MemoryRouter } from "react-router";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// Contracts against a fake gateway: a quote that is not accepted is refused beside the quote
// field; a contract's details open from the list (read by id) and a move sends the version shown
// as If-Match; a link to a contract opens it, and one the caller may not see says so.
const json = (status: number, body: unknown, type = "application/json") =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
let contract = { id: "k1", number: "C-2026-0007", status: "draft", version: 2, total: { currency_code: "CNY", amount: "128000.00" },
  quote_id: "q1", opportunity_id: "o1", owner_id: "rep.north.1", start_date: "2027-01-01", end_date: "2027-12-31" };
const moves: { ifMatch: string | null; status: string }[] = [];

async function gateway(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === "/api/v1/contracts" && request.method === "GET") return json(200, { items: [contract], next_page_token: "" });
  if (url.pathname === "/api/v1/contracts/k1" && request.method === "GET") return json(200, contract);
  if (url.pathname === "/api/v1/contracts" && request.method === "POST") {
    return json(412, { type: "urn:shuniu:problem:failed-precondition", title: "Failed precondition", status: 412,
      detail: "a contract is made from an accepted quote", errors: [{ field: "quote_id", message: "a contract is made from an accepted quote" }] },
      "application/problem+json");
  }
  if (url.pathname === "/api/v1/contracts/k1/status") {
    const { status } = (await request.json()) as { status: string };
    moves.push({ ifMatch: request.headers.get("If-Match"), status });
    contract = { ...contract, status, version: contract.version + 1 };
    return json(200, contract);
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "no" }, "application/problem+json");
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { default: Contracts } = await import("./Contracts");

describe("Contracts", () => {
  it("places a refused quote beside its field, opens a contract and moves it with If-Match", async () => {
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en"><MemoryRouter><Contracts /></MemoryRouter></LocaleProvider></ConfigProvider>);
    fireEvent.change(screen.getByLabelText("Quote ID"), { target: { value: "q-draft" } });
    fireEvent.click(screen.getByRole("button", { name: "Create the contract" }));
    const error = await screen.findByText("a contract is made from an accepted quote", { selector: ".ant-form-item-explain-error" }, { timeout: 10_000 });
    expect(error.closest(".ant-form-item")?.textContent).toContain("Quote ID");

    fireEvent.click(await screen.findByRole("button", { name: "C-2026-0007" }, { timeout: 10_000 }));
    const detail = await screen.findByTestId("contract-detail", {}, { timeout: 10_000 });
    expect(detail.textContent).toContain("Draft");
    expect(screen.queryByRole("button", { name: "Expired" })).toBeNull(); // not a draft's next status
    fireEvent.click(screen.getByRole("button", { name: "Signed" }));
    await within(await screen.findByTestId("contract-detail")).findByText("Signed", {}, { timeout: 10_000 });
    expect(moves).toEqual([{ ifMatch: '"2"', status: "signed" }]);
    expect(await screen.findByRole("button", { name: "Active" }, { timeout: 10_000 })).toBeTruthy();
  }, 90_000);

  it("opens a contract from its link, and says when the API hides one", async () => {
    const { unmount } = render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en">
      <MemoryRouter initialEntries={["/contracts?contract=k1"]}><Contracts /></MemoryRouter></LocaleProvider></ConfigProvider>);
    const detail = await screen.findByTestId("contract-detail", {}, { timeout: 10_000 });
    expect(detail.textContent).toContain("rep.north.1");
    unmount();
    render(<ConfigProvider button={{ autoInsertSpace: false }}><LocaleProvider initial="en">
      <MemoryRouter initialEntries={["/contracts?contract=k-theirs"]}><Contracts /></MemoryRouter></LocaleProvider></ConfigProvider>);
    expect((await screen.findByRole("alert", {}, { timeout: 10_000 })).textContent).toBe("no");
    expect(screen.queryByTestId("contract-detail")).toBeNull();
  }, 90_000);
});
