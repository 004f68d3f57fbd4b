import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Schema } from "../../api";
import { LocaleProvider, type Locale } from "../../i18n";
import { Totals } from "./Quote";
import { formatDecimal, fractionAsPercent, lineRows, totalRows } from "./quoteView";

// Figures as the API sends them; the lines deliberately do not add up to the subtotal, so a
// console that recomputed would show something else.
const QUOTE: Schema<"Quote"> = {
  id: "q1", number: "Q-2026-000007", version: 2, currency_code: "CNY", discount_percent: "5", tax_rate: "0.13",
  lines: [{ name: "CRM 企业版", quantity: "3", unit_price: { amount: "19999.99" }, discount_percent: "10",
    gross: { amount: "59999.97", currency_code: "CNY" }, discount: { amount: "6000.00", currency_code: "CNY" },
    net: { amount: "53999.97", currency_code: "CNY" } }],
  subtotal: { amount: "53999.97", currency_code: "CNY" },
  discount_total: { amount: "8700.00", currency_code: "CNY" },
  tax_total: { amount: "6534.00", currency_code: "CNY" },
  total: { amount: "57834.00", currency_code: "CNY" },
  effective_discount_percent: "14.5",
};

function show(locale: Locale) {
  return render(<LocaleProvider initial={locale}><Totals quote={QUOTE} /></LocaleProvider>);
}

describe("quote totals", () => {
  it("shows the API's totals, formatted for the reader, never recomputed", () => {
    show("en");
    expect(screen.getByTestId("total-subtotal").textContent).toBe("CN¥53,999.97");
    expect(screen.getByTestId("total-discount_total").textContent).toBe("CN¥8,700.00");
    expect(screen.getByTestId("total-tax_total").textContent).toBe("CN¥6,534.00");
    expect(screen.getByTestId("total-total").textContent).toBe("CN¥57,834.00");
    expect(screen.getByText("Tax (13%)")).toBeTruthy();
    expect(screen.getByText("14.5%")).toBeTruthy();
  });

  it("speaks Chinese in zh-CN", () => {
    show("zh-CN");
    expect(screen.getByTestId("total-total").textContent).toBe("¥57,834.00");
    expect(screen.getByText("合计")).toBeTruthy();
    expect(screen.getByText("税额 (13%)")).toBeTruthy();
  });

  it("keeps an empty total empty instead of inventing a zero", () => {
    const rows = totalRows({ ...QUOTE, tax_total: undefined }, "en");
    expect(rows.find((r) => r.key === "tax_total")?.text).toBe("");
  });

  it("shows each line's figures from the API", () => {
    expect(lineRows(QUOTE, "en")).toEqual([{
      index: 0, name: "CRM 企业版", quantity: "3", unitPrice: "CN¥19,999.99", discountPercent: "10%",
      gross: "CN¥59,999.97", discount: "CN¥6,000.00", net: "CN¥53,999.97",
    }]);
  });

  it("writes decimals and rates exactly", () => {
    expect(fractionAsPercent("0.13")).toBe("13%");
    expect(fractionAsPercent("0.075")).toBe("7.5%");
    expect(fractionAsPercent("1")).toBe("100%");
    expect(fractionAsPercent("abc")).toBe("abc");
    expect(formatDecimal("1234.5", "en")).toBe("1,234.5");
    expect(formatDecimal("-0.25", "zh-CN")).toBe("-0.25");
    expect(formatDecimal("12345678901234.123456", "en")).toBe("12,345,678,901,234.123456");
  });
});
