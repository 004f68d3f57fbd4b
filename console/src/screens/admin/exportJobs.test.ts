import { describe, expect, it } from "vitest";
import { fileNameOf, filtersFromRows, filtersOf, nextPollMs } from "./exportJobs";

const job = { id: "j1", list: "tickets", format: "csv", filters: {}, status: "running" as const, rows_written: 0, created_at: "2026-12-01T10:00:00Z", updated_at: "2026-12-01T10:00:00Z" };

describe("export jobs", () => {
  it("sends only the filters a list screen has set", () => {
    expect(filtersOf({ status: "open", priority: undefined, channel: "", q: "王", unassigned: false, min_score: 0 }))
      .toEqual({ status: "open", q: "王", min_score: 0 });
    expect(filtersOf({ unassigned: true })).toEqual({ unassigned: true });
  });

  it("reads typed filter rows, leaving out a row without a name", () => {
    expect(filtersFromRows([{ name: " tag ", value: " 重点客户 " }, { name: "", value: "x" }, { name: "level" }]))
      .toEqual({ tag: "重点客户", level: "" });
  });

  it("polls while running and stops when done or failed", () => {
    expect(nextPollMs(job)).toBe(1000);
    expect(nextPollMs({ ...job, status: "done" })).toBeNull();
    expect(nextPollMs({ ...job, status: "failed" })).toBeNull();
  });

  it("saves under the server's file name, else list-id.format", () => {
    expect(fileNameOf('attachment; filename="tickets-20261201.csv"', job)).toBe("tickets-20261201.csv");
    expect(fileNameOf("attachment; filename*=UTF-8''%E5%B7%A5%E5%8D%95.xlsx", job)).toBe("工单.xlsx");
    expect(fileNameOf(null, { ...job, format: "xlsx" })).toBe("tickets-j1.xlsx");
  });
});
