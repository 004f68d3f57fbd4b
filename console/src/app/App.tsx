// Providers and routes: locale (and antd's matching locale), runtime config, the router with
// every area's screens lazily loaded behind the sign-in and role checks.
import { App as AntApp, ConfigProvider, Spin } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { Suspense, useEffect, useMemo } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import type { ConsoleConfig } from "../auth/config";
import { hasRole, useUser } from "../auth/session";
import { Forbidden, NotFound } from "../components/StatusPage";
import { LocaleProvider, useLocale } from "../i18n";
import { AREAS } from "./areas";
import { ConfigContext } from "./config";
import { loadRoutes, type LoadedRoute } from "./registry";
import { navEntries, Shell } from "./Shell";
import { AuthCallback, SignIn } from "./SignIn";

const ROUTES = loadRoutes(AREAS);

function RequireUser({ children }: { children: React.ReactNode }) {
  const user = useUser();
  const location = useLocation();
  if (!user) {
    const next = location.pathname + location.search;
    return <Navigate to={`/sign-in${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`} replace />;
  }
  return <>{children}</>;
}

function Guarded({ route }: { route: LoadedRoute }) {
  const user = useUser();
  if (!hasRole(user, route.roles)) return <Forbidden />;
  return <route.Component />;
}

function Home() {
  const user = useUser();
  const first = navEntries(ROUTES, user?.roles ?? [])[0];
  return first ? <Navigate to={"/" + first.path} replace /> : <Forbidden />;
}

function Themed({ children }: { children: React.ReactNode }) {
  const { locale } = useLocale();
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  return (
    <ConfigProvider locale={locale === "zh-CN" ? zhCN : enUS} theme={{ token: { colorPrimary: "#1f5fbf" } }}>
      <AntApp>{children}</AntApp>
    </ConfigProvider>
  );
}

export function App({ config, routes = ROUTES }: { config: ConsoleConfig; routes?: LoadedRoute[] }) {
  const screens = useMemo(
    () => routes.map((r) => <Route key={r.path} path={r.path} element={<Guarded route={r} />} />),
    [routes],
  );
  return (
    <ConfigContext.Provider value={config}>
      <LocaleProvider>
        <Themed>
          <BrowserRouter>
            <Suspense fallback={<Spin />}>
              <Routes>
                <Route path="/sign-in" element={<SignIn />} />
                <Route path="/auth/callback" element={<AuthCallback />} />
                <Route element={<RequireUser><Shell routes={routes} /></RequireUser>}>
                  <Route index element={<Home />} />
                  {screens}
                  <Route path="*" element={<NotFound />} />
                </Route>
              </Routes>
            </Suspense>
          </BrowserRouter>
        </Themed>
      </LocaleProvider>
    </ConfigContext.Provider>
  );
}
