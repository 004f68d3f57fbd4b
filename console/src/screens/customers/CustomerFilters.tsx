// The filters of "My customers" (tag, level, source, segment) and its export button, each
// memoized: a keystroke or a search's answer re-renders no filter (their props stay the same),
// a settled query only the export button.
import { Select } from "antd";
import { memo, useMemo } from "react";
import type { Schema } from "../../api";
import { useLabel, useT } from "../../i18n";
import { ExportButton } from "../admin/ExportButton";
import { m } from "./messages";
import type { PicklistChoice } from "./picklists";

type Choices = { choices: PicklistChoice[] };

export const CustomerFilters = memo(function CustomerFilters(props: {
  tag: string | undefined; setTag: (v: string | undefined) => void;
  level: string | undefined; setLevel: (v: string | undefined) => void;
  source: string | undefined; setSource: (v: string | undefined) => void;
  segmentId: string | undefined; setSegmentId: (v: string | undefined) => void;
  segments: Schema<"Segment">[] | null;
  levels: Choices; sources: Choices;
  /** The tags seen on the list's page, joined by newlines (a string: equal pages, equal props). */
  tagsSeen: string;
}) {
  const { tag, level, source, segmentId, segments, levels, sources, tagsSeen } = props;
  const t = useT(m);
  const label = useLabel();
  const picked = (list: Choices) => list.choices.map((c) => ({
    value: c.key, label: c.retired ? t("retiredSource", { label: label(c.label) }) : label(c.label),
  }));
  // The API has no tag list to offer: the tags seen on this page, plus the one chosen.
  const tagChoices = useMemo(() => {
    const seen = new Set(tagsSeen ? tagsSeen.split("\n") : []);
    if (tag) seen.add(tag);
    return [...seen].sort().map((x) => ({ value: x, label: x }));
  }, [tagsSeen, tag]);
  const off = Boolean(segmentId);
  return (
    <>
      <Select aria-label={t("filterTag")} placeholder={t("filterTag")} allowClear style={{ width: 160 }}
        value={tag} onChange={props.setTag} disabled={off} showSearch options={tagChoices} />
      <Select aria-label={t("filterLevel")} placeholder={t("filterLevel")} allowClear style={{ width: 120 }}
        value={level} onChange={props.setLevel} disabled={off} options={picked(levels)} />
      <Select aria-label={t("filterSource")} placeholder={t("filterSource")} allowClear style={{ width: 160 }}
        value={source} onChange={props.setSource} disabled={off} options={picked(sources)} />
      {segments && segments.length > 0 && (
        <Select aria-label={t("filterSegment")} placeholder={t("filterSegment")} allowClear style={{ width: 200 }}
          value={segmentId} onChange={props.setSegmentId}
          options={segments.map((s) => ({ value: s.id ?? "", label: s.name ?? s.id }))} />
      )}
    </>
  );
});

/** Export of the list as filtered and searched. */
export const ExportCustomers = memo(function ExportCustomers({ query, tag, level, source }: {
  query: string; tag: string | undefined; level: string | undefined; source: string | undefined;
}) {
  return (
    <span style={{ marginInlineStart: "auto" }}>
      <ExportButton list="contacts" filters={{ q: query, tag, level, source }} />
    </span>
  );
});
