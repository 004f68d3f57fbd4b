// "Export" on a list screen: starts an export job of that list with the filters the screen shows
// (POST /exports) and opens the job's page, which follows it to the download. A refusal (a role
// that may not export, a filter the list does not take) is the API's detail, in a toast.
import { Button, Tooltip, message } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router";
import { api, unwrap, ApiError } from "../../api";
import { useT } from "../../i18n";
import { xm } from "./exportMessages";
import { filtersOf, type ExportList } from "./exportJobs";

export function ExportButton({ list, filters }: {
  list: ExportList; filters: Record<string, string | number | boolean | null | undefined>;
}) {
  const t = useT(xm);
  const navigate = useNavigate();
  const [toast, holder] = message.useMessage();
  const [busy, setBusy] = useState(false);
  const start = async () => {
    setBusy(true);
    try {
      const job = await unwrap(api.POST("/api/v1/exports", { body: { list, format: "csv", filters: filtersOf(filters) } }));
      navigate(`/admin/exports/${encodeURIComponent(job.id)}`);
    } catch (err) {
      void toast.error(err instanceof ApiError ? err.problem.detail : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      {holder}
      <Tooltip title={t("startHereHint")}>
        <Button onClick={() => void start()} loading={busy} data-testid="export-list">{t("startHere")}</Button>
      </Tooltip>
    </>
  );
}
