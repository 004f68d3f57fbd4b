// The reply box: a public reply (it reaches the customer by the ticket's channel) or an internal
// note, optionally moving the ticket on; the API's errors land beside their field. Beside it, a
// knowledge-base search that suggests articles while the agent types (debounced); one click puts
// an article's text into the reply.
import { Button, Form, Input, List, Radio, Select, Typography, message } from "antd";
import { useCallback, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { statusLabel } from "./labels";
import { Snippet } from "./Snippet";
import { EMPTY_TEXT } from "../../components/tones";
import { m } from "./messages";
import { useSuggestions } from "./useSuggestions";

type Ticket = Schema<"Ticket">;
type Comment = Schema<"Comment">;
type Hit = Schema<"KbSearchHit">;

interface Values {
  body?: string;
  kind: "public" | "internal";
  set_status?: string;
}

const NEXT_STATUSES = ["open", "pending", "solved"] as const;

export function ReplyBox({ ticketId, onSent }: { ticketId: string; onSent: (ticket?: Ticket, comment?: Comment) => void }) {
  const t = useT(m);
  const [toast, holder] = message.useMessage();
  const f = useApiForm<Values, Schema<"AddCommentResponse">>({
    fields: ["body", "kind", "set_status"],
    aliases: { public: "kind" },
    strip: ["comment."],
    submit: (v) =>
      unwrap(api.POST("/api/v1/tickets/{id}/comments", {
        params: { path: { id: ticketId } },
        body: { comment: { body: v.body ?? "", public: v.kind === "public" }, ...(v.set_status ? { set_status: v.set_status } : {}) },
      })),
    // no toast: the reply appearing in the thread (and the clocks) is the confirmation
    onSuccess: (answer) => onSent(answer.ticket, answer.comment),
  });
  const [typed, setTyped] = useState("");
  const suggest = useCallback(
    async (q: string) => (await unwrap(api.GET("/api/v1/kb/suggest", { params: { query: { q, limit: 5 } } }))).hits ?? [],
    [],
  );
  const suggestions = useSuggestions<Hit>(typed, suggest);
  // an article's text goes into the reply where the agent can still edit it before sending
  async function insert(hit: Hit) {
    try {
      const article = await unwrap(api.GET("/api/v1/kb/articles/{id}", { params: { path: { id: hit.id ?? "" } } }));
      const current = (f.form.getFieldValue("body") as string | undefined) ?? "";
      f.form.setFieldValue("body", [current.trimEnd(), article.body ?? ""].filter(Boolean).join("\n\n"));
    } catch (err) {
      if (err instanceof ApiError) void toast.error(err.problem.detail);
    }
  }

  return (
    <>
    <section aria-label={t("suggestTitle")} data-testid="kb-suggestions" style={{ marginBottom: 16 }}>
      <Typography.Paragraph type="secondary" style={{ marginBottom: 8 }}>{t("suggestTitle")}</Typography.Paragraph>
      <Input.Search aria-label={t("kbSearch")} placeholder={t("kbPlaceholder")} allowClear value={typed}
        onChange={(e) => setTyped(e.target.value)} style={{ maxWidth: 420 }} />
      {suggestions.query && (
        <List<Hit>
          size="small"
          loading={suggestions.loading}
          dataSource={suggestions.hits}
          locale={{ emptyText: <span style={EMPTY_TEXT}>{t("suggestNone")}</span> }}
          renderItem={(hit) => (
            <List.Item key={hit.id} actions={[
              <Button key="use" size="small" onClick={() => void insert(hit)}>{t("useArticle")}</Button>,
            ]}>
              <List.Item.Meta title={hit.title} description={<Snippet text={hit.snippet} />} />
            </List.Item>
          )}
        />
      )}
    </section>
    <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ kind: "public" }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <Form.Item name="kind" label={t("replyKind")}>
        <Radio.Group optionType="button" options={[
          { value: "public", label: t("replyPublic") }, { value: "internal", label: t("replyInternal") },
        ]} />
      </Form.Item>
      <Form.Item name="body" label={t("replyBody")}>
        <Input.TextArea rows={4} maxLength={20000} />
      </Form.Item>
      <Form.Item name="set_status" label={t("setStatus")}>
        <Select allowClear placeholder={t("keepStatus")} style={{ width: 200 }}
          options={NEXT_STATUSES.map((s) => ({ value: s, label: statusLabel(t, s) }))} />
      </Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("send")}</Button>
    </Form>
    </>
  );
}
