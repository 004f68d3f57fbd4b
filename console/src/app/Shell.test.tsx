import { describe, expect, it } from "vitest";
import type { Area } from "./registry";
import { loadRoutes } from "./registry";
import { navEntries } from "./Shell";

const Empty = () => null;
const areas: Area[] = [
  { id: "a", label: { en: "A", "zh-CN": "甲" }, routes: [
    { path: "customers", load: async () => ({ default: Empty }), roles: ["rep", "manager"], nav: { label: { en: "Customers", "zh-CN": "客户" }, order: 20 } },
    { path: "customers/:id", load: async () => ({ default: Empty }), roles: ["rep"] },
  ] },
  { id: "b", label: { en: "B", "zh-CN": "乙" }, routes: [
    { path: "tickets", load: async () => ({ default: Empty }), roles: ["support"], nav: { label: { en: "Tickets", "zh-CN": "工单" }, order: 10 } },
    { path: "help", load: async () => ({ default: Empty }), nav: { label: { en: "Help", "zh-CN": "帮助" }, order: 30 } },
  ] },
];

describe("navigation by role", () => {
  const routes = loadRoutes(areas);
  it("shows each role its own entries, detail screens never", () => {
    expect(navEntries(routes, ["rep"]).map((r) => r.path)).toEqual(["customers", "help"]);
    expect(navEntries(routes, ["support"]).map((r) => r.path)).toEqual(["tickets", "help"]);
  });
  it("shows an admin everything, in order", () => {
    expect(navEntries(routes, ["admin"]).map((r) => r.path)).toEqual(["tickets", "customers", "help"]);
  });
});
