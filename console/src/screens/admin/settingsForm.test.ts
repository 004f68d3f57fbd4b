import { describe, expect, it } from "vitest";
import { ApiError } from "../../api/problem";
import { criteriaSide, ifMatch, pipelineFields, rowFields, withCriteriaSides, withoutEmpty } from "./settingsForm";

const pipelines = [{ id: "p", stages: [
  { key: "a" },
  { key: "b" },
  { key: "c", entry_criteria: [{ kind: "field" }, { kind: "field" }], exit_criteria: [{ kind: "nope" }] },
] }];

describe("settings editors", () => {
  it("names every row's fields so a pool rule's claim_limit error sits beside it", () => {
    expect(rowFields("pool_rules", 2, ["team", "claim_limit"])).toEqual(
      ["pool_rules.0.team", "pool_rules.0.claim_limit", "pool_rules.1.team", "pool_rules.1.claim_limit"]);
    expect(pipelineFields(pipelines)).toContain("pipelines.0.stages.2.entry_criteria");
    expect(pipelineFields(pipelines)).toContain("pipelines.0.stages.2.exit_criteria");
    expect(pipelineFields(pipelines)).not.toContain("pipelines.0.stages.3.key");
  });

  it("sends If-Match only for a saved version, even when int64 arrives as a string", () => {
    expect(ifMatch("7")).toEqual({ params: { header: { "If-Match": '"7"' } } });
    expect(ifMatch(0)).toEqual({});
    expect(ifMatch(undefined)).toEqual({});
  });

  it("turns the service's combined criteria index into the entry or exit list", () => {
    expect(criteriaSide("pipelines[0].stages[2].criteria[1].field", pipelines)).toBe("pipelines[0].stages[2].entry_criteria[1].field");
    expect(criteriaSide("pipelines[0].stages[2].criteria[2].kind", pipelines)).toBe("pipelines[0].stages[2].exit_criteria[0].kind");
    expect(criteriaSide("pipelines[0].stages[2].entry_criteria", pipelines)).toBe("pipelines[0].stages[2].entry_criteria");
    expect(criteriaSide("pool_rules[0].claim_limit", pipelines)).toBe("pool_rules[0].claim_limit");
  });

  it("rewrites a refusal's field names and keeps its status and detail", () => {
    const err = new ApiError(400, { type: "about:blank", title: "Bad", status: 400, detail: "must be one of",
                                    errors: [{ field: "pipelines[0].stages[2].criteria[2].kind", message: "must be one of" }] });
    const out = withCriteriaSides(err, pipelines) as ApiError;
    expect(out.status).toBe(400);
    expect(out.problem.detail).toBe("must be one of");
    expect(out.fieldErrors).toEqual([{ field: "pipelines[0].stages[2].exit_criteria[0].kind", message: "must be one of" }]);
    const other = new Error("network");
    expect(withCriteriaSides(other, pipelines)).toBe(other);
  });

  it("leaves an empty number out instead of sending null, and keeps zero", () => {
    expect(withoutEmpty({ team: "t", claim_limit: null, cooldown_days: 0, inactive_days: undefined }))
      .toEqual({ team: "t", cooldown_days: 0 });
  });
});
