import { describe, expect, it } from "vitest";
import { parseConfig } from "./config";
import { decodeClaims, hasRole, session } from "./session";

function token(claims: object): string {
  const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s))).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(claims))}.sig`;
}

describe("session", () => {
  it("reads the user from the token, Chinese names included", () => {
    const user = decodeClaims(token({ sub: "rep.north.1", name: "张伟 Zhang Wei", roles: ["rep"], region: "north", exp: 2000000000 }));
    expect(user).toMatchObject({ id: "rep.north.1", name: "张伟 Zhang Wei", roles: ["rep"], region: "north" });
    expect(decodeClaims("garbage")).toBeNull();
    expect(decodeClaims(token({ name: "no subject" }))).toBeNull();
  });

  it("opens a screen to its roles, and every screen to an admin", () => {
    const rep = decodeClaims(token({ sub: "r", roles: ["rep"] }));
    const admin = decodeClaims(token({ sub: "a", roles: "admin" }));
    expect(hasRole(rep, ["rep", "manager"])).toBe(true);
    expect(hasRole(rep, ["support"])).toBe(false);
    expect(hasRole(admin, ["support"])).toBe(true);
    expect(hasRole(null, undefined)).toBe(false);
  });

  it("forgets the token on a 401 and says the session expired", () => {
    session.signIn(token({ sub: "rep.north.1", roles: ["rep"], exp: 2000000000 }), "dev");
    expect(sessionStorage.getItem("shuniu.token")).not.toBeNull();
    session.expire();
    expect(session.user()).toBeNull();
    expect(session.expired).toBe(true);
    expect(sessionStorage.getItem("shuniu.token")).toBeNull();
  });
});

describe("runtime config", () => {
  it("accepts dev sign-in or a complete OIDC provider, nothing else", () => {
    expect(parseConfig({ sign_in: "dev" })).toEqual({ sign_in: "dev" });
    expect(parseConfig({ sign_in: "oidc", oidc: { authority: "https://idp.example", client_id: "console" } }))
      .toEqual({ sign_in: "oidc", oidc: { authority: "https://idp.example", client_id: "console", scope: undefined } });
    expect(() => parseConfig({ sign_in: "oidc", oidc: { authority: "https://idp.example" } })).toThrow(/client_id/);
    expect(() => parseConfig(null)).toThrow();
  });
});
