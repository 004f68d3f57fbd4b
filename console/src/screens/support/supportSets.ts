// Pure helpers of the macros and staff screens: both edit one list of the support settings, which
// the API replaces whole (PUT /support/macros, PUT /support/staff) with the version read as
// If-Match. What the form holds, what is sent, and which field names a refusal may use.
import type { Schema } from "../../api";

export type Support = Schema<"SupportSettings">;
export type Macro = Schema<"Macro">;
export type StaffMember = Schema<"StaffMember">;

export const MACRO_FIELDS = ["id", "name", "body", "public", "set_status", "add_tags"] as const;
export const STAFF_FIELDS = ["user_id", "name", "email", "language"] as const;
export const STAFF_LANGUAGES = ["zh-CN", "en"] as const satisfies readonly Exclude<NonNullable<StaffMember["language"]>, "">[];

/** The API field names of every row sent ("macros.2.name"), and the list itself. */
export function setFields(list: string, rows: number, columns: readonly string[]): string[] {
  return [list, ...Array.from({ length: rows }, (_, i) => columns.map((c) => `${list}.${i}.${c}`)).flat()];
}

const text = (v: unknown): string => (typeof v === "string" ? v.trim() : "");

/** Rows as the form edits them: every field present (a Switch needs a boolean). */
export function macroRows(s: Support): Macro[] {
  return (s.macros ?? []).map((m) => ({
    id: m.id ?? "", name: m.name ?? "", body: m.body ?? "", public: Boolean(m.public),
    set_status: m.set_status ?? "", add_tags: [...(m.add_tags ?? [])],
  }));
}

/** The PUT body: texts trimmed (the body keeps its inner lines), tags trimmed, blanks and repeats dropped. */
export function macroBody(rows: readonly Macro[]): Schema<"MacrosInput"> {
  return {
    macros: rows.map((m) => ({
      id: text(m.id), name: text(m.name), body: typeof m.body === "string" ? m.body.replace(/^\s+|\s+$/g, "") : "",
      public: Boolean(m.public), set_status: text(m.set_status),
      add_tags: [...new Set((m.add_tags ?? []).map(text).filter((x) => x !== ""))],
    })),
  };
}

export function staffRows(s: Support): StaffMember[] {
  return (s.staff ?? []).map((p) => ({ user_id: p.user_id ?? "", name: p.name ?? "", email: p.email ?? "", language: p.language ?? "" }));
}

export function staffBody(rows: readonly StaffMember[]): Schema<"StaffInput"> {
  return {
    staff: rows.map((p) => ({
      user_id: text(p.user_id), name: text(p.name), email: text(p.email), language: p.language ?? "",
    })),
  };
}

/** A new macro's id: short, unique enough for one settings document, editable before the first save. */
export function newMacroId(taken: readonly string[], random: () => string = () => crypto.randomUUID().slice(0, 8)): string {
  for (;;) {
    const id = `macro-${random()}`;
    if (!taken.includes(id)) return id;
  }
}
