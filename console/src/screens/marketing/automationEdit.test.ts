import { describe, expect, it } from "vitest";
import { newSiteKey, rulePatch, ruleValues, sequencePatch, siteAliases, siteBodies, stepRows } from "./automation";

describe("editing what was saved", () => {
  it("reads a saved sequence's steps back into rows and sends them unchanged, but only while a draft", () => {
    const steps = [{ day: 0, channel: "email", template_id: "t1" }, { day: 3, channel: "sms", sms: { template_code: "SMS_9", sign_name: "枢纽", params: { name: "{{ name }}" } } }];
    const rows = stepRows(steps);
    expect(rows[1]).toEqual({ day: 3, channel: "sms", sms: { template_code: "SMS_9", sign_name: "枢纽", params: [{ name: "name", value: "{{ name }}" }] } });
    expect(sequencePatch({ name: "n", steps: rows, purpose: "marketing_sms" }, "draft"))
      .toEqual({ name: "n", description: "", enroll_nurturing: false, purpose: "marketing_sms", steps });
    expect(sequencePatch({ name: "n", steps: rows, purpose: "marketing_sms" }, "active")).toEqual({ name: "n", description: "", enroll_nurturing: false });
  });

  it("sends an edited rule's chosen action and empties the other one", () => {
    const saved = { id: "r1", name: "看过价格页", trigger: { event_type: "web.visit" }, count: 2, within_days: 3, template_id: "t1", sequence_id: "" };
    const v = ruleValues(saved);
    expect(v.action).toBe("template");
    expect(rulePatch({ ...v, action: "sequence", sequence_id: "s1" })).toMatchObject({ template_id: "", sequence_id: "s1", count: 2, within_days: 3, unless: [] });
    expect(rulePatch(v)).toMatchObject({ template_id: "t1", sequence_id: "", trigger: { event_type: "web.visit" } });
  });

  it("trims tracked sites, points a refused domain at its site's domains, and makes keys the API accepts", () => {
    expect(siteBodies([{ key: " k1234567 ", name: " 官网 ", domains: [" shop.example.cn ", ""] }, undefined]))
      .toEqual([{ key: "k1234567", name: "官网", domains: ["shop.example.cn"] }, { key: "", name: "", domains: [] }]);
    expect(siteAliases([{ domains: ["a"] }, { domains: ["b", "c"] }])).toEqual({
      "sites.0.domains.0": "sites.0.domains", "sites.1.domains.0": "sites.1.domains", "sites.1.domains.1": "sites.1.domains" });
    const key = newSiteKey();
    expect(key).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(newSiteKey()).not.toBe(key);
    expect(newSiteKey((b) => b.fill(0))).toBe("a".repeat(24));
  });
});
