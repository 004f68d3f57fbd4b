// Green / amber / red for a dashboard figure. The API colours every widget it renders
// (WidgetView.status); the console shows that word and uses the same rule only to explain the
// thresholds and to colour a figure the API left uncoloured (an older answer). The rule, as the
// reporting service applies it: with higher-is-better, value >= green is green, >= amber amber,
// else red; with lower_is_better, value <= green is green, <= amber amber, else red; without a
// figure or without any threshold there is no colour.
import type { Schema } from "../../api";

export type Thresholds = Schema<"Thresholds">;
export type Status = "green" | "amber" | "red";

const STATUSES: readonly string[] = ["green", "amber", "red"];

function has(limit: number | undefined): limit is number {
  return typeof limit === "number" && Number.isFinite(limit);
}

export function hasThresholds(t: Thresholds | undefined): boolean {
  return Boolean(t && (has(t.green) || has(t.amber)));
}

/** The colour of `value` under `t`, or null (no figure, no thresholds). */
export function statusOf(value: number | null | undefined, t: Thresholds | undefined): Status | null {
  if (typeof value !== "number" || !Number.isFinite(value) || !t || !hasThresholds(t)) return null;
  const reaches = (limit: number) => (t.lower_is_better ? value <= limit : value >= limit);
  if (has(t.green) && reaches(t.green)) return "green";
  if (has(t.amber) && reaches(t.amber)) return "amber";
  return "red";
}

/** The API's word when it gave one; otherwise the rule over the widget's own thresholds. */
export function widgetStatus(apiStatus: string | undefined, value: number | null | undefined,
                             t: Thresholds | undefined): Status | null {
  if (apiStatus && STATUSES.includes(apiStatus)) return apiStatus as Status;
  return statusOf(value, t);
}

/** Solid tags (white text on a dark green / amber / red, contrast above 4.5:1); the tag says the
 * word too, so colour is never the only signal. */
export const STATUS_TAG: Record<Status, string> = {
  green: "#237804",
  amber: "#874d00",
  red: "#a8071a",
};

/** The limits as "≥ 1,000,000" / "≤ 3": what a figure must reach for green and for amber. */
export function thresholdLimits(t: Thresholds | undefined, format: (n: number) => string):
  { green: string | null; amber: string | null } {
  const sign = t?.lower_is_better ? "≤" : "≥";
  return {
    green: t && has(t.green) ? `${sign} ${format(t.green)}` : null,
    amber: t && has(t.amber) ? `${sign} ${format(t.amber)}` : null,
  };
}
