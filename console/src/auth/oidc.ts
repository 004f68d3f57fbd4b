// Production sign-in: OIDC authorization code with PKCE (oidc-client-ts does the PKCE and state
// checks). Loaded only when the config says "oidc", so dev builds never pay for it.
import { UserManager, WebStorageStateStore } from "oidc-client-ts";
import type { OidcConfig } from "./config";

export const CALLBACK_PATH = "/auth/callback";

function manager(config: OidcConfig): UserManager {
  const origin = window.location.origin;
  return new UserManager({
    authority: config.authority,
    client_id: config.client_id,
    redirect_uri: origin + CALLBACK_PATH,
    post_logout_redirect_uri: origin + "/",
    response_type: "code",
    scope: config.scope || "openid profile",
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });
}

export async function startSignIn(config: OidcConfig, returnTo: string): Promise<void> {
  await manager(config).signinRedirect({ state: { returnTo } });
}

/** On /auth/callback: the access token (the gateway verifies it with the provider's JWKS). */
export async function finishSignIn(config: OidcConfig): Promise<{ token: string; returnTo: string }> {
  const user = await manager(config).signinRedirectCallback();
  const state = (user.state ?? {}) as { returnTo?: string };
  return { token: user.access_token, returnTo: state.returnTo || "/" };
}

/** Ends the provider's session too (its end-session endpoint, with the ID token as the hint, then
 * back to the console); signoutRedirect forgets the stored user once it has read that hint. */
export async function signOutAtProvider(config: OidcConfig): Promise<void> {
  const m = manager(config);
  try {
    await m.signoutRedirect();
  } catch {
    await m.removeUser();
    window.location.assign("/"); // a provider without an end-session endpoint
  }
}
