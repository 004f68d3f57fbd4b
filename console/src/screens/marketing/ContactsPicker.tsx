// Contacts chosen by typing a name (the contacts the caller may see), several at once: the chosen
// ones keep their names while a new search shows other people.
import { Select } from "antd";
import { useEffect, useMemo, useState } from "react";
import { api, unwrap } from "../../api";
import { useDebounced } from "../../components/useDebounced";

interface Props {
  value?: string[];
  onChange?: (v: string[]) => void;
  id?: string;
  label: string;
  placeholder: string;
}

export function ContactsPicker({ value, onChange, id, label, placeholder }: Props) {
  const [typed, setTyped] = useState("");
  const q = useDebounced(typed.trim(), 200);
  const [found, setFound] = useState<{ value: string; label: string }[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    let stale = false;
    unwrap(api.GET("/api/v1/contacts", { params: { query: { q: q || undefined, page_size: 20 } } }))
      .then((p) => {
        if (stale) return;
        const options = p.items.map((c) => ({ value: c.id ?? "", label: [c.name, c.company_name].filter(Boolean).join(" · ") || (c.id ?? "") }));
        setFound(options);
        setNames((n) => ({ ...n, ...Object.fromEntries(options.map((o) => [o.value, o.label])) }));
      })
      .catch(() => { if (!stale) setFound([]); });
    return () => { stale = true; };
  }, [q]);
  const chosen = value ?? [];
  const options = useMemo(() => {
    const here = new Set(found.map((o) => o.value));
    return [...chosen.filter((v) => !here.has(v)).map((v) => ({ value: v, label: names[v] ?? v })), ...found];
  }, [found, chosen.join("\u0000"), names]); // chosen is a new array each render
  return (
    <Select id={id} mode="multiple" showSearch filterOption={false} onSearch={setTyped} value={chosen}
      onChange={(v) => { setTyped(""); onChange?.(v); }} options={options} placeholder={placeholder}
      aria-label={label} style={{ minWidth: 260 }} />
  );
}
