// Pure rules of the delegation and contract screens: a delegation's state at a moment (from the
// API's dates and its `revoked` flag), and the statuses a contract may move to next (the sales
// service's machine, repeated only to offer the buttons: the API still decides and its refusal is
// shown).
import type { Schema } from "../../api";

export type Delegation = Schema<"Delegation">;
export type Contract = Schema<"Contract">;
export type DelegationState = "active" | "upcoming" | "over" | "revoked";

export function delegationState(d: Delegation, now: Date): DelegationState {
  if (d.revoked) return "revoked";
  const starts = d.starts_at ? Date.parse(d.starts_at) : Number.NEGATIVE_INFINITY;
  const ends = d.ends_at ? Date.parse(d.ends_at) : Number.POSITIVE_INFINITY;
  if (ends <= now.getTime()) return "over";
  if (starts > now.getTime()) return "upcoming";
  return "active";
}

/** Only a delegation not over yet can be ended. */
export function canEnd(d: Delegation, now: Date): boolean {
  const s = delegationState(d, now);
  return s === "active" || s === "upcoming";
}

export const CONTRACT_STATUSES = ["draft", "signed", "active", "expired", "terminated"] as const;
export type ContractStatus = (typeof CONTRACT_STATUSES)[number];

const NEXT: Record<ContractStatus, readonly ContractStatus[]> = {
  draft: ["signed", "terminated"],
  signed: ["active", "terminated"],
  active: ["expired", "terminated"],
  expired: [],
  terminated: [],
};

export function isContractStatus(s: string | undefined): s is ContractStatus {
  return (CONTRACT_STATUSES as readonly string[]).includes(s ?? "");
}

export function nextStatuses(status: string | undefined): readonly ContractStatus[] {
  return isContractStatus(status) ? NEXT[status] : [];
}
