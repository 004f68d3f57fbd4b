import { describe, expect, it } from "vitest";
import { previewDocument } from "./preview";

describe("previewDocument", () => {
  it("puts a policy that blocks scripts and fetches in front of the API's HTML", () => {
    const doc = previewDocument({ subject: "s", html: "<p>您好，张伟</p><script>fetch('/x')</script>" });
    expect(doc).toMatch(/<head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none';/);
    expect(doc).toContain("<body><p>您好，张伟</p>");
  });

  it("keeps a whole document's head, with the policy first in it", () => {
    const doc = previewDocument({ html: '<html><head lang="zh"><title>t</title></head><body>x</body></html>' });
    expect(doc.indexOf("Content-Security-Policy")).toBeLessThan(doc.indexOf("<title>"));
    expect(doc.match(/<head/g)).toHaveLength(1);
  });

  it("shows a text-only template as text, its markup escaped", () => {
    const doc = previewDocument({ text: "价格 <b>9折</b> & 包邮" });
    expect(doc).toContain("价格 &lt;b&gt;9折&lt;/b&gt; &amp; 包邮");
  });
});
