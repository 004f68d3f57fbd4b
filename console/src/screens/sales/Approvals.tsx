// The approvals inbox: the quote approvals waiting for one of my roles (a manager's discounts,
// legal's special terms, finance's sign-off), each with the quote's figures; approve, or reject
// with the reason the API requires (its refusal shown beside the comment).
import { Button, Card, Empty, Flex, Form, Input, Modal, Space, Spin, Typography, message } from "antd";
import { useCallback, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schema } from "../../api";
import { PagerButtons } from "../../components/PagerButtons";
import { LoadError } from "../../components/StatusPage";
import { useCursorPages, type Page } from "../../components/useCursorPages";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useLocale, useT } from "../../i18n";
import { formatDateTime } from "../../i18n/format";
import { m } from "./messages";
import { ApprovalSteps } from "./Quote";

type Approval = Schema<"ApprovalRequest">;
const PAGE_SIZE = 20;

export default function Approvals() {
  const t = useT(m);
  const { locale } = useLocale();
  const [deciding, setDeciding] = useState<{ approval: Approval; approve: boolean } | null>(null);
  const [toast, holder] = message.useMessage();

  // Oldest first, cursor paged; a decision reloads the page it was made on.
  const fetchPage = useCallback(async (pageToken: string): Promise<Page<Approval>> => {
    const a = await unwrap(api.GET("/api/v1/approvals", { params: { query: {
      pending_for_me: true, page_size: PAGE_SIZE, page_token: pageToken || undefined } } }));
    return { items: a.items, next_page_token: a.next_page_token };
  }, []);
  const pages = useCursorPages<Approval>(fetchPage, "pending");
  const items = pages.loaded ? pages.items : null;

  if (pages.error) return <LoadError error={pages.error} retry={pages.reload} />;
  return (
    <>
      {holder}
      <Typography.Title level={1} style={{ fontSize: 22 }}>{t("approvalsTitle")}</Typography.Title>
      {items === null ? <Spin /> : items.length === 0 ? <Empty description={t("approvalsEmpty")} /> : (
        <Flex vertical gap={16}>
          {items.map((a) => (
            <Card key={a.id} data-testid="approval" title={
              <h2 className="card-title">
                <Link to={`/quotes/${encodeURIComponent(a.quote_id ?? "")}`}>{t("quoteHeading", { number: a.quote_number ?? "", version: a.quote_version ?? 1 })}</Link>
              </h2>
            } extra={
              <Space>
                <Button type="primary" onClick={() => setDeciding({ approval: a, approve: true })}>{t("approve")}</Button>
                <Button onClick={() => setDeciding({ approval: a, approve: false })}>{t("reject")}</Button>
              </Space>
            }>
              <Typography.Paragraph type="secondary">{t("requestedBy", { who: a.requested_by ?? "", when: formatDateTime(a.requested_at, locale) })}</Typography.Paragraph>
              <ApprovalSteps approval={a} />
            </Card>
          ))}
        </Flex>
      )}
      {(pages.hasNext || pages.hasPrevious) && (
        <PagerButtons pages={pages} labels={{ previous: t("previous"), next: t("next"), page: t("page", { n: pages.page }) }} />
      )}
      {deciding && (
        <Decide approval={deciding.approval} approve={deciding.approve} onDone={(changed) => {
          setDeciding(null);
          if (changed) {
            void toast.success(t(deciding.approve ? "approvedToast" : "rejectedToast"));
            pages.reload();
          }
        }} />
      )}
    </>
  );
}

function Decide({ approval, approve, onDone }: { approval: Approval; approve: boolean; onDone: (changed: boolean) => void }) {
  const t = useT(m);
  const f = useApiForm<{ comment?: string }, Approval>({
    fields: ["comment"],
    submit: (v) => unwrap(api.POST("/api/v1/approvals/{id}/decide", {
      params: { path: { id: approval.id ?? "" } },
      body: { approve, ...(v.comment ? { comment: v.comment } : {}) },
    })),
    onSuccess: () => onDone(true),
  });
  return (
    <Modal open title={t(approve ? "approveTitle" : "rejectTitle", { number: approval.quote_number ?? "" })}
      okText={t(approve ? "approve" : "reject")}
      onOk={() => f.form.submit()} confirmLoading={f.submitting} onCancel={() => onDone(false)} destroyOnHidden>
      <Form form={f.form} layout="vertical" onFinish={f.onFinish}>
        <ProblemAlert {...f.alert} />
        <Form.Item name="comment" label={t(approve ? "commentOptional" : "rejectReason")}>
          <Input.TextArea rows={3} maxLength={20000} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
