// Names the API sends as keys (stages, statuses, kinds) shown in the reader's language. A key the
// console does not know (a stage an admin added) is shown as the API names it, never hidden.
import type { Locale } from "../../i18n";
import { m } from "./messages";

type Key = keyof typeof m.en;

/** `label(locale, "status", "qualified")` → "已确认" / "Qualified"; unknown → `fallback ?? value`. */
export function label(locale: Locale, prefix: string, value: string | undefined, fallback?: string): string {
  if (!value) return fallback ?? "";
  const key = `${prefix}_${value}` as Key;
  const dict = m[locale] as Record<string, string>;
  return dict[key] ?? m.en[key] ?? fallback ?? value;
}

/** A stage: the default pipeline's stages have names in both languages; others keep the name
 * their administrator gave them (which is already what users call it). */
export function stageName(locale: Locale, stage: { key?: string; name?: string }): string {
  const key = `stage_${stage.key ?? ""}` as Key;
  const zh = (m["zh-CN"] as Record<string, string>)[key];
  if (zh && (!stage.name || stage.name === zh)) return (m[locale] as Record<string, string>)[key] ?? zh;
  return stage.name || stage.key || "";
}

/** Solid tag colours dark enough for white text (antd's light presets fall short of 4.5:1). */
export const TAG = { bad: "#a8071a", good: "#135200" } as const;
