import { describe, expect, it } from "vitest";
import { actionsFor } from "./LeadActions";
import { label, stageName } from "./labels";
import { dayWindow, quarter } from "./time";

describe("sales labels", () => {
  it("names the default stages in both languages and keeps an administrator's own names", () => {
    expect(stageName("en", { key: "solution_demo", name: "方案演示" })).toBe("Solution demo");
    expect(stageName("zh-CN", { key: "solution_demo", name: "方案演示" })).toBe("方案演示");
    expect(stageName("en", { key: "solution_demo", name: "产品试用" })).toBe("产品试用"); // renamed by an admin
    expect(stageName("en", { key: "pilot" })).toBe("pilot");
  });

  it("shows an unknown status as the API sends it", () => {
    expect(label("zh-CN", "status", "qualified")).toBe("已合格");
    expect(label("en", "status", "on_hold")).toBe("on_hold");
  });
});

describe("what a lead offers", () => {
  it("follows the lead's status; only managers assign", () => {
    expect(actionsFor({ status: "new" }, false)).toEqual(["working", "qualified", "disqualified", "nurturing"]);
    expect(actionsFor({ status: "nurturing" }, true)).toEqual(["working", "qualified", "disqualified"]);
    expect(actionsFor({ status: "qualified" }, true)).toEqual(["convert", "working", "disqualified", "nurturing", "assign"]);
    expect(actionsFor({ status: "converted" }, true)).toEqual([]);
    expect(actionsFor({ status: "disqualified" }, true)).toEqual(["working"]);
  });
});

describe("days and quarters", () => {
  it("are the reader's own", () => {
    const [from, to] = dayWindow(new Date(2026, 11, 1, 23, 59));
    expect(new Date(from).getTime()).toBe(new Date(2026, 11, 1).getTime());
    expect(new Date(to).getTime()).toBe(new Date(2026, 11, 2).getTime());
    expect(quarter(new Date(2026, 11, 1))).toEqual({ id: "2026-Q4", start: "2026-10-01", end: "2026-12-31" });
    expect(quarter(new Date(2026, 11, 1), 1)).toEqual({ id: "2027-Q1", start: "2027-01-01", end: "2027-03-31" });
    expect(quarter(new Date(2026, 0, 15), -1)).toEqual({ id: "2025-Q4", start: "2025-10-01", end: "2025-12-31" });
    expect(quarter(new Date(2028, 1, 1)).end).toBe("2028-03-31");
  });
});
