// The one form helper every screen uses: submit through the API, and on a problem+json answer
// show each field error beside its field and the rest (and the detail) above the form. Each new
// submit takes down what the previous answer showed, so a refusal the user has fixed does not stay.
//
//   const f = useApiForm({ fields: ["kind", "subject"], submit: (v) => unwrap(api.POST(...)) });
//   <Form form={f.form} onFinish={f.onFinish}> <ProblemAlert {...f.alert} /> ... </Form>
import { Alert, Form, type FormInstance } from "antd";
import { useCallback, useRef, useState } from "react";
import { ApiError } from "../api/problem";
import type { FieldProblem } from "../api/problem";
import { core } from "../i18n/core";
import { useT } from "../i18n";
import { placeErrors, type PlaceOptions } from "./placeErrors";

export interface ApiFormOptions<V, R> extends PlaceOptions {
  submit: (values: V) => Promise<R>;
  onSuccess?: (result: R, values: V) => void;
  /** Clear the fields after a successful submit (default true). */
  resetOnSuccess?: boolean;
}

export interface AlertState {
  detail: string | null;
  unplaced: FieldProblem[];
}

export interface ApiForm<V> {
  form: FormInstance<V>;
  onFinish: (values: V) => Promise<void>;
  submitting: boolean;
  alert: AlertState;
}

export function useApiForm<V extends object, R>(options: ApiFormOptions<V, R>): ApiForm<V> {
  const [form] = Form.useForm<V>();
  const [submitting, setSubmitting] = useState(false);
  const [alert, setAlert] = useState<AlertState>({ detail: null, unplaced: [] });
  const latest = useRef(options);
  latest.current = options;
  // The error lists the last answer handed to setFields. antd keeps each on its field (the same
  // array) until it validates that field again — which it never does for a field without rules.
  const shown = useRef<string[][]>([]);

  // Take down the API's errors still standing, wherever the field now is (a list row may have
  // moved). A field antd validated since holds antd's own list, which stays.
  const clearShown = useCallback(() => {
    const ours = new Set(shown.current);
    shown.current = [];
    if (ours.size === 0) return;
    const stale = form.getFieldsError().filter((f) => ours.has(f.errors));
    if (stale.length > 0) form.setFields(stale.map((f) => ({ name: f.name as never, errors: [] })));
  }, [form]);

  const onFinish = useCallback(
    async (values: V) => {
      const opts = latest.current;
      setSubmitting(true);
      clearShown();
      setAlert({ detail: null, unplaced: [] });
      try {
        const result = await opts.submit(values);
        clearShown(); // an answer to an overlapping submit may have placed some meanwhile
        setAlert({ detail: null, unplaced: [] });
        if (opts.resetOnSuccess ?? true) form.resetFields();
        opts.onSuccess?.(result, values);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        clearShown();
        const { placed, unplaced } = placeErrors(err.fieldErrors, opts);
        form.setFields(placed.map((p) => ({ name: p.name as never, errors: p.errors })));
        shown.current = placed.map((p) => p.errors);
        // The detail is shown unless every error sits beside its field.
        const detail = placed.length > 0 && unplaced.length === 0 ? null : err.problem.detail;
        setAlert({ detail, unplaced });
      } finally {
        setSubmitting(false);
      }
    },
    [form, clearShown],
  );

  return { form, onFinish, submitting, alert };
}

/** The problem's detail and the field errors no form field took, above the form. */
export function ProblemAlert({ detail, unplaced }: AlertState) {
  const t = useT(core);
  if (!detail && unplaced.length === 0) return null;
  return (
    <Alert
      type="error"
      showIcon
      role="alert"
      style={{ marginBottom: 16 }}
      title={detail ?? t("fixFields")}
      description={
        unplaced.length > 0 ? (
          <ul style={{ margin: 0, paddingInlineStart: 20 }}>
            {unplaced.map((e) => (
              <li key={e.field + e.message}>
                <code>{e.field}</code>: {e.message}
              </li>
            ))}
          </ul>
        ) : undefined
      }
    />
  );
}
