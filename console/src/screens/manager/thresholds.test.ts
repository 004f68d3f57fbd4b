import { describe, expect, it } from "vitest";
import { statusOf, thresholdLimits, widgetStatus } from "./thresholds";

describe("the threshold colour rule", () => {
  it("colours a higher-is-better figure by the first limit it reaches", () => {
    const t = { green: 100, amber: 50 };
    expect(statusOf(100, t)).toBe("green");
    expect(statusOf(99.5, t)).toBe("amber");
    expect(statusOf(50, t)).toBe("amber");
    expect(statusOf(49, t)).toBe("red");
  });

  it("reverses for lower-is-better figures (resolution hours, breaches)", () => {
    const t = { green: 4, amber: 8, lower_is_better: true };
    expect(statusOf(4, t)).toBe("green");
    expect(statusOf(6, t)).toBe("amber");
    expect(statusOf(8.01, t)).toBe("red");
  });

  it("treats a limit of zero as a limit, and works with only one of them", () => {
    expect(statusOf(0, { green: 0, lower_is_better: true })).toBe("green");
    expect(statusOf(1, { green: 0, lower_is_better: true })).toBe("red");
    expect(statusOf(3, { amber: 1 })).toBe("amber");
    expect(statusOf(0, { amber: 1 })).toBe("red");
  });

  it("gives no colour without a figure or without thresholds", () => {
    expect(statusOf(undefined, { green: 1 })).toBeNull();
    expect(statusOf(Number.NaN, { green: 1 })).toBeNull();
    expect(statusOf(5, {})).toBeNull();
    expect(statusOf(5, undefined)).toBeNull();
  });

  it("shows the API's colour when it sent one, even where the local rule would differ", () => {
    expect(widgetStatus("amber", 1_000_000, { green: 1_000_000, amber: 1 })).toBe("amber");
    expect(widgetStatus("", 2, { green: 1 })).toBe("green");
    expect(widgetStatus("purple", 0, { green: 1 })).toBe("red");
    expect(widgetStatus(undefined, 3, undefined)).toBeNull();
  });

  it("states the limits with the direction", () => {
    const fmt = (n: number) => n.toLocaleString("en");
    expect(thresholdLimits({ green: 1_000_000, amber: 1 }, fmt)).toEqual({ green: "≥ 1,000,000", amber: "≥ 1" });
    expect(thresholdLimits({ amber: 8, lower_is_better: true }, fmt)).toEqual({ green: null, amber: "≤ 8" });
  });
});
