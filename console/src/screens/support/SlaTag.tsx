// One SLA clock as a coloured tag with its live countdown: green running, gold due soon, red
// overdue, grey paused, and "met" once the agent has answered (or solved).
import { Tag, Tooltip } from "antd";
import { formatDateTime } from "../../i18n/format";
import { useLocale } from "../../i18n";
import { formatCountdown, type ClockView } from "./sla";
import { metricLabel, type T } from "./labels";
import { TONE, type Tone } from "../../components/tones";

const TONE_OF: Record<ClockView["state"], Tone> = {
  running: "green", warning: "gold", breached: "red", paused: "grey", met: "blue", met_late: "orange",
};

export function slaText(t: T, view: ClockView): string {
  const metric = metricLabel(t, view.metric);
  const left = view.remainingMs === null ? "" : formatCountdown(view.remainingMs, {
    d: t("unit_d"), h: t("unit_h"), m: t("unit_m"), s: t("unit_s"),
  });
  if (view.state === "breached" && view.remainingMs === null) return t("sla_breached_paused", { metric });
  return t(`sla_${view.state}`, { metric, left });
}

export function SlaTag({ view, t }: { view: ClockView | null; t: T }) {
  const { locale } = useLocale();
  if (!view) return <Tag style={TONE.grey}>{t("sla_none")}</Tag>;
  const tag = (
    <Tag style={TONE[TONE_OF[view.state]]} data-sla-state={view.state} data-testid={`sla-${view.metric}`}>
      {slaText(t, view)}
    </Tag>
  );
  return view.dueAt ? <Tooltip title={t("dueAt", { at: formatDateTime(view.dueAt, locale) })}>{tag}</Tooltip> : tag;
}
