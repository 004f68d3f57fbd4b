// Marketing automation, the console's pure part: the rows a marketer types turned into the API's
// bodies (SMS variables, sequence steps, rule events, A/B variants), and the words for what the
// API answers (statuses, exit reasons, an A/B test's verdict). The API still checks everything
// and names the field it refuses.
import type { Schema } from "../../api";

type SmsContent = Schema<"SmsContent">;
type StepInput = Schema<"SequenceStepInput">;
type RuleEvent = Schema<"RuleEvent">;
type AbTest = Schema<"AbTest">;
type AbVariantInput = Schema<"AbVariantInput">;

export const SEQUENCE_STATUSES = ["draft", "active", "paused", "archived"] as const;
// What a sequence may move to (marketing's rule; the API still decides and says why not).
export const SEQUENCE_MOVES: Record<string, readonly ("active" | "paused" | "archived")[]> = {
  draft: ["active", "archived"],
  active: ["paused", "archived"],
  paused: ["active", "archived"],
};
export const ENROLLMENT_STATUSES = ["active", "completed", "exited"] as const;
// Why an enrolment ends (the sequence's exit conditions, marketing's list).
export const EXIT_REASONS = ["converted", "unsubscribed", "replied", "suppressed", "removed", "archived"] as const;
export const RULE_STATUSES = ["active", "paused"] as const;
export const AB_METRICS = ["open", "click"] as const;
export const AB_STATUSES = ["ready", "testing", "sending_winner", "completed", "cancelled"] as const;
export const INVITEE_STATUSES = ["invited", "registered", "attended"] as const;
export const RECIPIENT_STATUSES = ["pending", "sending", "sent", "failed", "skipped"] as const;
// Merge fields an SMS variable may use ({{ name }} …), marketing's list.
export const SMS_MERGE_FIELDS = ["name", "email", "company", "title", "city", "province", "language", "campaign_name"] as const;
// Event types offered while typing a rule's trigger; any contract event type is accepted.
export const SUGGESTED_EVENTS = [
  "web.visit",
  "crm.marketing.email.opened",
  "crm.marketing.email.clicked",
  "crm.marketing.email.unsubscribed",
  "crm.marketing.form.submitted",
  "crm.contacts.contact.created",
  "crm.contacts.contact.tagged",
  "crm.sales.lead.created",
  "crm.sales.lead.converted",
  "crm.sales.opportunity.won",
  "crm.support.ticket.created",
  "crm.support.ticket.solved",
] as const;

export interface VariableRow { name?: string; value?: string }

/** SMS variables typed as rows → the API's params object. Blank rows are left out; a row with a
 * value but no name is kept under "" so the API names it rather than the console dropping it. */
export function smsParams(rows: readonly (VariableRow | undefined)[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const row of rows ?? []) {
    const name = (row?.name ?? "").trim();
    const value = row?.value ?? "";
    if (!name && !value.trim()) continue;
    out[name] = value;
  }
  return out;
}

export interface SmsValues { template_code?: string; sign_name?: string; params?: VariableRow[] }

export function smsContent(v: SmsValues | undefined): SmsContent {
  const params = smsParams(v?.params);
  return {
    template_code: v?.template_code ?? "",
    ...(v?.sign_name ? { sign_name: v.sign_name } : {}),
    ...(Object.keys(params).length > 0 ? { params } : {}),
  };
}

export interface StepRow { day?: number | null; channel?: "email" | "sms"; template_id?: string; sms?: SmsValues }

/** Step rows → the API's steps, in the order shown (the API checks each comes a day later). */
export function sequenceSteps(rows: readonly (StepRow | undefined)[] | undefined): StepInput[] {
  return (rows ?? []).map((row) => {
    const day = typeof row?.day === "number" ? { day: row.day } : {};
    if (row?.channel === "sms") return { ...day, channel: "sms", sms: smsContent(row.sms) };
    return { ...day, channel: "email", template_id: row?.template_id ?? "" };
  });
}

/** A trigger or an "unless" event; the URL pattern only when typed. */
export function ruleEvent(event_type: string | undefined, url_pattern: string | undefined): RuleEvent {
  const url = (url_pattern ?? "").trim();
  return { event_type: (event_type ?? "").trim(), ...(url ? { url_pattern: url } : {}) };
}

export interface VariantRow { name?: string; subject?: string; template_id?: string }

export function abVariants(rows: readonly (VariantRow | undefined)[] | undefined): AbVariantInput[] {
  return (rows ?? []).map((row) => ({
    ...(row?.name?.trim() ? { name: row.name.trim() } : {}),
    ...(row?.subject?.trim() ? { subject: row.subject.trim() } : {}),
    ...(row?.template_id ? { template_id: row.template_id } : {}),
  }));
}

/** The share of the audience each variant gets: the tested share split evenly (20 %, 2 → 10 %). */
export function shareOfEach(testPercent: number | undefined, variants: number): number {
  if (!variants) return 0;
  return (testPercent ?? 20) / variants;
}

export type Verdict =
  | { kind: "pending" }                                   // not decided yet
  | { kind: "winner"; winner: string; significant: true } // a significant difference
  | { kind: "fallback"; winner: string }                  // no significant difference: the default / best went out
  | { kind: "cancelled" };

/** What an A/B test's answer says about its winner (the API decides; this only reads it). */
export function verdictOf(test: AbTest): Verdict {
  if (test.status === "cancelled" && !test.winner) return { kind: "cancelled" };
  if (!test.winner || !test.decided_at) return { kind: "pending" };
  return test.significant ? { kind: "winner", winner: test.winner, significant: true } : { kind: "fallback", winner: test.winner };
}

/** The variant's rate on the test's metric: the API's `rate`, or the counts when it sent none. */
export function variantRate(v: Schema<"AbVariant">, metric: string | undefined): number {
  if (typeof v.rate === "number") return v.rate;
  const c = v.counts ?? {};
  return (metric === "click" ? c.click_rate : c.open_rate) ?? 0;
}

/** The p-value as a marketer reads it: "p = 0.012", "p < 0.001". */
export function formatP(p: number | undefined, locale: string): string {
  if (typeof p !== "number") return "";
  if (p < 0.001) return `p < ${(0.001).toLocaleString(locale)}`;
  return `p = ${p.toLocaleString(locale, { maximumFractionDigits: 3 })}`;
}

/** Exit reasons with a count, in marketing's order, then any the console has no word for. */
export function exitCounts(exited: Record<string, number | string> | undefined): [string, number][] {
  const all = Object.entries(exited ?? {}).map(([k, n]) => [k, Number(n ?? 0)] as [string, number]).filter(([, n]) => n > 0);
  const order = (k: string) => { const i = (EXIT_REASONS as readonly string[]).indexOf(k); return i < 0 ? EXIT_REASONS.length : i; };
  return all.sort((a, b) => order(a[0]) - order(b[0]) || a[0].localeCompare(b[0]));
}

/** Contact ids typed or pasted (commas, spaces, new lines) with the picked ones, once each. */
export function contactIds(picked: readonly string[] | undefined, pasted: string | undefined): string[] {
  const typed = (pasted ?? "").split(/[\s,，;；]+/).map((s) => s.trim()).filter(Boolean);
  return [...new Set([...(picked ?? []), ...typed])];
}

/** The If-Match header for a record read at `version` (none before the first save). */
export function ifMatch(version: unknown): { "If-Match"?: string } {
  const n = Number(version ?? 0); // int64 may arrive as a string
  return n > 0 ? { "If-Match": `"${n}"` } : {};
}

export function known<K extends string>(list: readonly K[], value: string | undefined): value is K {
  return (list as readonly string[]).includes(value ?? "");
}

// Editing a saved record: the form rows read back from the API's answer, and the PATCH body.

type Sequence = Schema<"Sequence">;
type SequencePatch = Schema<"SequencePatch">;
type Rule = Schema<"AutomationRule">;
type RulePatch = Schema<"AutomationRulePatch">;

// What a sequence keeps once it leaves draft (its step waves froze them): marketing refuses them.
export const SEQUENCE_DRAFT_ONLY = ["steps", "purpose"] as const;

/** A saved sequence's steps as the form's rows (SMS params as variable rows). */
export function stepRows(steps: Sequence["steps"]): StepRow[] {
  return (steps ?? []).map((s) => (s.channel === "sms"
    ? { day: s.day ?? 0, channel: "sms", sms: {
        template_code: s.sms?.template_code ?? "", sign_name: s.sms?.sign_name ?? "",
        params: Object.entries(s.sms?.params ?? {}).map(([name, value]) => ({ name, value: String(value) })) } }
    : { day: s.day ?? 0, channel: "email", template_id: s.template_id ?? "" }));
}

export interface SequenceEdit { name?: string; description?: string; steps?: StepRow[]; purpose?: string; enroll_nurturing?: boolean }

/** The PATCH body: every field the form shows; a sequence past draft does not send what froze. */
export function sequencePatch(v: SequenceEdit, status: string | undefined): SequencePatch {
  const body: SequencePatch = { name: v.name ?? "", description: v.description ?? "", enroll_nurturing: v.enroll_nurturing ?? false };
  if (status === "draft") Object.assign(body, { steps: sequenceSteps(v.steps), purpose: v.purpose ?? "" });
  return body;
}

export interface EventRow { event_type?: string; url_pattern?: string }
export interface RuleValues {
  name?: string;
  campaign_id?: string;
  trigger?: EventRow;
  count?: number | null;
  within_days?: number | null;
  unless?: EventRow[];
  action?: "template" | "sequence";
  template_id?: string;
  sequence_id?: string;
  purpose?: string;
}

/** A saved rule as the form's values. */
export function ruleValues(r: Rule): RuleValues {
  return {
    name: r.name ?? "",
    trigger: { event_type: r.trigger?.event_type ?? "", url_pattern: r.trigger?.url_pattern ?? "" },
    count: r.count ?? 1,
    within_days: r.within_days ?? 7,
    unless: (r.unless ?? []).map((e) => ({ event_type: e.event_type ?? "", url_pattern: e.url_pattern ?? "" })),
    action: r.sequence_id ? "sequence" : "template",
    template_id: r.template_id || undefined,
    sequence_id: r.sequence_id || undefined,
    purpose: r.purpose ?? "",
  };
}

/** The PATCH body of an edited rule: the action chosen, the other one emptied (a rule does one thing). */
export function rulePatch(v: RuleValues): RulePatch {
  const action = v.action ?? "template";
  return {
    name: v.name ?? "",
    trigger: ruleEvent(v.trigger?.event_type, v.trigger?.url_pattern),
    ...(typeof v.count === "number" ? { count: v.count } : {}),
    ...(typeof v.within_days === "number" ? { within_days: v.within_days } : {}),
    unless: (v.unless ?? []).map((e) => ruleEvent(e?.event_type, e?.url_pattern)),
    template_id: action === "template" ? v.template_id ?? "" : "",
    sequence_id: action === "sequence" ? v.sequence_id ?? "" : "",
    purpose: v.purpose ?? "",
  };
}

type TrackingSite = Schema<"TrackingSite">;
export interface SiteRow { key?: string; name?: string; domains?: string[] }

/** Site rows → the API's sites, in the order shown; blank domains left out (the API checks the rest). */
export function siteBodies(rows: readonly (SiteRow | undefined)[] | undefined): TrackingSite[] {
  return (rows ?? []).map((row) => ({
    key: (row?.key ?? "").trim(),
    name: (row?.name ?? "").trim(),
    domains: (row?.domains ?? []).map((d) => d.trim()).filter(Boolean),
  }));
}

/** Where the API's refusal of a site's domain goes: `sites.1.domains.2` → that site's domains input. */
export function siteAliases(rows: readonly (SiteRow | undefined)[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  (rows ?? []).forEach((row, i) => (row?.domains ?? []).forEach((_, j) => { out[`sites.${i}.domains.${j}`] = `sites.${i}.domains`; }));
  return out;
}

const KEY_CHARS = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** A fresh site key the API accepts (24 letters and digits, from the browser's random source). */
export function newSiteKey(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  return [...random(new Uint8Array(24))].map((n) => KEY_CHARS[n % KEY_CHARS.length]).join("");
}
