import { describe, expect, it } from "vitest";
import { canEnd, delegationState, nextStatuses } from "./operations";

const now = new Date("2026-12-01T10:00:00Z");

describe("delegation state", () => {
  it("follows the API's dates, and its revoked flag wins", () => {
    const d = { starts_at: "2026-11-30T00:00:00Z", ends_at: "2026-12-05T00:00:00Z" };
    expect(delegationState(d, now)).toBe("active");
    expect(delegationState({ ...d, starts_at: "2026-12-02T00:00:00Z" }, now)).toBe("upcoming");
    expect(delegationState({ ...d, ends_at: "2026-12-01T10:00:00Z" }, now)).toBe("over"); // ends_at is exclusive
    expect(delegationState({ ...d, revoked: true }, now)).toBe("revoked");
    expect(canEnd(d, now)).toBe(true);
    expect(canEnd({ ...d, revoked: true }, now)).toBe(false);
    expect(canEnd({ ...d, ends_at: "2026-12-01T09:00:00Z" }, now)).toBe(false);
  });
});

describe("contract moves", () => {
  it("offers the sales service's next statuses and none from a final one or an unknown one", () => {
    expect(nextStatuses("draft")).toEqual(["signed", "terminated"]);
    expect(nextStatuses("active")).toEqual(["expired", "terminated"]);
    expect(nextStatuses("terminated")).toEqual([]);
    expect(nextStatuses("archived")).toEqual([]);
  });
});
