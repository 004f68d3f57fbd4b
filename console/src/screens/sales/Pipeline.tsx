// The pipeline board: the caller's opportunities (the API's visibility) in one column per stage,
// each column its own cursor list. Dragging a card (or "Move to" from the keyboard) asks the API
// to change the stage; the card moves only when the API accepts, and the stage gate's refusal is
// shown in the API's words with the card left where it was (board.ts holds that rule).
import {
  DndContext, DragOverlay, KeyboardSensor, PointerSensor, useDraggable, useDroppable, useSensor, useSensors,
  type DragEndEvent, type DragStartEvent,
} from "@dnd-kit/core";
import { HolderOutlined } from "@ant-design/icons";
import { Alert, Button, Flex, Form, Input, Modal, Select, Spin, Tag, Typography } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { core } from "../../i18n/core";
import { formatDate, formatMoney } from "../../i18n/format";
import {
  boardStages, emptyBoard, inPipeline, moveAccepted, moveCancelled, moveRefused, planMove, startMove, withPage,
  type BoardState, type Opportunity, type Stage,
} from "./board";
import { stageName, TAG } from "./labels";
import { m } from "./messages";

const COLUMN_PAGE = 20;

function changeStage(card: Opportunity, stage: string, lossReason?: string): Promise<Opportunity> {
  return unwrap(api.POST("/api/v1/opportunities/{id}/stage", {
    params: { path: { id: card.id ?? "" }, header: card.version ? { "If-Match": `"${card.version}"` } : {} },
    body: { stage, ...(lossReason !== undefined ? { loss_reason: lossReason } : {}) },
  }));
}

export default function Pipeline() {
  const t = useT(m);
  const { locale } = useLocale();
  const [settings, setSettings] = useState<Schema<"SalesSettings"> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [pipelineId, setPipelineId] = useState("");
  const [board, setBoard] = useState<BoardState>(() => emptyBoard([]));
  const [loadingColumns, setLoadingColumns] = useState<Set<string>>(new Set());
  const [dragging, setDragging] = useState<Opportunity | null>(null);
  const [askLoss, setAskLoss] = useState<{ card: Opportunity; to: string } | null>(null);

  const loadSettings = useCallback(() => {
    setError(null);
    unwrap(api.GET("/api/v1/sales/settings"))
      .then((s) => { setSettings(s); setPipelineId((id) => id || s.pipelines?.[0]?.id || ""); })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, []);
  useEffect(loadSettings, [loadSettings]);

  const stages = useMemo(() => boardStages(settings, pipelineId), [settings, pipelineId]);
  const firstPipeline = settings?.pipelines?.[0]?.id ?? "";

  const loadColumn = useCallback(async (stage: string, token: string) => {
    setLoadingColumns((s) => new Set(s).add(stage));
    try {
      const page = await unwrap(api.GET("/api/v1/opportunities", {
        params: { query: { stage, page_size: COLUMN_PAGE, page_token: token || undefined } },
      }));
      const mine = page.items.filter((o) => inPipeline(o, pipelineId, firstPipeline));
      setBoard((b) => withPage(b, stage, mine, page.next_page_token, Boolean(token)));
    } catch (err) {
      setError(err instanceof ApiError ? err : null);
    } finally {
      setLoadingColumns((s) => { const n = new Set(s); n.delete(stage); return n; });
    }
  }, [pipelineId, firstPipeline]);

  useEffect(() => {
    setBoard(emptyBoard(stages));
    for (const s of stages) void loadColumn(s.key ?? "", "");
  }, [stages, loadColumn]);

  const move = useCallback(async (id: string, to: string) => {
    const plan = planMove(board, stages, id, to);
    if (plan.kind === "ignore") return;
    if (plan.kind === "ask_loss_reason") {
      setAskLoss({ card: plan.card, to });
      return;
    }
    setBoard((b) => startMove(b, id));
    try {
      const updated = await changeStage(plan.card, to);
      setBoard((b) => moveAccepted(b, updated));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      setBoard((b) => moveRefused(b, plan.card, to, err));
      if (err.status === 409) void loadColumn(plan.from, ""); // changed meanwhile: fetch its new version
    }
  }, [board, stages, loadColumn]);

  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor),
  );
  const onDragStart = (e: DragStartEvent) => setDragging((e.active.data.current?.card as Opportunity) ?? null);
  const onDragEnd = (e: DragEndEvent) => {
    setDragging(null);
    if (e.over) void move(String(e.active.id), String(e.over.id));
  };

  if (error) return <LoadError error={error} retry={loadSettings} />;
  if (!settings) return <Spin />;
  const nameOf = (key: string) => stageName(locale, stages.find((s) => s.key === key) ?? { key });
  const refusal = board.refusal;

  return (
    <>
      <Flex justify="space-between" align="center" wrap gap="small">
        <Typography.Title level={1} style={{ fontSize: 22 }}>{t("pipelineTitle")}</Typography.Title>
        {(settings.pipelines?.length ?? 0) > 1 && (
          <Select aria-label={t("pipelineChoose")} value={pipelineId} onChange={setPipelineId} style={{ width: 240 }}
            options={(settings.pipelines ?? []).map((p) => ({ value: p.id ?? "", label: p.name || p.id }))} />
        )}
      </Flex>
      <Typography.Paragraph type="secondary">{t("pipelineHint")}</Typography.Paragraph>
      {refusal && (
        <Alert
          type="error" showIcon closable role="alert" data-testid="stage-refusal" style={{ marginBottom: 16 }}
          onClose={() => setBoard((b) => ({ ...b, refusal: null }))}
          title={t(refusal.status === 409 ? "moveStale" : "moveRefused", { name: refusal.opportunityName, stage: nameOf(refusal.to) })}
          description={
            <>
              <div data-testid="stage-refusal-detail">{refusal.detail}</div>
              {/* the fields the gate names, unless their words are the detail's again */}
              {refusal.errors.some((e) => e.message !== refusal.detail) && (
                <ul style={{ margin: "4px 0 0", paddingInlineStart: 20 }}>
                  {refusal.errors.map((e) => <li key={e.field + e.message}><code>{e.field}</code>: {e.message}</li>)}
                </ul>
              )}
            </>
          }
        />
      )}
      <DndContext sensors={sensors} onDragStart={onDragStart} onDragEnd={onDragEnd} onDragCancel={() => setDragging(null)}
        accessibility={{
          screenReaderInstructions: { draggable: t("dragInstructions") },
          announcements: {
            onDragStart: ({ active }) => t("dragPicked", { name: String(active.data.current?.name ?? "") }),
            onDragOver: ({ over }) => (over ? t("dragOver", { stage: nameOf(String(over.id)) }) : undefined),
            onDragEnd: ({ over }) => (over ? t("dragDropped", { stage: nameOf(String(over.id)) }) : undefined),
            onDragCancel: () => t("dragCancelled"),
          },
        }}>
        <div className="pipeline-board" style={{ display: "flex", gap: 12, overflowX: "auto", paddingBottom: 8, alignItems: "flex-start" }}>
          {stages.map((stage) => (
            <Column key={stage.key} stage={stage} stages={stages} board={board}
              loading={loadingColumns.has(stage.key ?? "")}
              onMore={() => void loadColumn(stage.key ?? "", board.next[stage.key ?? ""] ?? "")}
              onMove={(id, to) => void move(id, to)} />
          ))}
        </div>
        <DragOverlay>{dragging ? <CardBody card={dragging} /> : null}</DragOverlay>
      </DndContext>
      {askLoss && (
        <LossReason card={askLoss.card} stage={nameOf(askLoss.to)}
          submit={(reason) => changeStage(askLoss.card, askLoss.to, reason)}
          onDone={(updated) => { setAskLoss(null); setBoard((b) => (updated ? moveAccepted(b, updated) : moveCancelled(b))); }} />
      )}
    </>
  );
}

function Column({ stage, stages, board, loading, onMore, onMove }: {
  stage: Stage; stages: Stage[]; board: BoardState; loading: boolean;
  onMore: () => void; onMove: (id: string, to: string) => void;
}) {
  const t = useT(m);
  const tc = useT(core);
  const { locale } = useLocale();
  const key = stage.key ?? "";
  const { setNodeRef, isOver } = useDroppable({ id: key });
  const cards = board.columns[key] ?? [];
  const headingId = `stage-${key}`;
  return (
    <section ref={setNodeRef} aria-labelledby={headingId} data-stage={key} data-testid={`column-${key}`}
      style={{ flex: "0 0 240px", background: isOver ? "#dce8fb" : "#e9ebef", borderRadius: 8, padding: 8, minHeight: 200 }}>
      <h2 id={headingId} style={{ fontSize: 15, margin: "4px 4px 8px" }}>
        {stageName(locale, stage)} <Typography.Text type="secondary" style={{ fontWeight: 400 }}>
          {t("stageMeta", { n: cards.length, p: stage.probability ?? 0 })}
        </Typography.Text>
      </h2>
      <Flex vertical gap={8}>
        {cards.map((card) => (
          <Card key={card.id} card={card} stages={stages} moving={board.moving === card.id}
            refused={board.refusal?.opportunityId === card.id} onMove={onMove} />
        ))}
        {loading && <Spin size="small" aria-label={tc("loading")} />}
        {!loading && cards.length === 0 && <Typography.Text type="secondary">{t("columnEmpty")}</Typography.Text>}
        {board.next[key] && <Button size="small" onClick={onMore} loading={loading}>{tc("loadMore")}</Button>}
      </Flex>
    </section>
  );
}

function Card({ card, stages, moving, refused, onMove }: {
  card: Opportunity; stages: Stage[]; moving: boolean; refused: boolean; onMove: (id: string, to: string) => void;
}) {
  const t = useT(m);
  const { locale } = useLocale();
  const open = !card.status || card.status === "open";
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({
    id: card.id ?? "", data: { card, name: card.name }, disabled: !open || moving,
  });
  return (
    <article data-testid="deal-card" data-id={card.id} aria-label={card.name}
      style={{ background: "#fff", borderRadius: 6, padding: 8, opacity: isDragging || moving ? 0.5 : 1,
        border: refused ? "1px solid #cf1322" : "1px solid #d9d9d9" }}>
      <Flex gap={4} align="start">
        {open && (
          <button ref={setNodeRef} type="button" {...attributes} {...listeners} data-testid="drag-handle"
            aria-label={t("dragHandle", { name: card.name ?? "" })}
            style={{ cursor: "grab", border: "none", background: "transparent", padding: "2px 0", touchAction: "none" }}>
            <HolderOutlined />
          </button>
        )}
        <div style={{ minWidth: 0, flex: 1 }}><CardBody card={card} /></div>
      </Flex>
      {refused && <Tag color={TAG.bad} style={{ marginTop: 4 }}>{t("refusedTag")}</Tag>}
      {open && (
        <Select size="small" style={{ width: "100%", marginTop: 6 }} value={null} placeholder={t("moveTo")}
          aria-label={t("moveToLabel", { name: card.name ?? "" })} disabled={moving}
          onChange={(to: string | null) => to && onMove(card.id ?? "", to)}
          options={stages.filter((s) => s.key !== card.stage).map((s) => ({ value: s.key ?? "", label: stageName(locale, s) }))} />
      )}
      <Flex gap={8} wrap style={{ marginTop: 4, fontSize: 12 }}>
        {card.contact_id && <Link to={`/customers/${encodeURIComponent(card.contact_id)}`}>{t("customer")}</Link>}
        {open && <Link to={`/quotes/new?opportunity=${encodeURIComponent(card.id ?? "")}`}>{t("newQuote")}</Link>}
      </Flex>
    </article>
  );
}

function CardBody({ card }: { card: Opportunity }) {
  const t = useT(m);
  const { locale } = useLocale();
  return (
    <>
      <Typography.Text strong style={{ display: "block" }}>{card.name}</Typography.Text>
      {card.account_name && <Typography.Text type="secondary" style={{ display: "block", fontSize: 12 }}>{card.account_name}</Typography.Text>}
      <Typography.Text style={{ display: "block" }}>{formatMoney(card.amount, locale) || t("noAmount")}</Typography.Text>
      {card.expected_close_date && (
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t("closes", { date: formatDate(card.expected_close_date, locale) })}</Typography.Text>
      )}
    </>
  );
}

/** Moving to a lost stage asks why (the API requires it); its refusal sits beside the field. */
function LossReason({ card, stage, submit, onDone }: {
  card: Opportunity; stage: string; submit: (reason: string) => Promise<Opportunity>; onDone: (updated: Opportunity | null) => void;
}) {
  const t = useT(m);
  const f = useApiForm<{ loss_reason: string }, Opportunity>({
    fields: ["loss_reason"],
    submit: (v) => submit(v.loss_reason ?? ""),
    onSuccess: (updated) => onDone(updated),
  });
  return (
    <Modal open title={t("lossTitle", { name: card.name ?? "", stage })} onCancel={() => onDone(null)}
      okText={t("lossConfirm")} onOk={() => f.form.submit()} confirmLoading={f.submitting} destroyOnHidden>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="loss_reason" label={t("lossReason")}>
          <Input.TextArea rows={3} maxLength={500} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
