// Sign-in. Under `make run`: a picker of the demo users, the gateway mints the token
// (POST /api/v1/dev/sign-in). In production: OIDC authorization code with PKCE.
import { Alert, Button, Card, Spin, Tag, Typography } from "antd";
import { useEffect, useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router";
import { api, unwrap, ApiError, type paths } from "../api";
import { session, useUser } from "../auth/session";
import { core } from "../i18n/core";
import { useT } from "../i18n";
import { useConsoleConfig } from "./config";

type DevUser = paths["/api/v1/dev/users"]["get"]["responses"][200]["content"]["application/json"]["items"][number];

export function SignIn() {
  const t = useT(core);
  const config = useConsoleConfig();
  const user = useUser();
  const [params] = useSearchParams();
  const next = params.get("next") || "/";
  if (user) return <Navigate to={next} replace />;
  return (
    <main style={{ maxWidth: 560, margin: "48px auto", padding: 16 }}>
      <Card>
        <Typography.Title level={1} style={{ fontSize: 24 }}>{t("signInTitle")}</Typography.Title>
        {session.expired && <Alert type="warning" showIcon title={t("sessionExpired")} style={{ marginBottom: 16 }} />}
        {config.sign_in === "dev" ? <DevPicker next={next} /> : <OidcButton next={next} />}
      </Card>
    </main>
  );
}

function DevPicker({ next }: { next: string }) {
  const t = useT(core);
  const navigate = useNavigate();
  const [users, setUsers] = useState<DevUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  useEffect(() => {
    unwrap(api.GET("/api/v1/dev/users"))
      .then((answer) => setUsers(answer.items))
      .catch((err: unknown) => setError(err instanceof ApiError ? err.problem.detail : String(err)));
  }, []);

  async function pick(userId: string) {
    setBusy(userId);
    setError(null);
    try {
      const answer = await unwrap(api.POST("/api/v1/dev/sign-in", { body: { user_id: userId } }));
      session.signIn(answer.access_token, "dev");
      navigate(next, { replace: true });
    } catch (err) {
      setError(err instanceof ApiError ? err.problem.detail : String(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <>
      <Typography.Paragraph type="secondary">{t("signInDevNote")}</Typography.Paragraph>
      {error && <Alert type="error" showIcon title={t("signInFailed")} description={error} style={{ marginBottom: 16 }} />}
      <Typography.Title level={2} style={{ fontSize: 16 }}>{t("signInAs")}</Typography.Title>
      {users === null && !error && <Spin />}
      <ul style={{ listStyle: "none", padding: 0, margin: 0 }}>
        {(users ?? []).map((u) => (
          <li key={u.user_id} style={{ display: "flex", alignItems: "center", justifyContent: "space-between", gap: 12,
            padding: "10px 0", borderBottom: "1px solid #f0f0f0" }}>
            <div>
              <Typography.Text strong>{u.name}</Typography.Text>
              <div>
                <Typography.Text type="secondary">{u.user_id}</Typography.Text>{" "}
                {u.roles.map((r) => <Tag key={r}>{r}</Tag>)}
                {u.region && <Typography.Text type="secondary">{u.region}</Typography.Text>}
              </div>
            </div>
            <Button type="primary" loading={busy === u.user_id} onClick={() => pick(u.user_id)}
              aria-label={`${u.name} (${u.user_id})`} data-user={u.user_id}>
              {t("signIn")}
            </Button>
          </li>
        ))}
      </ul>
    </>
  );
}

function OidcButton({ next }: { next: string }) {
  const t = useT(core);
  const config = useConsoleConfig();
  const [error, setError] = useState<string | null>(null);
  if (config.sign_in !== "oidc") return null;
  async function go() {
    try {
      const { startSignIn } = await import("../auth/oidc");
      if (config.sign_in === "oidc") await startSignIn(config.oidc, next);
    } catch (err) {
      setError(String(err));
    }
  }
  return (
    <>
      {error && <Alert type="error" showIcon title={t("signInFailed")} description={error} style={{ marginBottom: 16 }} />}
      <Button type="primary" size="large" onClick={go}>{t("signInOidc")}</Button>
    </>
  );
}

/** /auth/callback: the provider sent the user back with a code; trade it for the token. */
export function AuthCallback() {
  const t = useT(core);
  const config = useConsoleConfig();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (config.sign_in !== "oidc") {
      navigate("/sign-in", { replace: true });
      return;
    }
    import("../auth/oidc")
      .then(({ finishSignIn }) => finishSignIn(config.oidc))
      .then(({ token, returnTo }) => {
        session.signIn(token, "oidc");
        navigate(returnTo, { replace: true });
      })
      .catch((err: unknown) => setError(String(err)));
  }, [config, navigate]);
  return (
    <main style={{ maxWidth: 560, margin: "48px auto" }}>
      {error ? <Alert type="error" showIcon title={t("signInFailed")} description={error} /> : t("signingIn")}
    </main>
  );
}
