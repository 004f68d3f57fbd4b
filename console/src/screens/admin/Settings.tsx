// Administrator settings in tabs: custom fields and picklists (add one here), then the sales and
// support settings, each tab an editor saving its sections with the version read. Each part loads on its own: a role that may read one
// and not the other sees the other's refusal in its tab only.
import { Spin, Tabs, Typography } from "antd";
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { useT } from "../../i18n";
import { CustomFields } from "./CustomFields";
import { m } from "./messages";
import { pm } from "./picklistMessages";
import { Picklists } from "./Picklists";
import { AssignmentRules, RoutingRules, SlaPolicies, StagesAndRules } from "./SettingsTables";

type Loaded<T> = { value: T | null; error: ApiError | null; reload: () => void; set: (v: T) => void };

function useLoad<T>(fetch: () => Promise<T>): Loaded<T> {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const reload = useCallback(() => {
    setError(null);
    fetch().then(setValue).catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []); // fetch is a constant call below
  useEffect(reload, [reload]);
  return { value, error, reload, set: setValue };
}

function show<T>(loaded: Loaded<T>, render: (v: T) => ReactNode) {
  if (loaded.error) return <LoadError error={loaded.error} retry={loaded.reload} />;
  if (!loaded.value) return <Spin />;
  return render(loaded.value);
}

export default function Settings() {
  const t = useT(m);
  const tp = useT(pm);
  const sales = useLoad<Schema<"SalesSettings">>(() => unwrap(api.GET("/api/v1/sales/settings")));
  const support = useLoad<Schema<"SupportSettings">>(() => unwrap(api.GET("/api/v1/support/sla-policies")));
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("settingsTitle")}</Typography.Title>
      <Tabs
        items={[
          { key: "fields", label: t("tabFields"), children: <CustomFields /> },
          { key: "picklists", label: tp("tabPicklists"), children: <Picklists /> },
          { key: "stages", label: t("tabStages"), children: show(sales, (s) => <StagesAndRules sales={s} onSaved={sales.set} />) },
          { key: "assignment", label: t("tabAssignment"), children: show(sales, (s) => <AssignmentRules sales={s} onSaved={sales.set} />) },
          { key: "sla", label: t("tabSla"), children: show(support, (s) => <SlaPolicies support={s} onSaved={support.set} />) },
          { key: "routing", label: t("tabRouting"), children: show(support, (s) => <RoutingRules support={s} onSaved={support.set} />) },
        ]}
      />
    </>
  );
}
