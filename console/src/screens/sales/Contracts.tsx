// Contracts: the list the API lets the caller see (filter by status or opportunity; paged with the
// API's cursor), a contract from an accepted quote, and one contract's details in a drawer with its
// next statuses (If-Match: the version shown). The drawer is addressable (?contract=<id>) and reads
// the contract by id, so a link opens it; one the caller may not see answers 404, shown as such.
import { Button, Card, Descriptions, Drawer, Flex, Form, Input, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, unwrap, ApiError } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { useDebounced } from "../../components/useDebounced";
import { LoadError } from "../../components/StatusPage";
import { EMPTY_TEXT, TONE, type Tone } from "../../components/tones";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { formatDate, formatDateTime, formatMoney, formatNumber } from "../../i18n/format";
import { useLocale, useT } from "../../i18n";
import { CONTRACT_STATUSES, nextStatuses, type Contract, type ContractStatus } from "./operations";
import { m } from "./messages";
import { om } from "./opsMessages";

const PAGE_SIZE = 50;
const TONES: Record<string, Tone> = { draft: "grey", signed: "blue", active: "green", expired: "gold", terminated: "grey" };

function useStatusLabel() {
  const t = useT(om);
  return useCallback((s: string | undefined) =>
    (CONTRACT_STATUSES as readonly string[]).includes(s ?? "") ? t(`cstatus_${s as ContractStatus}`) : s ?? "", [t]);
}

export default function Contracts() {
  const t = useT(om);
  const { locale } = useLocale();
  const statusLabel = useStatusLabel();
  const tm = useT(m);
  const [params, setParams] = useSearchParams();
  const [status, setStatus] = useState<ContractStatus>();
  const [opportunity, setOpportunity] = useState(params.get("opportunity") ?? "");
  const opp = useDebounced(opportunity.trim(), 300);
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Contract>> => {
    const a = await unwrap(api.GET("/api/v1/contracts", { params: { query: {
      status, opportunity_id: opp || undefined, page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: a.items, next_page_token: a.next_page_token };
  }, [status, opp]);
  const pages = useCursorPages<Contract>(fetchPage, `${status ?? ""}|${opp}`);
  const { reload, error, loading } = pages;
  const items = pages.loaded ? pages.items : null;

  // The open contract, by id from the address: read from the API, not from the list's row.
  const openId = params.get("contract") ?? "";
  const [open, setOpen] = useState<Contract | null>(null);
  const [openProblem, setOpenProblem] = useState<string | null>(null);
  useEffect(() => {
    setOpenProblem(null);
    if (!openId) { setOpen(null); return; }
    let live = true;
    unwrap(api.GET("/api/v1/contracts/{id}", { params: { path: { id: openId } } }))
      .then((c) => { if (live) setOpen(c); })
      .catch((err: unknown) => { if (live) { setOpen(null); setOpenProblem(err instanceof ApiError ? err.problem.detail : String(err)); } });
    return () => { live = false; };
  }, [openId]);
  const show = useCallback((id: string | undefined) => setParams((p) => {
    const next = new URLSearchParams(p);
    if (id) next.set("contract", id); else next.delete("contract");
    return next;
  }), [setParams]);

  const columns = useMemo(() => [
    { title: t("colNumber"), key: "number", render: (_: unknown, c: Contract) => (
      <Button type="link" style={{ padding: 0 }} onClick={() => show(c.id)}>{c.number || c.id}</Button>
    ) },
    { title: t("colTotal"), key: "total", align: "right" as const, render: (_: unknown, c: Contract) => formatMoney(c.total, locale) },
    { title: t("colStatus"), dataIndex: "status", key: "status",
      render: (s: string) => <Tag style={TONE[TONES[s] ?? "grey"]}>{statusLabel(s)}</Tag> },
    { title: t("colStart"), dataIndex: "start_date", key: "start", render: (v: string) => formatDate(v, locale) },
    { title: t("colEnd"), dataIndex: "end_date", key: "end", render: (v: string) => formatDate(v, locale) },
    { title: t("colOwner"), dataIndex: "owner_id", key: "owner" },
    { title: t("colUpdated"), dataIndex: "updated_at", key: "updated", render: (v: string) => formatDateTime(v, locale) },
  ], [t, locale, statusLabel, show]);

  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("contractsTitle")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("contractsNote")}</Typography.Paragraph>
      <NewContract initialQuote={params.get("quote") ?? ""} onCreated={(c) => { reload(); setOpen(c); show(c.id); }} />
      {openProblem && <Typography.Paragraph type="danger" role="alert">{openProblem}</Typography.Paragraph>}
      <Flex wrap gap="middle" style={{ marginBottom: 16 }}>
        <Select aria-label={t("filterStatus")} placeholder={t("filterStatus")} allowClear style={{ width: 160 }}
          value={status} onChange={setStatus} options={CONTRACT_STATUSES.map((s) => ({ value: s, label: statusLabel(s) }))} />
        <Input aria-label={t("filterOpportunity")} placeholder={t("filterOpportunity")} allowClear style={{ width: 240 }}
          value={opportunity} onChange={(e) => setOpportunity(e.target.value)} />
      </Flex>
      {error ? <LoadError error={error} retry={reload} /> : (
        <>
          <div data-testid="contracts">
            <Table<Contract> rowKey="id" columns={columns} dataSource={items ?? []} loading={loading} pagination={false} size="middle"
              locale={{ emptyText: <span style={EMPTY_TEXT}>{items === null ? "" : t("noContracts")}</span> }} />
          </div>
          {(pages.hasNext || pages.hasPrevious) && (
            <PagerButtons pages={pages} labels={{ previous: tm("previous"), next: tm("next"), page: tm("page", { n: pages.page }) }} />
          )}
        </>
      )}
      <ContractDrawer contract={open} onClose={() => { setOpen(null); show(undefined); }} onChanged={(c) => { setOpen(c); reload(); }} />
    </>
  );
}

interface NewValues { quote_id?: string; start_date?: string; end_date?: string }

function NewContract({ initialQuote, onCreated }: { initialQuote: string; onCreated: (c: Contract) => void }) {
  const t = useT(om);
  const [toast, holder] = message.useMessage();
  const f = useApiForm<NewValues, Contract>({
    fields: ["quote_id", "start_date", "end_date"],
    strip: ["contract."],
    submit: (v) => unwrap(api.POST("/api/v1/contracts", { body: {
      quote_id: v.quote_id?.trim() ?? "", start_date: v.start_date || undefined, end_date: v.end_date || undefined,
    } })),
    onSuccess: (c) => { void toast.success(t("created", { n: c.number ?? "" })); onCreated(c); },
  });
  return (
    <Card title={<h2 className="card-title">{t("newContract")}</h2>} style={{ marginBottom: 16 }}>
      {holder}
      <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ quote_id: initialQuote }}>
        <ProblemAlert {...f.alert} />
        <Flex wrap gap="middle" align="flex-start">
          <Form.Item name="quote_id" label={t("quoteId")}><Input style={{ width: 260 }} spellCheck={false} /></Form.Item>
          <Form.Item name="start_date" label={t("startDate")}><Input type="date" /></Form.Item>
          <Form.Item name="end_date" label={t("endDate")}><Input type="date" /></Form.Item>
        </Flex>
        <Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button>
      </Form>
    </Card>
  );
}

function ContractDrawer({ contract, onClose, onChanged }: {
  contract: Contract | null; onClose: () => void; onChanged: (c: Contract) => void;
}) {
  const t = useT(om);
  const { locale } = useLocale();
  const statusLabel = useStatusLabel();
  const [toast, holder] = message.useMessage();
  const [busy, setBusy] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => setProblem(null), [contract?.id]);
  const move = async (c: Contract, status: ContractStatus) => {
    setBusy(status);
    setProblem(null);
    try {
      const v = Number(c.version ?? 0);
      const moved = await unwrap(api.POST("/api/v1/contracts/{id}/status", {
        params: { path: { id: c.id ?? "" }, ...(v > 0 ? { header: { "If-Match": `"${v}"` } } : {}) }, body: { status },
      }));
      void toast.success(t("moved", { status: statusLabel(moved.status) }));
      onChanged(moved);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setProblem(err.problem.detail);
    } finally {
      setBusy(null);
    }
  };
  const next = nextStatuses(contract?.status);
  return (
    <Drawer open={contract !== null} onClose={onClose} size={520} closable={{ "aria-label": t("close") }}
            title={contract ? <h2 className="card-title">{t("detailTitle", { n: contract.number || contract.id || "" })}</h2> : null}>
      {holder}
      {contract && (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Descriptions column={1} size="small" data-testid="contract-detail">
            <Descriptions.Item label={t("colStatus")}>{statusLabel(contract.status)}</Descriptions.Item>
            <Descriptions.Item label={t("colTotal")}>{formatMoney(contract.total, locale)}</Descriptions.Item>
            <Descriptions.Item label={t("quote")}>
              {contract.quote_id ? <Link to={`/quotes/${encodeURIComponent(contract.quote_id)}`}>{contract.quote_id}</Link> : "—"}
            </Descriptions.Item>
            <Descriptions.Item label={t("opportunity")}>
              {contract.opportunity_id ? <Link to={`/opportunities/${encodeURIComponent(contract.opportunity_id)}`}>{contract.opportunity_id}</Link> : "—"}
            </Descriptions.Item>
            <Descriptions.Item label={t("account")}>{contract.account_id || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("contact")}>
              {contract.contact_id ? <Link to={`/customers/${encodeURIComponent(contract.contact_id)}`}>{contract.contact_id}</Link> : "—"}
            </Descriptions.Item>
            <Descriptions.Item label={t("colStart")}>{formatDate(contract.start_date, locale) || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("colEnd")}>{formatDate(contract.end_date, locale) || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("signedAt")}>{formatDateTime(contract.signed_at, locale) || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("colOwner")}>{contract.owner_id}</Descriptions.Item>
            <Descriptions.Item label={t("team")}>{contract.team || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("region")}>{contract.region || "—"}</Descriptions.Item>
            <Descriptions.Item label={t("version")}>{formatNumber(Number(contract.version ?? 0), locale)}</Descriptions.Item>
            <Descriptions.Item label={t("createdAt")}>{formatDateTime(contract.created_at, locale)}</Descriptions.Item>
          </Descriptions>
          {problem && <Typography.Text type="danger" role="alert">{problem}</Typography.Text>}
          {next.length === 0 ? <Typography.Text type="secondary">{t("noMoves")}</Typography.Text> : (
            <Space wrap>
              <Typography.Text>{t("moveTo")}</Typography.Text>
              {next.map((s) => (
                <Button key={s} loading={busy === s} disabled={busy !== null} onClick={() => void move(contract, s)}>{statusLabel(s)}</Button>
              ))}
            </Space>
          )}
        </Space>
      )}
    </Drawer>
  );
}
