// The pipeline board's move rule, kept pure so it can be tested without a browser: a card moves
// to another column only once the API accepted the stage change; a refusal (the stage gate's 400,
// a stale version's 409) leaves every column as it was and keeps the API's words to show.
import type { ApiError, FieldProblem, Schema } from "../../api";

export type Opportunity = Schema<"Opportunity">;
export type Stage = Schema<"Stage">;

export interface Refusal {
  opportunityId: string;
  opportunityName: string;
  to: string; // the stage key the card was dropped on
  status: number;
  detail: string;
  errors: FieldProblem[];
}

export interface BoardState {
  /** Stage key → the cards loaded so far (cursor pages appended). */
  columns: Record<string, Opportunity[]>;
  /** Stage key → the next page's token ("" when the column is complete). */
  next: Record<string, string>;
  /** The card whose move the API has not answered yet. */
  moving: string | null;
  refusal: Refusal | null;
}

export function emptyBoard(stages: readonly Stage[]): BoardState {
  const columns: Record<string, Opportunity[]> = {};
  const next: Record<string, string> = {};
  for (const s of stages) {
    columns[s.key ?? ""] = [];
    next[s.key ?? ""] = "";
  }
  return { columns, next, moving: null, refusal: null };
}

/** A column's page arrived: the first page replaces, later pages append (no card twice). */
export function withPage(board: BoardState, stage: string, items: Opportunity[], nextToken: string, append: boolean): BoardState {
  const before = append ? board.columns[stage] ?? [] : [];
  const seen = new Set(before.map((o) => o.id));
  return {
    ...board,
    columns: { ...board.columns, [stage]: [...before, ...items.filter((o) => !seen.has(o.id))] },
    next: { ...board.next, [stage]: nextToken },
  };
}

export function findCard(board: BoardState, id: string): { card: Opportunity; stage: string } | null {
  for (const [stage, cards] of Object.entries(board.columns)) {
    const card = cards.find((o) => o.id === id);
    if (card) return { card, stage };
  }
  return null;
}

export type MovePlan =
  | { kind: "ignore" }
  | { kind: "ask"; card: Opportunity; from: string; to: string }
  | { kind: "ask_loss_reason"; card: Opportunity; from: string; to: string };

/** What dropping card `id` on stage `to` means: nothing (same column, unknown stage, a closed
 * deal, another move in flight), a stage change to ask the API for, or one that first needs the
 * reason the deal was lost. The API still decides: the gate's criteria are its business. */
export function planMove(board: BoardState, stages: readonly Stage[], id: string, to: string): MovePlan {
  if (board.moving) return { kind: "ignore" };
  const found = findCard(board, id);
  const target = stages.find((s) => s.key === to);
  if (!found || !target || found.stage === to) return { kind: "ignore" };
  if (found.card.status && found.card.status !== "open") return { kind: "ignore" };
  const kind = target.outcome === "lost" ? "ask_loss_reason" : "ask";
  return { kind, card: found.card, from: found.stage, to };
}

export function startMove(board: BoardState, id: string): BoardState {
  return { ...board, moving: id, refusal: null };
}

/** The API moved it: the card leaves its column and heads the one the API put it in. */
export function moveAccepted(board: BoardState, updated: Opportunity): BoardState {
  const columns: Record<string, Opportunity[]> = {};
  for (const [stage, cards] of Object.entries(board.columns)) columns[stage] = cards.filter((o) => o.id !== updated.id);
  const stage = updated.stage ?? "";
  columns[stage] = [updated, ...(columns[stage] ?? [])];
  return { ...board, columns, moving: null, refusal: null };
}

/** The API said no: every card stays where it was; the refusal is kept as the API worded it. */
export function moveRefused(board: BoardState, card: Opportunity, to: string, error: ApiError): BoardState {
  return {
    ...board,
    moving: null,
    refusal: {
      opportunityId: card.id ?? "",
      opportunityName: card.name ?? "",
      to,
      status: error.status,
      detail: error.problem.detail ?? error.message,
      errors: error.fieldErrors,
    },
  };
}

export function moveCancelled(board: BoardState): BoardState {
  return { ...board, moving: null };
}

/** The stages to show: the pipeline's own order. */
export function boardStages(settings: Schema<"SalesSettings"> | null, pipelineId: string): Stage[] {
  const pipelines = settings?.pipelines ?? [];
  const pipeline = pipelines.find((p) => p.id === pipelineId) ?? pipelines[0];
  return pipeline?.stages ?? [];
}

/** A deal belongs to a pipeline's board when it names it, or names none and this is the first. */
export function inPipeline(opp: Opportunity, pipelineId: string, firstPipelineId: string): boolean {
  return (opp.pipeline_id || firstPipelineId) === pipelineId;
}
