// The picklists' labels for screens that show or filter by a picklist key (customer filters, leads):
// read once from GET /api/v1/admin/picklists (anyone signed in may), shared by every screen; the
// built-in labels (options.ts) stand in while it loads, or if it is refused.
import { useEffect, useMemo, useState } from "react";
import { api, unwrap, type Schema } from "../../api";
import type { Label, Locale } from "../../i18n";
import { LEVEL_LABELS, SOURCES } from "./options";

export interface PicklistChoice { key: string; label: Label; retired: boolean }
export type PicklistName = "source" | "industry" | "level" | "lifecycle_stage";

const BUILT_IN: Partial<Record<PicklistName, PicklistChoice[]>> = {
  source: Object.entries(SOURCES).map(([key, label]) => ({ key, label, retired: false })),
  level: Object.entries(LEVEL_LABELS).map(([key, label]) => ({ key, label, retired: false })),
};

let loading: Promise<Schema<"Picklists">> | null = null;

/** Forget the read answer (after an admin saves a picklist, and between tests). */
export function forgetPicklists(): void { loading = null; }

function read(): Promise<Schema<"Picklists">> {
  loading ??= unwrap(api.GET("/api/v1/admin/picklists")).catch((err: unknown) => {
    loading = null; // a later screen asks again
    throw err;
  });
  return loading;
}

export function choicesFrom(doc: Schema<"Picklists"> | null | undefined, name: PicklistName): PicklistChoice[] | null {
  const list = doc?.picklists?.find((p) => p.name === name);
  if (!list?.values?.length) return null;
  return list.values.map((v) => ({
    key: v.key ?? "", retired: Boolean(v.retired),
    label: { en: v.label_en || v.key || "", "zh-CN": v.label_zh || v.label_en || v.key || "" },
  }));
}

/** The values of one picklist in display order (retired ones too: records keep them, filters find
 * them), and a key → label function that shows an unknown key as it is. */
export function usePicklist(name: PicklistName) {
  const [choices, setChoices] = useState<PicklistChoice[]>(BUILT_IN[name] ?? []);
  useEffect(() => {
    let live = true;
    read().then((doc) => { const c = choicesFrom(doc, name); if (live && c) setChoices(c); }).catch(() => undefined);
    return () => { live = false; };
  }, [name]);
  return useMemo(() => ({
    choices,
    labelOf: (key: string | undefined, locale: Locale): string => choices.find((c) => c.key === key)?.label[locale] ?? key ?? "",
  }), [choices]);
}
