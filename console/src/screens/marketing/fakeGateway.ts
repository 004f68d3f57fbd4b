// Unit tests' fake gateway for the marketing screens: records each call and answers with JSON or
// problem+json, as the gateway would.
export interface Call { method: string; path: string; ifMatch: string | null; body: unknown }

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

export const problem = (status: number, detail: string, errors: { field: string; message: string }[] = []) =>
  new Response(JSON.stringify({ type: "urn:shuniu:problem:invalid-argument", title: "Invalid argument", status, detail, errors }),
    { status, headers: { "Content-Type": "application/problem+json" } });

export const emptyPage = { items: [], next_page_token: "" };

/** A fetch that records every call in `calls` and answers with `route` (404 when it has none). */
export function fakeFetch(calls: Call[], route: (call: Call, url: URL) => Response | undefined): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const url = new URL(request.url);
    const text = request.method === "GET" ? "" : await request.text();
    const call = { method: request.method, path: url.pathname, ifMatch: request.headers.get("If-Match"), body: text ? JSON.parse(text) : undefined };
    calls.push(call);
    return route(call, url) ?? problem(404, "Not found");
  }) as typeof fetch;
}
