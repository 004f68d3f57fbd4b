// The support vocabularies the console has words for; anything else the API sends (a channel
// added since, say) is shown as the API wrote it, never hidden.
import type { useT } from "../../i18n";
import type { m } from "./messages";
import type { Tone } from "../../components/tones";

export type T = ReturnType<typeof useT<typeof m.en>>;

export const STATUSES = ["new", "open", "pending", "solved", "closed"] as const;
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export const CHANNELS = ["email", "wechat", "wecom", "sms", "web", "chat", "phone", "social", "api"] as const;
const METRICS = ["first_response", "resolution"] as const;

function known<K extends string>(list: readonly K[], value: string | undefined): value is K {
  return (list as readonly string[]).includes(value ?? "");
}

export function statusLabel(t: T, value: string | undefined): string {
  return known(STATUSES, value) ? t(`status_${value}`) : value ?? "";
}

export function priorityLabel(t: T, value: string | undefined): string {
  // "" is the API's normal priority
  const v = value || "normal";
  return known(PRIORITIES, v) ? t(`priority_${v}`) : v;
}

export function channelLabel(t: T, value: string | undefined): string {
  return known(CHANNELS, value) ? t(`channel_${value}`) : value ?? "";
}

export function metricLabel(t: T, value: string): string {
  return known(METRICS, value) ? t(`metric_${value}`) : value;
}

export const PRIORITY_TONE: Record<string, Tone> = { urgent: "red", high: "orange" };
