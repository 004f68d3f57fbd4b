import { describe, expect, it } from "vitest";
import { snippetParts } from "./Snippet";

describe("snippetParts", () => {
  it("marks the index's <em> spans and keeps the rest as text, markup included", () => {
    expect(snippetParts("如何<em>退款</em>：&lt;b&gt;先登录&lt;/b&gt;")).toEqual([
      { text: "如何", marked: false }, { text: "退款", marked: true }, { text: "：<b>先登录</b>", marked: false },
    ]);
    expect(snippetParts("")).toEqual([]);
  });
});
