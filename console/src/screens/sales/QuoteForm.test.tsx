import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { LocaleProvider } from "../../i18n";

// The builder against a fake gateway that refuses the first line's quantity and price, naming
// them the way the sales service does ("lines[0].quantity").
const posted: unknown[] = [];
const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": status < 300 ? "application/json" : "application/problem+json" } });

async function gateway(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/api/v1/products") return json(200, { items: [{ id: "p1", sku: "crm-ent", name: "CRM 企业版", active: true }] });
  if (path === "/api/v1/price-books") return json(200, { items: [], next_page_token: "" });
  if (path === "/api/v1/opportunities") return json(200, { items: [{ id: "o1", name: "天津港 CRM 项目" }], next_page_token: "" });
  if (path === "/api/v1/quotes" && request.method === "POST") {
    posted.push(await request.json());
    return json(400, { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400,
      detail: "quantity must be positive", errors: [
        { field: "quote.lines[0].quantity", message: "quantity must be positive" },
        { field: "quote.lines[0].unit_price", message: "a line needs a unit price" },
      ] });
  }
  return json(404, { type: "about:blank", title: "Not found", status: 404, detail: "Not found" });
}

vi.mock("../../api", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../api")>();
  const { createApi } = await import("../../api/client");
  return { ...original, api: createApi({ baseUrl: "http://console.test", getToken: () => "token", fetch: gateway as typeof fetch }) };
});

const { QuoteForm, linesBody } = await import("./QuoteForm");

describe("the quote builder", () => {
  it("puts a line's errors beside that line's fields and keeps what was typed", async () => {
    const onSaved = vi.fn();
    render(<LocaleProvider initial="en"><QuoteForm opportunityId="o1" onSaved={onSaved} /></LocaleProvider>);
    fireEvent.change(screen.getByLabelText("Item name of line 1"), { target: { value: "实施服务" } });
    fireEvent.change(screen.getByLabelText("Quantity of line 1"), { target: { value: "0" } });
    fireEvent.click(screen.getByRole("button", { name: "Save draft" }));
    const quantityError = await screen.findByText("quantity must be positive", { selector: ".ant-form-item-explain-error" });
    expect(quantityError.closest(".ant-form-item")).toBe(screen.getByLabelText("Quantity of line 1").closest(".ant-form-item"));
    const priceError = screen.getByText("a line needs a unit price");
    expect(priceError.closest(".ant-form-item")).toBe(screen.getByLabelText("Unit price of line 1").closest(".ant-form-item"));
    expect((screen.getByLabelText("Item name of line 1") as HTMLInputElement).value).toBe("实施服务");
    expect(posted).toEqual([{ opportunity_id: "o1", currency_code: "CNY", lines: [{ name: "实施服务", quantity: "0" }] }]);
    expect(onSaved).not.toHaveBeenCalled();
  }, 20_000); // antd in jsdom is slow on a loaded machine

  it("sends a line's own price in the quote's currency, and leaves blanks to the API", () => {
    expect(linesBody([{ product_id: "p1", quantity: "3", discount_percent: "10", unit_price: {} }], "CNY"))
      .toEqual([{ product_id: "p1", quantity: "3", discount_percent: "10" }]);
    expect(linesBody([{ name: "培训", quantity: "2", unit_price: { amount: "800.50" } }], "USD"))
      .toEqual([{ name: "培训", quantity: "2", unit_price: { amount: "800.50", currency_code: "USD" } }]);
  });
});
