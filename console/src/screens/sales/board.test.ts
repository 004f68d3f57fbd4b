import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/problem";
import {
  emptyBoard, findCard, moveAccepted, moveRefused, planMove, startMove, withPage, type Opportunity, type Stage,
} from "./board";

const STAGES: Stage[] = [
  { key: "first_contact", name: "初步接触", outcome: "open" },
  { key: "solution_demo", name: "方案演示", outcome: "open" },
  { key: "closed_won", name: "签约成交", outcome: "won" },
  { key: "closed_lost", name: "输单", outcome: "lost" },
];
const deal = (id: string, stage: string, extra: Partial<Opportunity> = {}): Opportunity =>
  ({ id, name: `deal ${id}`, stage, status: "open", version: 3, ...extra });

function board() {
  let b = emptyBoard(STAGES);
  b = withPage(b, "first_contact", [deal("a", "first_contact"), deal("b", "first_contact")], "", false);
  b = withPage(b, "closed_won", [deal("w", "closed_won", { status: "won" })], "", false);
  return b;
}

const gate = new ApiError(400, {
  type: "urn:shuniu:problem:failed-precondition", title: "Failed precondition", status: 400,
  detail: "cannot move to 方案演示 (solution_demo): missing budget: a demo needs a stated budget",
  errors: [{ field: "budget", message: "cannot move to 方案演示 (solution_demo): missing budget: a demo needs a stated budget" }],
});

describe("the board's move rule", () => {
  it("asks the API only for a real move of an open deal", () => {
    const b = board();
    expect(planMove(b, STAGES, "a", "first_contact").kind).toBe("ignore"); // same column
    expect(planMove(b, STAGES, "a", "nowhere").kind).toBe("ignore");
    expect(planMove(b, STAGES, "w", "first_contact").kind).toBe("ignore"); // a won deal stays won
    expect(planMove(b, STAGES, "a", "solution_demo")).toMatchObject({ kind: "ask", from: "first_contact", to: "solution_demo" });
    expect(planMove(b, STAGES, "a", "closed_lost").kind).toBe("ask_loss_reason");
    expect(planMove(startMove(b, "b"), STAGES, "a", "solution_demo").kind).toBe("ignore"); // one move at a time
  });

  it("leaves the card where it was when the gate refuses, with the API's words", () => {
    const before = startMove(board(), "a");
    const after = moveRefused(before, deal("a", "first_contact"), "solution_demo", gate);
    expect(after.columns).toEqual(before.columns);
    expect(findCard(after, "a")?.stage).toBe("first_contact");
    expect(after.moving).toBeNull();
    expect(after.refusal).toEqual({
      opportunityId: "a", opportunityName: "deal a", to: "solution_demo", status: 400,
      detail: "cannot move to 方案演示 (solution_demo): missing budget: a demo needs a stated budget",
      errors: gate.fieldErrors,
    });
  });

  it("moves the card to the stage the API answered, once, at the top", () => {
    let b = withPage(board(), "solution_demo", [deal("c", "solution_demo")], "", false);
    b = moveAccepted(startMove(b, "a"), deal("a", "solution_demo", { version: 4, probability: 40 }));
    expect(b.columns.first_contact!.map((o) => o.id)).toEqual(["b"]);
    expect(b.columns.solution_demo!.map((o) => o.id)).toEqual(["a", "c"]);
    expect(findCard(b, "a")?.card.version).toBe(4);
    expect(b.refusal).toBeNull();
  });

  it("appends a column's next page without doubling a card", () => {
    let b = withPage(board(), "first_contact", [deal("b", "first_contact"), deal("d", "first_contact")], "t3", true);
    expect(b.columns.first_contact!.map((o) => o.id)).toEqual(["a", "b", "d"]);
    expect(b.next.first_contact).toBe("t3");
    b = withPage(b, "first_contact", [deal("z", "first_contact")], "", false);
    expect(b.columns.first_contact!.map((o) => o.id)).toEqual(["z"]);
  });
});
