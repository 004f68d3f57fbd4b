// The support vocabularies the console has words for; anything else the API sends (a channel
// added since, say) is shown as the API wrote it, never hidden.
import type { useT } from "../../i18n";
import type { m } from "./messages";
import type { Tone } from "../../components/tones";
import type { Schema } from "../../api";

export type T = ReturnType<typeof useT<typeof m.en>>;

export const STATUSES = ["new", "open", "pending", "solved", "closed"] as const;
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
// The channels a ticket can have: the support service's list (crm_support.rules.tickets). The
// gateway's schema declares no enum for `channel` yet (any string passes it), so the list cannot be
// read from schema.d.ts; once the gateway declares one (and make console-api runs) the check below
// makes any difference a type error. "sms" is a notice channel, not a ticket's.
export const CHANNELS = ["api", "web", "email", "chat", "phone", "social", "wechat", "wecom"] as const;
type ApiChannel = Exclude<NonNullable<Schema<"TicketInput">["channel"]>, "">;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
export const CHANNELS_MATCH_API: string extends ApiChannel ? true : Same<(typeof CHANNELS)[number], ApiChannel> = true;
/** How the customer hears about the ticket's progress (crm_support.rules.sms_notices). */
export const NOTICE_CHANNELS = ["email", "sms"] as const;
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

export function noticeLabel(t: T, value: string | undefined): string {
  return known(NOTICE_CHANNELS, value) ? t(`channel_${value}`) : value ?? "";
}

export function metricLabel(t: T, value: string): string {
  return known(METRICS, value) ? t(`metric_${value}`) : value;
}

export const PRIORITY_TONE: Record<string, Tone> = { urgent: "red", high: "orange" };
