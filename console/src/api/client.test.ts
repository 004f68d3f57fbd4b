import { describe, expect, it, vi } from "vitest";
import { createApi, unwrap } from "./client";
import { ApiError } from "./problem";

function fakeFetch(status: number, body: unknown, contentType = "application/json") {
  const seen: Request[] = [];
  const fetch = vi.fn(async (input: Request) => {
    seen.push(input);
    const text = typeof body === "string" ? body : JSON.stringify(body);
    return new Response(status === 204 ? null : text, { status, headers: { "Content-Type": contentType } });
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, seen };
}

describe("the API client", () => {
  it("sends the bearer token, and an Idempotency-Key on writes only", async () => {
    const { fetch, seen } = fakeFetch(200, { items: [], next_page_token: "" });
    const api = createApi({ baseUrl: "http://gw", getToken: () => "tok-1", fetch, newKey: () => "key-1" });
    await unwrap(api.GET("/api/v1/contacts", { params: { query: { q: "华为", page_size: 20 } } }));
    await unwrap(api.POST("/api/v1/contacts/{id}/interactions", { params: { path: { id: "c 1" } }, body: { kind: "call" } }))
      .catch(() => undefined);
    expect(seen[0]!.headers.get("Authorization")).toBe("Bearer tok-1");
    expect(seen[0]!.headers.get("Idempotency-Key")).toBeNull();
    expect(new URL(seen[0]!.url).searchParams.get("q")).toBe("华为");
    expect(seen[1]!.method).toBe("POST");
    expect(seen[1]!.headers.get("Idempotency-Key")).toBe("key-1");
    expect(new URL(seen[1]!.url).pathname).toBe("/api/v1/contacts/c%201/interactions");
  });

  it("throws the problem+json answer as an ApiError naming the fields", async () => {
    const problem = { type: "urn:shuniu:problem:invalid-request", title: "Invalid request", status: 400,
      detail: "kind: must be one of call, email, meeting, note",
      errors: [{ field: "kind", message: "must be one of call, email, meeting, note" }] };
    const { fetch } = fakeFetch(400, problem, "application/problem+json");
    const api = createApi({ baseUrl: "http://gw", getToken: () => "t", fetch });
    const err = await unwrap(api.POST("/api/v1/contacts/{id}/interactions", { params: { path: { id: "c1" } }, body: { kind: "call" } }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).fieldErrors).toEqual(problem.errors);
    expect((err as ApiError).message).toBe(problem.detail);
  });

  it("signs out on a 401 and reports a 404 as not found", async () => {
    const onUnauthorized = vi.fn();
    const expired = fakeFetch(401, { type: "x", title: "Unauthenticated", status: 401, detail: "token expired" });
    const api = createApi({ baseUrl: "http://gw", getToken: () => "old", fetch: expired.fetch, onUnauthorized });
    await unwrap(api.GET("/api/v1/contacts")).catch(() => undefined);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);

    const missing = fakeFetch(404, { type: "x", title: "Not found", status: 404, detail: "no contact c9" });
    const api2 = createApi({ baseUrl: "http://gw", getToken: () => "t", fetch: missing.fetch });
    const err = (await unwrap(api2.GET("/api/v1/contacts/{id}", { params: { path: { id: "c9" } } })).catch((e) => e)) as ApiError;
    expect(err.isNotFound).toBe(true);
  });

  it("turns an answer that is not problem+json, or no answer, into a problem too", async () => {
    const html = fakeFetch(502, "<html>Bad gateway</html>", "text/html");
    const api = createApi({ baseUrl: "http://gw", getToken: () => null, fetch: html.fetch });
    const err = (await unwrap(api.GET("/api/v1/contacts")).catch((e) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(err.problem.detail).toBe("<html>Bad gateway</html>");
    expect(html.seen[0]!.headers.get("Authorization")).toBeNull();

    const down = vi.fn(async () => { throw new TypeError("Failed to fetch"); });
    const api2 = createApi({ baseUrl: "http://gw", getToken: () => null, fetch: down as unknown as typeof fetch });
    const err2 = (await unwrap(api2.GET("/api/v1/contacts")).catch((e) => e)) as ApiError;
    expect(err2.status).toBe(0);
    expect(err2.problem.title).toBe("Failed to fetch");
  });
});
