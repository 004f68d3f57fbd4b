// The settings tabs edit parts of one document (sales: stages and assignment; support: SLA and
// routing). A save on one tab answers the whole document with a new version; refilling every tab
// from it would throw away what the admin typed, unsaved, on another tab. So a form is refilled only
// when its own part of the document differs from what it was last filled with.
import type { FormInstance } from "antd";
import { useEffect, useRef } from "react";

export function useFill(form: FormInstance, values: object): void {
  const filled = useRef<string | null>(null);
  const json = JSON.stringify(values);
  useEffect(() => {
    if (json === filled.current) return;
    filled.current = json;
    form.setFieldsValue(values);
  }, [json]); // json is values
}
