// A saved drip sequence's form: its name, description and whether nurturing leads join it; while
// a draft, its steps and consent purpose too (marketing fixes them once it is activated). Saved
// with PATCH and the version read; a refusal lands beside the field (a step's beside that step),
// and a 409 (someone saved first) offers a reload.
import { Alert, Button, Checkbox, Flex, Form, Input, Typography, message } from "antd";
import { useRef, useState } from "react";
import { api, unwrap, ApiError, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { ifMatch, sequencePatch, stepRows, type SequenceEdit } from "./automation";
import { a } from "./automationMessages";
import { STEP_FIELDS, StepList } from "./Sequences";
import { useChoices } from "./useChoices";

type Sequence = Schema<"Sequence">;

export function EditSequence({ seq, onSaved, onCancel, reload }: { seq: Sequence; onSaved: (s: Sequence) => void; onCancel: () => void; reload: () => void }) {
  const t = useT(a);
  const [toast, holder] = message.useMessage();
  const templates = useChoices("templates");
  const [stale, setStale] = useState(false);
  const draft = seq.status === "draft";
  const sent = useRef(seq.steps?.length ?? 0);
  const f = useApiForm<SequenceEdit, Sequence>({
    get fields() {
      return ["name", "description", "purpose", "enroll_nurturing", "steps",
        ...Array.from({ length: sent.current }, (_, i) => STEP_FIELDS.map((x) => `steps.${i}.${x}`)).flat()];
    },
    strip: ["sequence."],
    resetOnSuccess: false,
    submit: async (v) => {
      sent.current = v.steps?.length ?? 0;
      setStale(false);
      try {
        return await unwrap(api.PATCH("/api/v1/sequences/{id}", {
          params: { path: { id: seq.id ?? "" }, header: ifMatch(seq.version) }, body: sequencePatch(v, seq.status) }));
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setStale(true);
        throw err;
      }
    },
    onSuccess: (saved) => { void toast.success(t("sequenceSaved")); onSaved(saved); },
  });
  return (
    <Form form={f.form} name="edit-sequence" layout="vertical" onFinish={f.onFinish} data-testid="edit-sequence"
      initialValues={{ name: seq.name ?? "", description: seq.description ?? "", purpose: seq.purpose ?? "",
        enroll_nurturing: seq.enroll_nurturing ?? false, steps: stepRows(seq.steps) }}>
      {holder}
      <ProblemAlert {...f.alert} />
      {stale && (
        <Alert type="warning" showIcon role="alert" style={{ marginBottom: 16 }} title={t("staleRecord")}
          action={<Button onClick={reload}>{t("reload")}</Button>} />
      )}
      <Form.Item name="name" label={t("name")} style={{ maxWidth: 420 }}><Input maxLength={300} /></Form.Item>
      <Form.Item name="description" label={t("description")}><Input.TextArea rows={2} /></Form.Item>
      {draft ? (
        <>
          <StepList templates={templates} />
          <Form.Item name="purpose" label={t("purpose")} style={{ marginTop: 16 }}>
            <Input placeholder="marketing_email" style={{ width: 200 }} />
          </Form.Item>
        </>
      ) : <Typography.Paragraph type="secondary">{t("frozenHelp")}</Typography.Paragraph>}
      <Form.Item name="enroll_nurturing" valuePropName="checked"><Checkbox>{t("enrollNurturing")}</Checkbox></Form.Item>
      <Flex gap="small">
        <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
        <Button onClick={onCancel}>{t("cancel")}</Button>
      </Flex>
    </Form>
  );
}
