import { describe, expect, it } from "vitest";
import { formatMeasure, rowCurrency } from "./cells";

describe("report cells", () => {
  const columns = [
    { name: "owner", kind: "dimension" }, { name: "currency", kind: "dimension" },
    { name: "won_amount", kind: "measure", unit: "amount" },
  ];

  it("shows an amount in its row's currency", () => {
    const row = { keys: ["rep.north.1", "USD"], values: [1234.5] };
    expect(rowCurrency(columns, row)).toBe("USD");
    expect(formatMeasure(1234.5, "amount", "en", "USD")).toBe("$1,234.50");
    expect(formatMeasure(1234.5, "amount", "zh-CN", "CNY")).toBe("¥1,234.50");
  });

  it("shows ratios and percents as percentages, and null as a dash", () => {
    expect(formatMeasure(0.4567, "ratio", "en")).toBe("45.7%");
    expect(formatMeasure(35, "percent", "en")).toBe("35%");
    expect(formatMeasure(null, "ratio", "en")).toBe("—");
    expect(formatMeasure(12000, "count", "zh-CN")).toBe("12,000");
  });
});

describe("report column labels", () => {
  it("says the known ones in Chinese and keeps the API's label for the rest", async () => {
    const { columnLabel } = await import("./columnLabels");
    expect(columnLabel({ name: "won_amount", label: "Won amount" }, "zh-CN")).toBe("赢单金额");
    expect(columnLabel({ name: "won_amount", label: "Won amount" }, "en")).toBe("Won amount");
    expect(columnLabel({ name: "period", label: "closed (month)" }, "zh-CN")).toBe("closed (month)");
    expect(columnLabel({ name: "new_measure" }, "zh-CN")).toBe("new_measure");
  });
});
