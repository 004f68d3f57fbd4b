// The sales and support settings as the API holds them: pipelines with their stages and entry /
// exit criteria, approval and follow-up rules, lead assignment and public-pool rules and ticket
// routing rules (SalesEditor, RoutingEditor); SLA policies with the business hours (SlaEditor).
import { Card, Descriptions, Space } from "antd";
import type { ReactNode } from "react";
import type { Schema } from "../../api";
import { useLocale, useT, type Locale } from "../../i18n";
import { m } from "./messages";
import { RoutingEditor } from "./RoutingEditor";
import { SalesEditor } from "./SalesEditor";
import { SlaEditor } from "./SlaEditor";

type Sales = Schema<"SalesSettings">;
type Support = Schema<"SupportSettings">;

function Section({ title, children }: { title: string; children: ReactNode }) {
  return <Card size="small" title={<h2 className="card-title">{title}</h2>} style={{ marginBottom: 16 }}>{children}</Card>;
}

export function StagesAndRules({ sales, onSaved }: { sales: Sales; onSaved: (s: Sales) => void }) {
  return <SalesEditor sales={sales} sections={["pipelines", "approval_policies", "follow_up_rules"]} onSaved={onSaved} />;
}

export function AssignmentRules({ sales, onSaved }: { sales: Sales; onSaved: (s: Sales) => void }) {
  return <SalesEditor sales={sales} sections={["assignment_rules", "pool_rules"]} onSaved={onSaved} />;
}

/** ISO weekdays (1 = Monday) as the locale names them. */
function weekdayNames(days: number[], locale: Locale): string {
  const f = new Intl.DateTimeFormat(locale, { weekday: "short", timeZone: "UTC" });
  return days.map((d) => f.format(new Date(Date.UTC(2024, 0, d)))).join(locale === "en" ? ", " : "、");
}

export function SlaPolicies({ support, onSaved }: { support: Support; onSaved: (s: Support) => void }) {
  const t = useT(m);
  const { locale } = useLocale();
  const hours = support.business_hours;
  return (
    <Section title={t("tabSla")}>
      <Space direction="vertical" style={{ width: "100%" }}>
        {hours && (
          <Descriptions size="small" column={1}>
            <Descriptions.Item label={t("businessHours")}>
              {t("hoursWindow", { days: weekdayNames(hours.weekdays ?? [], locale), start: hours.start ?? "",
                                  end: hours.end ?? "", tz: hours.timezone ?? "" })}
            </Descriptions.Item>
          </Descriptions>
        )}
        <SlaEditor support={support} onSaved={onSaved} />
      </Space>
    </Section>
  );
}

export function RoutingRules({ support, onSaved }: { support: Support; onSaved: (s: Support) => void }) {
  const t = useT(m);
  return <Section title={t("tabRouting")}><RoutingEditor support={support} onSaved={onSaved} /></Section>;
}
