// Where each of a problem's field errors goes: beside the form field it names, or — when the
// form has no such field — into the list shown above the form. Nothing the API said is dropped.
import type { FieldProblem } from "../api/problem";

export type NamePath = (string | number)[];

export interface PlaceOptions {
  /** The fields this form shows, as the API names them ("kind", "phones.0.raw"). */
  fields: readonly string[];
  /** API field → form field, where the form names it differently. */
  aliases?: Readonly<Record<string, string>>;
  /** Prefixes the API may put before a body field ("interaction." from the service's request). */
  strip?: readonly string[];
}

/** "phones[0].raw" and "phones.0.raw" → ["phones", 0, "raw"]. */
export function toNamePath(field: string): NamePath {
  return field
    .replace(/\[(\d+)\]/g, ".$1")
    .split(".")
    .filter((part) => part !== "")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function normalise(field: string, options: PlaceOptions): string {
  let name = field.replace(/\[(\d+)\]/g, ".$1");
  for (const prefix of options.strip ?? []) {
    if (name.startsWith(prefix)) {
      name = name.slice(prefix.length);
      break;
    }
  }
  return options.aliases?.[name] ?? name;
}

export interface Placement {
  placed: { name: NamePath; errors: string[] }[];
  unplaced: FieldProblem[];
}

export function placeErrors(errors: readonly FieldProblem[], options: PlaceOptions): Placement {
  const known = new Set(options.fields.map((f) => f.replace(/\[(\d+)\]/g, ".$1")));
  const byField = new Map<string, string[]>();
  const unplaced: FieldProblem[] = [];
  for (const error of errors) {
    const name = normalise(error.field, options);
    // A field inside a known one ("phones.0.raw" in a form showing "phones") goes to that field;
    // inside several (a list and one of its rows), to the innermost.
    const target = known.has(name) ? name
      : [...known].filter((k) => name.startsWith(k + ".")).sort((a, b) => b.length - a.length)[0];
    if (target === undefined) {
      unplaced.push(error);
      continue;
    }
    byField.set(target, [...(byField.get(target) ?? []), error.message]);
  }
  return {
    placed: [...byField].map(([name, messages]) => ({ name: toNamePath(name), errors: messages })),
    unplaced,
  };
}
