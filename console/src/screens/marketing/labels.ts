// Marketing's vocabularies the console has words for; a value it does not know is shown as the
// API wrote it.
import type { useT } from "../../i18n";
import type { m } from "./messages";

export type T = ReturnType<typeof useT<typeof m.en>>;

export const CAMPAIGN_STATUSES = ["draft", "scheduled", "active", "completed", "cancelled"] as const;
export const CAMPAIGN_TYPES = ["webinar", "trade_show", "email", "social", "ads"] as const;
const WAVE_STATUSES = ["ready", "sending", "completed", "cancelled", "draft"] as const;
// What a campaign may move to (marketing's rules; the API still decides and says why not).
export const NEXT_STATUS: Record<string, readonly (typeof CAMPAIGN_STATUSES)[number][]> = {
  draft: ["scheduled", "cancelled"],
  scheduled: ["active", "draft", "cancelled"],
  active: ["completed", "cancelled"],
};

function known<K extends string>(list: readonly K[], value: string | undefined): value is K {
  return (list as readonly string[]).includes(value ?? "");
}

export function campaignStatus(t: T, v: string | undefined): string {
  return known(CAMPAIGN_STATUSES, v) ? t(`status_${v}`) : v ?? "";
}

export function campaignType(t: T, v: string | undefined): string {
  return known(CAMPAIGN_TYPES, v) ? t(`type_${v}`) : v ?? "";
}

export function waveStatus(t: T, v: string | undefined): string {
  return known(WAVE_STATUSES, v) ? t(`waveStatus_${v}`) : v ?? "";
}

/** 0.4213 → "42.1%" in the locale's way. */
export function formatRate(rate: number | undefined, locale: string): string {
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(rate ?? 0);
}
