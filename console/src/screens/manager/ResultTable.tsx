// A report's rows (QueryResult): its dimensions as text, its measures formatted by unit; the
// first measure of each row can lead to the records behind it (`drillTo`).
import { Table } from "antd";
import { useMemo, type ReactNode } from "react";
import { Link } from "react-router";
import type { Schema } from "../../api";
import { useLocale, useT } from "../../i18n";
import { formatMeasure, rowCurrency, type Row } from "./cells";
import { columnLabel } from "./columnLabels";
import { m } from "./messages";

type Result = Schema<"QueryResult">;

interface Props {
  result: Result | undefined;
  /** The records path of a row, or null when that row cannot drill down. */
  drillTo?: (row: Row) => string | null;
  /** Extra columns before the report's own (a rank). */
  lead?: { title: string; render: (index: number) => ReactNode };
  caption?: string;
}

export function ResultTable({ result, drillTo, lead, caption }: Props) {
  const t = useT(m);
  const { locale } = useLocale();
  const columns = result?.columns ?? [];
  const rows = useMemo(() => (result?.rows ?? []).map((r, i) => ({ ...r, index: i })), [result]);
  const dims = columns.filter((c) => c.kind === "dimension");
  const measures = columns.filter((c) => c.kind === "measure");
  type Indexed = Row & { index: number };
  const cols = [
    ...(lead ? [{ title: lead.title, key: "_lead", render: (_: unknown, r: Indexed) => lead.render(r.index) }] : []),
    ...dims.map((c, i) => ({
      title: columnLabel(c, locale), key: `d${i}`, render: (_: unknown, r: Indexed) => r.keys?.[i] || "—",
    })),
    ...measures.map((c, i) => ({
      title: columnLabel(c, locale), key: `m${i}`, align: "right" as const,
      render: (_: unknown, r: Indexed) => {
        const text = formatMeasure(r.values?.[i], c.unit, locale, rowCurrency(columns, r));
        const to = i === 0 && drillTo ? drillTo(r) : null;
        const rowName = (r.keys ?? []).filter(Boolean).join(" · ") || t("total");
        return to ? <Link to={to} aria-label={t("drillRow", { value: text, row: rowName })}>{text}</Link> : text;
      },
    })),
  ];
  return (
    <Table<Indexed>
      size="small"
      rowKey={(r) => String(r.index)}
      columns={cols}
      dataSource={rows}
      pagination={false}
      locale={{ emptyText: t("noRows") }}
      title={caption ? () => caption : undefined}
    />
  );
}
