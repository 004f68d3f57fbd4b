// An SMS wave: the provider's approved template (its code and signature) and the template's
// variables, each a value that may merge the recipient's fields ({{ name }}), frozen with an
// audience. Marketing keeps the recipients it may not text (no marketing_sms consent, opted out,
// no phone, a number already on the list) with the reason; "start" in the waves table texts it.
import { Button, Flex, Form, Input, Select, Space, Typography, message } from "antd";
import { api, unwrap, type Schema } from "../../api";
import { ProblemAlert, useApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { SMS_MERGE_FIELDS, smsContent, type SmsValues } from "./automation";
import { a } from "./automationMessages";
import { useChoices } from "./useChoices";

type Campaign = Schema<"Campaign">;
type Wave = Schema<"SendWave">;

/** The SMS content's inputs under `prefix` (["sms"] in a wave, [row, "sms"] in a sequence step). */
export function SmsFields({ prefix, rowLabel }: { prefix: (string | number)[]; rowLabel?: string }) {
  const t = useT(a);
  const label = (what: string) => (rowLabel ? `${rowLabel}: ${what}` : what);
  return (
    <>
      <Space wrap>
        <Form.Item name={[...prefix, "template_code"]} label={t("smsTemplateCode")}>
          <Input placeholder="SMS_123456789" style={{ width: 220 }} aria-label={label(t("smsTemplateCode"))} />
        </Form.Item>
        <Form.Item name={[...prefix, "sign_name"]} label={t("smsSignName")}>
          <Input maxLength={30} style={{ width: 180 }} aria-label={label(t("smsSignName"))} />
        </Form.Item>
      </Space>
      <Form.List name={[...prefix, "params"]}>
        {(rows, { add, remove }, { errors }) => (
          <fieldset style={{ border: 0, padding: 0, margin: "0 0 12px" }}>
            <legend style={{ fontSize: 14, marginBottom: 4, border: 0 }}>{t("smsVariables")}</legend>
            {rows.map((row, i) => (
              <Flex key={row.key} gap="small" align="start" wrap>
                <Form.Item name={[row.name, "name"]} style={{ marginBottom: 8 }}>
                  <Input placeholder="name" style={{ width: 140 }} aria-label={label(`${t("smsVariableName")} ${i + 1}`)} />
                </Form.Item>
                <Form.Item name={[row.name, "value"]} style={{ marginBottom: 8 }}>
                  <Input placeholder="{{ name }}" style={{ width: 240 }} aria-label={label(`${t("smsVariableValue")} ${i + 1}`)} />
                </Form.Item>
                <Button onClick={() => remove(row.name)} aria-label={label(`${t("remove")} ${t("smsVariableName")} ${i + 1}`)}>{t("remove")}</Button>
              </Flex>
            ))}
            <Form.ErrorList errors={errors} />
            <Button size="small" onClick={() => add({ name: "", value: "" })}>{t("addVariable")}</Button>
            <Typography.Paragraph type="secondary" style={{ margin: "4px 0 0", fontSize: 12 }}>
              {t("smsMergeHelp", { fields: SMS_MERGE_FIELDS.map((f) => `{{ ${f} }}`).join(" ") })}
            </Typography.Paragraph>
          </fieldset>
        )}
      </Form.List>
    </>
  );
}

interface Values {
  sms?: SmsValues;
  segment_ids?: string[];
  purpose?: string;
}

export function NewSmsWave({ campaign, onCreated }: { campaign: Campaign; onCreated: () => void }) {
  const t = useT(a);
  const [toast, holder] = message.useMessage();
  const segments = useChoices("segments");
  const f = useApiForm<Values, Wave>({
    fields: ["sms.template_code", "sms.sign_name", "sms.params", "segment_ids", "purpose"],
    aliases: { "audience.segment_ids": "segment_ids", audience: "segment_ids", sms: "sms.template_code" },
    strip: ["wave."],
    submit: (v) =>
      unwrap(api.POST("/api/v1/sms-waves", {
        body: {
          campaign_id: campaign.id ?? "",
          audience: { segment_ids: v.segment_ids ?? [] },
          sms: smsContent(v.sms),
          ...(v.purpose ? { purpose: v.purpose } : {}),
        },
      })),
    onSuccess: () => { void toast.success(t("smsPrepared")); onCreated(); },
  });
  return (
    <Form form={f.form} name="sms-wave" layout="vertical" onFinish={f.onFinish} data-testid="new-sms-wave"
      initialValues={{ segment_ids: campaign.audience?.segment_ids ?? [], sms: { params: [{ name: "name", value: "{{ name }}" }] } }}>
      {holder}
      <ProblemAlert {...f.alert} />
      <SmsFields prefix={["sms"]} />
      <Form.Item name="segment_ids" label={t("segments")}>
        <Select mode="multiple" optionFilterProp="label" options={segments} />
      </Form.Item>
      <Form.Item name="purpose" label={t("purpose")}><Input placeholder="marketing_sms" style={{ width: 200 }} /></Form.Item>
      <Button type="primary" htmlType="submit" loading={f.submitting}>{t("smsPrepare")}</Button>
    </Form>
  );
}
