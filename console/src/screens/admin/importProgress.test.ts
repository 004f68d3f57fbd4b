import { describe, expect, it } from "vitest";
import { nextPollMs, parseCsv, progressOf } from "./importProgress";

describe("import progress", () => {
  it("is queued, then reading the file, then running with a percentage", () => {
    expect(progressOf({ status: "queued" })).toMatchObject({ phase: "queued", percent: null, finished: false });
    expect(progressOf({ status: "running", rows_total: 0, rows_done: 0 })).toMatchObject({ phase: "reading", percent: null });
    expect(progressOf({ status: "running", rows_total: 3, rows_done: 2 })).toMatchObject({ phase: "running", percent: 66 });
  });

  it("finishes clean, or with rejected rows and their report, or failed", () => {
    expect(progressOf({ status: "done", rows_total: 5, rows_done: 5, accepted: 5 }))
      .toMatchObject({ phase: "done", finished: true, hasReport: false, tone: "success" });
    expect(progressOf({ status: "done", rows_total: 5, rows_done: 5, accepted: 3, rejected: 2 }))
      .toMatchObject({ phase: "doneWithRejects", finished: true, hasReport: true });
    // every row imported, one phone kept unverified: a clean finish whose report has that row
    expect(progressOf({ status: "done", rows_total: 5, rows_done: 5, accepted: 5, warnings: 1 }))
      .toMatchObject({ phase: "done", hasReport: true, tone: "success" });
    expect(progressOf({ status: "failed", rows_total: 10, rows_done: 4, error: "not a CSV" }))
      .toMatchObject({ phase: "failed", finished: true, percent: 40, tone: "exception" });
  });

  it("never shows more than 100% when the service counts past its estimate", () => {
    expect(progressOf({ status: "running", rows_total: 10, rows_done: 12 }).percent).toBe(100);
  });

  it("stops polling once finished and polls slower when the end is far off", () => {
    expect(nextPollMs({ status: "done" })).toBeNull();
    expect(nextPollMs({ status: "failed" })).toBeNull();
    const near = nextPollMs({ status: "running", rows_total: 10, rows_done: 1, eta_seconds: 5 });
    const far = nextPollMs({ status: "running", rows_total: 10, rows_done: 1, eta_seconds: 600 });
    expect(near).not.toBeNull();
    expect(far!).toBeGreaterThan(near!);
  });
});

describe("the rejected-rows report", () => {
  it("reads quoted cells with commas, quotes and newlines, after the BOM", () => {
    const text = '\ufeffrow,reasons,姓名\r\n2,"phone: not a number, email: missing","张 ""三"""\r\n3,"two\nlines",李四\r\n';
    expect(parseCsv(text)).toEqual([
      ["row", "reasons", "姓名"],
      ["2", "phone: not a number, email: missing", '张 "三"'],
      ["3", "two\nlines", "李四"],
    ]);
  });

  it("keeps a last row without a newline and empty cells", () => {
    expect(parseCsv("a,b\n1,")).toEqual([["a", "b"], ["1", ""]]);
  });
});
