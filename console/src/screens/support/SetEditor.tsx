// One list of the support settings on a screen of its own (macros, staff): every row a labelled
// fieldset, add and remove, then Save PUTs the whole list with the version read as If-Match. The
// API's refusal lands beside the row field it names (`macros[1].id`); a 409 (someone saved first)
// offers a reload. What a role may do is the API's: an agent reads, and a save they try is refused
// with the API's own words above the form.
import { Alert, Button, Form, Space, Spin, Typography, message } from "antd";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { ApiError } from "../../api";
import { LoadError } from "../../components/StatusPage";
import { ProblemAlert, useApiForm, type ApiForm } from "../../forms/useApiForm";
import { useT } from "../../i18n";
import { formatNumber } from "../../i18n/format";
import { useLocale } from "../../i18n";
import { om } from "./opsMessages";
import { setFields, type Support } from "./supportSets";

export interface SetEditorProps<Row extends object> {
  title: string;
  note: string;
  /** The list's name in the document and the body ("macros", "staff"). */
  list: "macros" | "staff";
  columns: readonly string[];
  what: string;
  rowTitle: (index: number) => string;
  load: () => Promise<Support>;
  save: (rows: Row[], version: unknown) => Promise<Support>;
  rowsOf: (s: Support) => Row[];
  newRow: (rows: Row[]) => Row;
  /** The row's inputs (Form.Items named [index, field]); `saved` is true for a row the API has. */
  renderRow: (index: number, saved: boolean) => ReactNode;
  savedKey: (row: Row) => string;
}

export function SetEditor<Row extends object>(props: SetEditorProps<Row>) {
  const { load } = props;
  const [doc, setDoc] = useState<Support | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const reload = useCallback(() => {
    setError(null);
    setDoc(null);
    load().then(setDoc).catch((err: unknown) => setError(err instanceof ApiError ? err : null));
  }, [load]);
  useEffect(reload, [reload]);
  return (
    <>
      <Typography.Title level={1} style={{ fontSize: 22 }}>{props.title}</Typography.Title>
      <Typography.Paragraph type="secondary">{props.note}</Typography.Paragraph>
      {error ? <LoadError error={error} retry={reload} /> : !doc ? <Spin /> : (
        <Rows {...props} doc={doc} onSaved={setDoc} reload={reload} />
      )}
    </>
  );
}

type Values<Row> = Record<string, Row[]>;

function Rows<Row extends object>(props: SetEditorProps<Row> & { doc: Support; onSaved: (s: Support) => void; reload: () => void }) {
  const { doc, list, columns } = props;
  const t = useT(om);
  const { locale } = useLocale();
  const [toast, holder] = message.useMessage();
  const [stale, setStale] = useState(false);
  const initial = props.rowsOf(doc);
  const savedKeys = new Set(initial.map(props.savedKey).filter((k) => k !== ""));
  const shown = useRef<string[]>([list]);
  const f: ApiForm<Values<Row>> = useApiForm<Values<Row>, Support>({
    get fields() { return shown.current; },
    strip: ["settings."],
    resetOnSuccess: false,
    submit: async (): Promise<Support> => {
      const rows: Row[] = ((f.form.getFieldsValue(true) as Values<Row>)[list] ?? []);
      shown.current = setFields(list, rows.length, columns);
      setStale(false);
      try {
        return await props.save(rows, doc.version);
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) setStale(true);
        throw err;
      }
    },
    onSuccess: (saved) => { void toast.success(t("saved")); props.onSaved(saved); },
  });
  // a new version answered (a save, a reload): the form shows it
  useEffect(() => { f.form.setFieldsValue({ [list]: props.rowsOf(doc) } as Values<Row>); }, [doc]); // rowsOf and list are constant per screen
  return (
    <Form form={f.form} layout="vertical" onFinish={f.onFinish} initialValues={{ [list]: initial }}>
      {holder}
      <ProblemAlert {...f.alert} />
      {stale && (
        <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("stale")}
               action={<Button onClick={props.reload}>{t("reload")}</Button>} />
      )}
      <Form.List name={list}>
        {(rows, { add, remove }, { errors }) => (
          <Space orientation="vertical" style={{ width: "100%" }}>
            {rows.length === 0 && <Typography.Text type="secondary">{t("none")}</Typography.Text>}
            {rows.map((row, i) => {
              const key = props.savedKey((f.form.getFieldValue([list, row.name]) ?? {}) as Row);
              return (
                <fieldset key={row.key} data-testid={`${list}-row-${i}`}
                          style={{ border: "1px solid #d9d9d9", borderRadius: 6, padding: "8px 12px", margin: 0 }}>
                  <legend style={{ fontSize: 14, width: "auto", marginBottom: 0, padding: "0 4px" }}>{props.rowTitle(i)}</legend>
                  {props.renderRow(row.name, savedKeys.has(key))}
                  <Button size="small" onClick={() => remove(row.name)} aria-label={t("removeN", { what: props.rowTitle(i) })}>
                    {t("remove")}
                  </Button>
                </fieldset>
              );
            })}
            <Form.ErrorList errors={errors} />
            <Space wrap>
              <Button onClick={() => add(props.newRow(((f.form.getFieldsValue(true) as Values<Row>)[list] ?? [])))}>
                {t("add", { what: props.what })}
              </Button>
              <Button type="primary" htmlType="submit" loading={f.submitting}>{t("save")}</Button>
              <Typography.Text type="secondary">
                {t("count", { n: formatNumber(rows.length, locale) })} · {t("version", { n: Number(doc.version ?? 0) })}
              </Typography.Text>
            </Space>
          </Space>
        )}
      </Form.List>
    </Form>
  );
}
