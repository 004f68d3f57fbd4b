// Pure helpers of the settings editors: which API field names a form shows (so a refusal lands
// beside its field), the If-Match of the version read, and the service's combined criteria index
// ("stages[2].criteria[3]" counts entry then exit criteria) turned into the list the form shows.
import { ApiError } from "../../api/problem";
import type { Schema } from "../../api";

type Pipeline = Schema<"Pipeline">;

/** `name.i.col` for every row and column of a list section ("pool_rules.0.claim_limit"). */
export function rowFields(name: string, rows: number, columns: readonly string[]): string[] {
  return Array.from({ length: rows }, (_, i) => columns.map((c) => `${name}.${i}.${c}`)).flat();
}

export const STAGE_COLUMNS = ["key", "name", "probability", "outcome", "entry_criteria", "exit_criteria"] as const;

/** The fields of every pipeline and each of its stages. */
export function pipelineFields(pipelines: readonly Pipeline[] | undefined): string[] {
  return (pipelines ?? []).flatMap((p, i) => [
    `pipelines.${i}.id`, `pipelines.${i}.name`,
    `pipelines.${i}.stages`, // the stage list as a whole ("needs a won stage"): beside the list
    ...rowFields(`pipelines.${i}.stages`, p?.stages?.length ?? 0, STAGE_COLUMNS),
  ]);
}

/** Only a saved version (above 0) is named: settings never saved have version 0, which no ETag names. */
export function ifMatch(version: unknown): { params: { header: { "If-Match": string } } } | Record<string, never> {
  const n = Number(version ?? 0); // int64 may arrive as a string
  return n > 0 ? { params: { header: { "If-Match": `"${n}"` } } } : {};
}

const CRITERIA = /^pipelines\[(\d+)\]\.stages\[(\d+)\]\.criteria\[(\d+)\]/;

/** "pipelines[0].stages[2].criteria[3].kind" → "…stages[2].exit_criteria[1].kind" when the stage
 * had two entry criteria; any other name is returned as it came. */
export function criteriaSide(field: string, pipelines: readonly Pipeline[] | undefined): string {
  const hit = CRITERIA.exec(field);
  if (!hit) return field;
  const [p, s, c] = [Number(hit[1]), Number(hit[2]), Number(hit[3])];
  const entries = pipelines?.[p]?.stages?.[s]?.entry_criteria?.length ?? 0;
  const side = c < entries ? `entry_criteria[${c}]` : `exit_criteria[${c - entries}]`;
  return `pipelines[${p}].stages[${s}].${side}${field.slice(hit[0].length)}`;
}

/** The same refusal with its criteria errors named as the form names them. */
export function withCriteriaSides(err: unknown, pipelines: readonly Pipeline[] | undefined): unknown {
  if (!(err instanceof ApiError) || !err.problem.errors?.length) return err;
  const errors = err.problem.errors.map((e) => ({ ...e, field: criteriaSide(e.field, pipelines) }));
  return new ApiError(err.status, { ...err.problem, errors });
}

/** A number box left empty is left out (not sent as null), so the API names the missing field. */
export function withoutEmpty<T extends object>(row: T): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null && v !== undefined)) as T;
}
