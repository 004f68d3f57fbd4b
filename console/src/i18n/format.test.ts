import { describe, expect, it } from "vitest";
import { formatDate, formatDateTime, formatMoney, formatNumber, formatRelative } from "./format";

const WHEN = "2025-03-04T10:00:00Z";

describe("locale formatting", () => {
  it("writes dates the way each language reads them", () => {
    expect(formatDate(WHEN, "zh-CN", "Asia/Shanghai")).toBe("2025年3月4日");
    expect(formatDate(WHEN, "en", "Asia/Shanghai")).toBe("Mar 4, 2025");
    expect(formatDateTime(WHEN, "zh-CN", "Asia/Shanghai")).toContain("18:00");
    expect(formatDate("not a date", "en")).toBe("");
    expect(formatDate(undefined, "en")).toBe("");
  });

  it("writes CNY and other currencies per locale", () => {
    expect(formatMoney({ currency_code: "CNY", amount: "1234567.5" }, "zh-CN")).toBe("¥1,234,567.50");
    expect(formatMoney({ currency_code: "CNY", amount: "1234567.5" }, "en")).toBe("CN¥1,234,567.50");
    expect(formatMoney({ currency_code: "USD", amount: "12.5" }, "en")).toBe("$12.50");
    expect(formatMoney({ currency_code: "EUR", amount: "-3" }, "zh-CN")).toBe("-€3.00");
    expect(formatMoney({ amount: "10" }, "zh-CN")).toBe("¥10.00"); // the API's default currency
  });

  it("never rounds an amount a double cannot hold", () => {
    expect(formatMoney({ currency_code: "CNY", amount: "123456789012345.678901" }, "en")).toBe("CNY 123456789012345.678901");
  });

  it("groups numbers and says how long ago", () => {
    expect(formatNumber(1234567, "zh-CN")).toBe("1,234,567");
    expect(formatNumber("", "en")).toBe("");
    const now = new Date("2025-03-04T10:03:00Z");
    expect(formatRelative(WHEN, "zh-CN", now)).toBe("3分钟前");
    expect(formatRelative(WHEN, "en", now)).toBe("3 minutes ago");
  });
});
