// Who is signed in: the bearer token (sessionStorage: gone with the tab) and its claims. The
// console reads roles from the token only to choose what to show; the API enforces them.
import { useSyncExternalStore } from "react";

export interface User {
  id: string;
  name: string;
  roles: string[];
  team: string;
  region: string;
  expiresAt: number; // epoch ms
}

const TOKEN_KEY = "shuniu.token";
const KIND_KEY = "shuniu.signInKind";

export function decodeClaims(token: string): User | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = new TextDecoder().decode(
      Uint8Array.from(atob(part.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)),
    );
    const claims = JSON.parse(json) as Record<string, unknown>;
    const roles = Array.isArray(claims.roles)
      ? claims.roles.filter((r): r is string => typeof r === "string")
      : typeof claims.roles === "string" ? claims.roles.split(" ") : [];
    if (typeof claims.sub !== "string") return null;
    return {
      id: claims.sub,
      name: typeof claims.name === "string" && claims.name ? claims.name : claims.sub,
      roles,
      team: typeof claims.team === "string" ? claims.team : "",
      region: typeof claims.region === "string" ? claims.region : "",
      expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : 0,
    };
  } catch {
    return null;
  }
}

export type SignInKind = "dev" | "oidc";

class Session {
  private listeners = new Set<() => void>();
  private current: { token: string; user: User } | null = null;
  private expiredFlag = false;

  constructor() {
    const saved = globalThis.sessionStorage?.getItem(TOKEN_KEY);
    const user = saved ? decodeClaims(saved) : null;
    if (saved && user && user.expiresAt > Date.now()) this.current = { token: saved, user };
  }

  token(): string | null {
    return this.current?.token ?? null;
  }

  user(): User | null {
    return this.current?.user ?? null;
  }

  kind(): SignInKind | null {
    return (globalThis.sessionStorage?.getItem(KIND_KEY) as SignInKind | null) ?? null;
  }

  get expired(): boolean {
    return this.expiredFlag;
  }

  signIn(token: string, kind: SignInKind): User {
    const user = decodeClaims(token);
    if (!user) throw new Error("the token carries no subject");
    this.current = { token, user };
    this.expiredFlag = false;
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(KIND_KEY, kind);
    this.emit();
    return user;
  }

  signOut(): void {
    this.current = null;
    sessionStorage.removeItem(TOKEN_KEY);
    this.emit();
  }

  /** The API answered 401: forget the token and say why on the sign-in page. */
  expire(): void {
    if (!this.current) return;
    this.expiredFlag = true;
    this.signOut();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private emit(): void {
    for (const listener of this.listeners) listener();
  }
}

export const session = new Session();

export function useUser(): User | null {
  return useSyncExternalStore(session.subscribe, () => session.user());
}

/** Admins open every screen (as the API lets them do everything); others need one of `roles`. */
export function hasRole(user: User | null, roles: readonly string[] | undefined): boolean {
  if (!user) return false;
  if (!roles || roles.length === 0) return true;
  if (user.roles.includes("admin")) return true;
  return roles.some((r) => user.roles.includes(r));
}
