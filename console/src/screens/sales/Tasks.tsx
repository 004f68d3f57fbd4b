// My tasks and reminders: what is due today (the reader's own day), what is overdue, every open
// task, and those done; each page from the API's cursors. Completing or cancelling a task is
// one call; the reminders that fired for me sit beside the list.
import { Button, Card, Col, Empty, Form, Input, List, Row, Segmented, Select, Space, Table, Tag, Typography, message } from "antd";
import { useCallback, useEffect, useMemo, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { useUser } from "../../auth/session";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { formatDateTime, formatRelative } from "../../i18n/format";
import { label, TAG } from "./labels";
import { m } from "./messages";
import { dayWindow, localToIso } from "./time";

type Task = Schema<"Task">;
type View = "today" | "overdue" | "open" | "done";
const PAGE_SIZE = 20;
const KINDS = ["call", "email", "meeting", "follow_up", "response", "other"] as const;

export default function Tasks() {
  const t = useT(m);
  const { locale } = useLocale();
  const user = useUser();
  const me = user?.id ?? "";
  const [view, setView] = useState<View>("today");
  const [toast, holder] = message.useMessage();
  const [actionError, setActionError] = useState<ApiError | null>(null);

  const key = JSON.stringify([view, me]);
  const fetchPage = useCallback((token: string): Promise<Page<Task>> => {
    const [from, to] = dayWindow(new Date());
    const query = {
      today: { status: "open" as const, due_from: from, due_to: to },
      overdue: { overdue_only: true },
      open: { status: "open" as const },
      done: { status: "done" as const },
    }[view];
    return unwrap(api.GET("/api/v1/tasks", {
      params: { query: { owner_id: me, ...query, page_size: PAGE_SIZE, page_token: token || undefined } },
    }));
  }, [key]); // key holds the view and the user
  const pages = useCursorPages<Task>(fetchPage, key);
  const reminders = useReminders();

  const finish = useCallback(async (task: Task, cancel: boolean) => {
    setActionError(null);
    try {
      await unwrap(api.POST("/api/v1/tasks/{id}/complete", { params: { path: { id: task.id ?? "" }, query: cancel ? { cancel: true } : {} } }));
      void toast.success(t(cancel ? "taskCancelled" : "taskDone"));
      pages.reload();
    } catch (err) {
      if (err instanceof ApiError) setActionError(err);
      else throw err;
    }
  }, [pages, t, toast]);

  const columns = useMemo(() => [
    { title: t("colTask"), key: "title", render: (_: unknown, x: Task) => (
      <>
        <Typography.Text strong>{x.title}</Typography.Text>
        {x.description && <div><Typography.Text type="secondary">{x.description}</Typography.Text></div>}
      </>
    ) },
    { title: t("colKind"), dataIndex: "kind", key: "kind", render: (k: string) => label(locale, "kind", k) },
    { title: t("colDue"), key: "due", render: (_: unknown, x: Task) => <Due task={x} /> },
    { title: t("colRelated"), key: "related", render: (_: unknown, x: Task) => (x.related_type ? `${label(locale, "related", x.related_type)} ${x.related_id ?? ""}` : "") },
    { title: t("colActions"), key: "actions", render: (_: unknown, x: Task) => (x.status === "open" ? (
      <Space size={4}>
        <Button size="small" type="primary" onClick={() => void finish(x, false)}>{t("complete")}</Button>
        <Button size="small" onClick={() => void finish(x, true)}>{t("cancelTask")}</Button>
      </Space>
    ) : <Tag>{label(locale, "taskStatus", x.status)}</Tag>) },
  ], [t, locale, finish]);

  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("tasksTitle")}</Typography.Title>
      <Row gutter={[24, 24]}>
        <Col xs={24} xl={16}>
          <Segmented<View> aria-label={t("tasksView")} value={view} onChange={setView} style={{ marginBottom: 16 }}
            options={(["today", "overdue", "open", "done"] as const).map((v) => ({ value: v, label: t(`view_${v}`) }))} />
          {actionError && <ProblemAlert detail={actionError.problem.detail ?? null} unplaced={actionError.fieldErrors} />}
          {pages.error ? <LoadError error={pages.error} retry={pages.reload} /> : (
            <>
              <Table<Task> rowKey="id" columns={columns} dataSource={pages.items} loading={pages.loading} pagination={false}
                size="middle" locale={{ emptyText: t("tasksEmpty") }} />
              <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
            </>
          )}
        </Col>
        <Col xs={24} xl={8}>
          <Card title={<h2 className="card-title">{t("newTask")}</h2>}>
            <NewTask onCreated={() => { void toast.success(t("saved")); pages.reload(); }} />
          </Card>
          <Card title={<h2 className="card-title">{t("remindersTitle")}</h2>} style={{ marginTop: 24 }}>
            {reminders.error ? <LoadError error={reminders.error} retry={reminders.reload} /> : reminders.items.length === 0
              ? <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("remindersEmpty")} />
              : (
                <List size="small" dataSource={reminders.items} renderItem={(r) => (
                  <List.Item key={r.id}>
                    <div>
                      <div>{r.message}</div>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{formatDateTime(r.fired_at || r.remind_at, locale)}</Typography.Text>
                    </div>
                  </List.Item>
                )} />
              )}
          </Card>
        </Col>
      </Row>
    </>
  );
}

function Due({ task }: { task: Task }) {
  const t = useT(m);
  const { locale } = useLocale();
  if (!task.due_at) return null;
  const late = task.status === "open" && new Date(task.due_at).getTime() < Date.now();
  return (
    <span title={formatDateTime(task.due_at, locale)}>
      {formatDateTime(task.due_at, locale)}{" "}
      {late && <Tag color={TAG.bad}>{t("overdue", { when: formatRelative(task.due_at, locale) })}</Tag>}
    </span>
  );
}

/** The reminders list is one answer (the API does not page it). */
function useReminders() {
  const [items, setItems] = useState<Schema<"Reminder">[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    unwrap(api.GET("/api/v1/reminders"))
      .then((r) => { setItems(r.items); setError(null); })
      .catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [tick]);
  return { items, error, reload: () => setTick((n) => n + 1) };
}

interface NewTaskValues {
  title?: string;
  kind?: string;
  due_at?: string;
  remind_at?: string;
  description?: string;
}

function NewTask({ onCreated }: { onCreated: () => void }) {
  const t = useT(m);
  const { locale } = useLocale();
  const f = useApiForm<NewTaskValues, Task>({
    fields: ["title", "kind", "due_at", "remind_at", "description"],
    strip: ["task."],
    submit: (v) => unwrap(api.POST("/api/v1/tasks", {
      body: {
        title: v.title ?? "",
        ...(v.kind ? { kind: v.kind as (typeof KINDS)[number] } : {}),
        ...(v.description ? { description: v.description } : {}),
        ...(v.due_at ? { due_at: localToIso(v.due_at) } : {}),
        ...(v.remind_at ? { remind_at: localToIso(v.remind_at) } : {}),
      },
    })),
    onSuccess: onCreated,
  });
  return (
    <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ kind: "follow_up" }}>
      <ProblemAlert {...f.alert} />
      <Form.Item name="title" label={t("taskTitle")}><Input maxLength={300} /></Form.Item>
      <Form.Item name="kind" label={t("colKind")}>
        <Select options={KINDS.map((k) => ({ value: k, label: label(locale, "kind", k) }))} />
      </Form.Item>
      <Form.Item name="due_at" label={t("colDue")}><Input type="datetime-local" /></Form.Item>
      <Form.Item name="remind_at" label={t("remindAt")}><Input type="datetime-local" /></Form.Item>
      <Form.Item name="description" label={t("description")}><Input.TextArea rows={2} maxLength={20000} /></Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("create")}</Button>
    </Form>
  );
}
