import { describe, expect, it } from "vitest";
import { abVariants, contactIds, exitCounts, formatP, ifMatch, ruleEvent, sequenceSteps, shareOfEach, smsContent, smsParams, verdictOf } from "./automation";

describe("what a marketer types becomes the API's body", () => {
  it("turns SMS variable rows into params, leaving blank rows out but keeping a value without a name for the API to name", () => {
    expect(smsParams([{ name: "name", value: "{{ name }}" }, { name: "", value: "" }, { name: " date ", value: "12月12日" }]))
      .toEqual({ name: "{{ name }}", date: "12月12日" });
    expect(smsParams([{ name: "", value: "orphan" }])).toEqual({ "": "orphan" });
    expect(smsContent({ template_code: "SMS_230001", params: [] })).toEqual({ template_code: "SMS_230001" });
    expect(smsContent({ template_code: "SMS_1", sign_name: "枢纽", params: [{ name: "n", value: "x" }] }))
      .toEqual({ template_code: "SMS_1", sign_name: "枢纽", params: { n: "x" } });
  });

  it("sends sequence steps in the order shown, an SMS step with its content and no template", () => {
    expect(sequenceSteps([
      { day: 0, channel: "email", template_id: "tpl-1" },
      { day: 3, channel: "sms", template_id: "left-over", sms: { template_code: "SMS_9", params: [{ name: "name", value: "{{ name }}" }] } },
      { day: null, channel: "email" },
    ])).toEqual([
      { day: 0, channel: "email", template_id: "tpl-1" },
      { day: 3, channel: "sms", sms: { template_code: "SMS_9", params: { name: "{{ name }}" } } },
      { channel: "email", template_id: "" }, // no day: the API names steps[2].day
    ]);
  });

  it("sends a rule event's URL pattern only when typed, and A/B variants without empty fields", () => {
    expect(ruleEvent(" web.visit ", "  ")).toEqual({ event_type: "web.visit" });
    expect(ruleEvent("web.visit", "https://x.example/pricing*")).toEqual({ event_type: "web.visit", url_pattern: "https://x.example/pricing*" });
    expect(abVariants([{ name: "A", subject: " 限时 8 折 " }, { name: "", subject: "", template_id: "t2" }]))
      .toEqual([{ name: "A", subject: "限时 8 折" }, { template_id: "t2" }]);
  });

  it("merges picked and pasted contact ids once each", () => {
    expect(contactIds(["c1"], "c2, c3\nc1；c4")).toEqual(["c1", "c2", "c3", "c4"]);
    expect(contactIds(undefined, "")).toEqual([]);
  });

  it("sends If-Match only for a saved version", () => {
    expect(ifMatch(3)).toEqual({ "If-Match": '"3"' });
    expect(ifMatch("12")).toEqual({ "If-Match": '"12"' });
    expect(ifMatch(0)).toEqual({});
    expect(ifMatch(undefined)).toEqual({});
  });

  it("splits the tested share evenly between the variants", () => {
    expect(shareOfEach(20, 2)).toBe(10);
    expect(shareOfEach(30, 3)).toBe(10);
    expect(shareOfEach(undefined, 4)).toBe(5);
    expect(shareOfEach(20, 0)).toBe(0);
  });
});

describe("reading the API's answers", () => {
  it("reads an A/B test's verdict from what the API decided", () => {
    expect(verdictOf({ status: "testing" })).toEqual({ kind: "pending" });
    expect(verdictOf({ status: "sending_winner", winner: "B", significant: true, decided_at: "2026-12-01T10:00:00Z" }))
      .toEqual({ kind: "winner", winner: "B", significant: true });
    expect(verdictOf({ status: "completed", winner: "A", significant: false, decided_at: "2026-12-01T10:00:00Z" }))
      .toEqual({ kind: "fallback", winner: "A" });
    expect(verdictOf({ status: "cancelled" })).toEqual({ kind: "cancelled" });
  });

  it("writes p-values the way a reader expects", () => {
    expect(formatP(0.01234, "en")).toBe("p = 0.012");
    expect(formatP(0.0002, "zh-CN")).toBe("p < 0.001");
    expect(formatP(undefined, "en")).toBe("");
  });

  it("lists the exit reasons with a count in marketing's order, unknown ones last", () => {
    expect(exitCounts({ removed: 1, zzz_new: 4, converted: "2", unsubscribed: 0 }))
      .toEqual([["converted", 2], ["removed", 1], ["zzz_new", 4]]);
    expect(exitCounts(undefined)).toEqual([]);
  });
});
