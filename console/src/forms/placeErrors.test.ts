import { describe, expect, it } from "vitest";
import { placeErrors, toNamePath } from "./placeErrors";

describe("placeErrors", () => {
  it("puts each error beside the field it names, in either path spelling", () => {
    const { placed, unplaced } = placeErrors(
      [
        { field: "subject", message: "at most 300 characters" },
        { field: "phones[0].raw", message: "not a phone number" },
        { field: "phones.1.raw", message: "not a phone number either" },
      ],
      { fields: ["subject", "phones"] },
    );
    expect(unplaced).toEqual([]);
    expect(placed).toEqual([
      { name: ["subject"], errors: ["at most 300 characters"] },
      { name: ["phones"], errors: ["not a phone number", "not a phone number either"] },
    ]);
  });

  it("strips the service's request prefix and follows aliases", () => {
    const { placed } = placeErrors(
      [
        { field: "interaction.kind", message: "must be one of call, email, meeting, note" },
        { field: "duration_seconds", message: "must not be negative" },
      ],
      { fields: ["kind", "duration_minutes"], strip: ["interaction."], aliases: { duration_seconds: "duration_minutes" } },
    );
    expect(placed.map((p) => p.name)).toEqual([["kind"], ["duration_minutes"]]);
  });

  it("keeps every error the form has no field for, never dropping one", () => {
    const errors = [
      { field: "Idempotency-Key", message: "use 1 to 200 visible ASCII characters" },
      { field: "custom_fields.键", message: "no custom field '键' is defined" },
    ];
    const { placed, unplaced } = placeErrors(errors, { fields: ["name"] });
    expect(placed).toEqual([]);
    expect(unplaced).toEqual(errors);
  });

  it("puts an error inside a list's row beside the row's field, and one about the list beside the list", () => {
    const { placed, unplaced } = placeErrors(
      [
        { field: "pipelines[0].stages[1].entry_criteria[0].kind", message: "must be one of" },
        { field: "pipelines[0].stages", message: "a pipeline needs a won stage" },
      ],
      { fields: ["pipelines.0.stages", "pipelines.0.stages.1.entry_criteria"] },
    );
    expect(unplaced).toEqual([]);
    expect(placed).toEqual([
      { name: ["pipelines", 0, "stages", 1, "entry_criteria"], errors: ["must be one of"] },
      { name: ["pipelines", 0, "stages"], errors: ["a pipeline needs a won stage"] },
    ]);
  });

  it("turns numeric parts into list indexes", () => {
    expect(toNamePath("addresses[2].city")).toEqual(["addresses", 2, "city"]);
    expect(toNamePath("custom_fields.键")).toEqual(["custom_fields", "键"]);
  });
});
