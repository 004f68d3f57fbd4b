import { Button, Result } from "antd";
import { Link } from "react-router";
import { core } from "../i18n/core";
import { useT } from "../i18n";
import type { ApiError } from "../api/problem";

/** The API's 404 (or a path the console does not have): "not found", never a blank page. */
export function NotFound() {
  const t = useT(core);
  return (
    <Result
      status="404"
      title={<h1 className="status-title">{t("notFound")}</h1>}
      subTitle={t("notFoundDetail")}
      extra={<Link to="/"><Button type="primary">{t("backHome")}</Button></Link>}
    />
  );
}

export function Forbidden() {
  const t = useT(core);
  return (
    <Result
      status="403"
      title={<h1 className="status-title">{t("forbidden")}</h1>}
      subTitle={t("forbiddenDetail")}
      extra={<Link to="/"><Button type="primary">{t("backHome")}</Button></Link>}
    />
  );
}

/** A failed load: the 404 page for a 404, else the problem's detail with a retry. */
export function LoadError({ error, retry }: { error: ApiError; retry?: () => void }) {
  const t = useT(core);
  if (error.isNotFound) return <NotFound />;
  if (error.status === 403) return <Forbidden />;
  return (
    <Result
      status="error"
      title={<h1 className="status-title">{t("error")}</h1>}
      subTitle={error.problem.detail}
      extra={retry ? <Button onClick={retry}>{t("retry")}</Button> : undefined}
    />
  );
}
