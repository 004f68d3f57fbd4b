// The typed client: openapi-fetch over the generated `paths` (schema.d.ts, from the gateway's
// OpenAPI document), plus what every call needs: the bearer token, an Idempotency-Key on every
// write (so a retried submit never writes twice), and problem+json errors thrown as ApiError.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import { ApiError, toProblem } from "./problem";
import type { paths } from "./schema";

export type Api = Client<paths>;

export interface ApiOptions {
  baseUrl?: string;
  getToken: () => string | null;
  /** Called on a 401 (expired or revoked token): the app signs the user out. */
  onUnauthorized?: () => void;
  fetch?: typeof globalThis.fetch;
  newKey?: () => string;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export function createApi(options: ApiOptions): Api {
  const client = createClient<paths>({ baseUrl: options.baseUrl ?? "", fetch: options.fetch });
  const newKey = options.newKey ?? (() => crypto.randomUUID());
  const middleware: Middleware = {
    onRequest({ request }) {
      const token = options.getToken();
      if (token && !request.headers.has("Authorization")) request.headers.set("Authorization", `Bearer ${token}`);
      if (WRITES.has(request.method) && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", newKey());
      }
      return request;
    },
    onResponse({ response }) {
      if (response.status === 401) options.onUnauthorized?.();
      return response;
    },
  };
  client.use(middleware);
  return client;
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The answer's data, or throw ApiError with its problem: `const c = await unwrap(api.GET(...))`. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (err) {
    throw new ApiError(0, toProblem(0, null, err instanceof Error ? err.message : "Network error"));
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined) {
    throw new ApiError(response.status, toProblem(response.status, error, response.statusText));
  }
  return data as T;
}
