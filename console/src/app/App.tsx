// Providers and routes: locale (and antd's matching locale), runtime config, the router with
// every area's screens lazily loaded behind the sign-in and role checks.
import { App as AntApp, ConfigProvider, Spin } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import { lazy, Suspense, useEffect, useMemo } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import type { ConsoleConfig } from "../auth/config";
import { hasRole, useUser } from "../auth/session";
import { LocaleProvider, useLocale } from "../i18n";
import { AREAS } from "./areas";
import { ConfigContext } from "./config";
import { loadRoutes, type LoadedRoute } from "./registry";
import { navEntries, Shell } from "./Shell";

// Off the initial bundle: the sign-in page (seen once a session) and the status pages.
const SignIn = lazy(() => import("./SignIn").then((m) => ({ default: m.SignIn })));
const AuthCallback = lazy(() => import("./SignIn").then((m) => ({ default: m.AuthCallback })));
const NotFound = lazy(() => import("../components/StatusPage").then((m) => ({ default: m.NotFound })));
const Forbidden = lazy(() => import("../components/StatusPage").then((m) => ({ default: m.Forbidden })));

const ROUTES = loadRoutes(AREAS);
// antd's default greys for secondary text fall short of WCAG AA contrast (axe: color-contrast);
// these keep 4.5:1 on white and on antd's light backgrounds.
const THEME = {
  token: {
    colorPrimary: "#1f5fbf",
    // antd lightens a hovered primary button (white on it fell to 4.2:1); darken it instead
    colorPrimaryHover: "#184c99",
    colorPrimaryActive: "#123a75",
    colorLinkHover: "#184c99",
    colorLink: "#1f5fbf",
    colorInfo: "#1f5fbf",
    colorTextSecondary: "#595959",
    colorTextTertiary: "#595959",
    colorTextDescription: "#595959",
    colorTextPlaceholder: "#707070",
    // antd draws empty-table texts and hints in the quaternary grey (#bfbfbf: 1.8:1)
    colorTextQuaternary: "#767676",
    colorTextDisabled: "#767676",
    // field errors beside their fields and danger buttons: antd's #ff4d4f is 3.3:1 on white
    colorError: "#c41d1d",
  },
};

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
    <ConfigProvider locale={locale === "zh-CN" ? zhCN : enUS} theme={THEME}
      button={{ autoInsertSpace: false /* "保存", not "保 存": the label reads as written */ }}>
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
