// The API's errors: RFC 9457 problem+json with `errors: [{field, message}]` naming bad input.
import type { components } from "./schema";

export type Problem = components["schemas"]["Problem"];
export type FieldProblem = { field: string; message: string };

/** What a failed call throws: the HTTP status and the problem body (a synthetic one when the
 * answer was not problem+json, e.g. a proxy's HTML page or a network failure). */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;

  constructor(status: number, problem: Problem) {
    super(problem.detail || problem.title);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
  }

  get fieldErrors(): FieldProblem[] {
    return this.problem.errors ?? [];
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

export function toProblem(status: number, body: unknown, statusText = ""): Problem {
  if (body && typeof body === "object" && "title" in body && "status" in body) {
    const doc = body as Problem;
    return { ...doc, detail: doc.detail || doc.title };
  }
  const text = typeof body === "string" && body.trim() && body.length < 300 ? body.trim() : "";
  const title = statusText || (status ? `HTTP ${status}` : "Network error");
  return { type: "about:blank", title, status, detail: text || title };
}
