// The frame around every screen: navigation by the token's roles, language switch, sign out.
import { Layout, Menu, Segmented, Button, Space, Typography, Spin } from "antd";
import { Suspense, useMemo } from "react";
import { Outlet, useLocation, useNavigate } from "react-router";
import { hasRole, session, useUser } from "../auth/session";
import { core } from "../i18n/core";
import { useLabel, useLocale, useT, type Locale } from "../i18n";
import { useConsoleConfig } from "./config";
import type { LoadedRoute } from "./registry";

export function navEntries(routes: readonly LoadedRoute[], roles: string[]): LoadedRoute[] {
  const user = { id: "", name: "", roles, team: "", region: "", expiresAt: 0 };
  return routes
    .filter((r) => r.nav && hasRole(user, r.roles))
    .sort((a, b) => (a.nav?.order ?? 100) - (b.nav?.order ?? 100));
}

export function Shell({ routes }: { routes: readonly LoadedRoute[] }) {
  const t = useT(core);
  const label = useLabel();
  const { locale, setLocale } = useLocale();
  const user = useUser();
  const navigate = useNavigate();
  const location = useLocation();
  const config = useConsoleConfig();
  const entries = useMemo(() => navEntries(routes, user?.roles ?? []), [routes, user]);
  const selected = entries
    .map((r) => "/" + r.path)
    .filter((p) => location.pathname === p || location.pathname.startsWith(p + "/"))
    .sort((a, b) => b.length - a.length)[0];

  async function signOut() {
    session.signOut();
    if (config.sign_in === "oidc") {
      const { signOutAtProvider } = await import("../auth/oidc");
      await signOutAtProvider(config.oidc);
    } else {
      navigate("/sign-in");
    }
  }

  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Sider breakpoint="lg" collapsedWidth={0} theme="light" width={220}>
        <div style={{ padding: "16px 20px", fontWeight: 600, fontSize: 16 }}>{t("appName")}</div>
        <nav aria-label={t("mainNav")}>
          <Menu
            mode="inline"
            selectedKeys={selected ? [selected] : []}
            items={entries.map((r) => {
              const Icon = r.nav?.icon;
              return { key: "/" + r.path, icon: Icon ? <Icon /> : undefined, label: label(r.nav!.label) };
            })}
            onClick={({ key }) => navigate(key)}
          />
        </nav>
      </Layout.Sider>
      <Layout>
        <Layout.Header style={{ background: "#fff", display: "flex", justifyContent: "flex-end", paddingInline: 24 }}>
          <Space size="middle">
            <Typography.Text data-testid="current-user">{user?.name}</Typography.Text>
            <Segmented<Locale>
              aria-label={t("language")}
              value={locale}
              onChange={setLocale}
              options={[{ label: "中文", value: "zh-CN" }, { label: "English", value: "en" }]}
            />
            <Button onClick={signOut}>{t("signOut")}</Button>
          </Space>
        </Layout.Header>
        {/* antd's Content is the page's <main> landmark */}
        <Layout.Content style={{ padding: 24 }}>
          <Suspense fallback={<Spin aria-label={t("loading")} />}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
