import { describe, expect, it } from "vitest";
import { macroBody, macroRows, newMacroId, setFields, staffBody } from "./supportSets";

describe("support sets", () => {
  it("names every row field a refusal may point at, and the list itself", () => {
    expect(setFields("staff", 2, ["user_id", "email"])).toEqual(["staff", "staff.0.user_id", "staff.0.email", "staff.1.user_id", "staff.1.email"]);
  });

  it("sends every macro in order, trimmed, with blank and repeated tags dropped", () => {
    const rows = macroRows({ macros: [{ id: "m1", name: "退款", body: "您好", add_tags: ["a"] }, { id: "m2" }] });
    expect(rows[1]).toEqual({ id: "m2", name: "", body: "", public: false, set_status: "", add_tags: [] });
    rows[0]!.name = "  退款说明 ";
    rows[0]!.body = "\n第一行\n  第二行\n\n";
    rows[0]!.add_tags = [" 退款 ", "", "退款", "vip"];
    expect(macroBody(rows).macros).toEqual([
      { id: "m1", name: "退款说明", body: "第一行\n  第二行", public: false, set_status: "", add_tags: ["退款", "vip"] },
      { id: "m2", name: "", body: "", public: false, set_status: "", add_tags: [] },
    ]);
  });

  it("keeps an empty staff language (not set) and trims the rest", () => {
    expect(staffBody([{ user_id: " agent.support ", name: "王芳", email: " wf@example.com ", language: "" }]).staff)
      .toEqual([{ user_id: "agent.support", name: "王芳", email: "wf@example.com", language: "" }]);
  });

  it("gives a new macro an id no other row has", () => {
    const ids = ["aaaa", "bbbb"];
    expect(newMacroId(["macro-aaaa"], () => ids.shift() ?? "x")).toBe("macro-bbbb");
  });
});
