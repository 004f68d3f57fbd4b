// The runtime config the console fetches at start (/console/config.json), so one build serves
// every environment: `make run` answers {"sign_in": "dev"}; production mounts a file naming the
// OIDC provider.
export interface OidcConfig {
  authority: string;
  client_id: string;
  scope?: string;
}

export type ConsoleConfig = { sign_in: "dev" } | { sign_in: "oidc"; oidc: OidcConfig };

export function parseConfig(raw: unknown): ConsoleConfig {
  const doc = (raw ?? {}) as Record<string, unknown>;
  if (doc.sign_in === "dev") return { sign_in: "dev" };
  const oidc = (doc.oidc ?? {}) as Record<string, unknown>;
  if (doc.sign_in === "oidc" && typeof oidc.authority === "string" && typeof oidc.client_id === "string") {
    return {
      sign_in: "oidc",
      oidc: { authority: oidc.authority, client_id: oidc.client_id, scope: typeof oidc.scope === "string" ? oidc.scope : undefined },
    };
  }
  throw new Error("console config: sign_in must be \"dev\", or \"oidc\" with oidc.authority and oidc.client_id");
}

export async function loadConfig(fetcher: typeof fetch = fetch): Promise<ConsoleConfig> {
  const response = await fetcher("/console/config.json", { cache: "no-cache" });
  if (!response.ok) throw new Error(`console config: HTTP ${response.status}`);
  return parseConfig(await response.json());
}
