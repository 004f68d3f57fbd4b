import { describe, expect, it } from "vitest";
import { toDashboard } from "./NewDashboard";

describe("a new dashboard as the API takes it", () => {
  it("numbers the widgets, keeps a zero limit and leaves out the empty ones", () => {
    const board = toDashboard({ name: "华北", sharing: "team", widgets: [
      { title: "SLA breaches", kind: "figure", query: { source: "tickets", measures: "sla_breached" },
        thresholds: { green: 0, amber: null, lower_is_better: true } },
      { kind: "funnel", query: { source: "opportunities", measures: "open", dimensions: "stage" } },
    ] });
    expect(board.widgets?.map((w) => w.id)).toEqual(["w1", "w2"]);
    expect(board.widgets?.[0]?.thresholds).toEqual({ green: 0, lower_is_better: true });
    expect(board.widgets?.[0]?.query).toMatchObject({ source: "tickets", measures: ["sla_breached"], dimensions: [] });
    expect(board.widgets?.[1]?.query?.dimensions).toEqual(["stage"]);
    expect(board.widgets?.[1]?.thresholds).toEqual({ lower_is_better: false });
  });
});
