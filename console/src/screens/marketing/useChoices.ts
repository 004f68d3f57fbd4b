// What a form's selects offer: the first page (100) of the caller's campaigns, email templates,
// segments or sequences, as the API returns them (more is the list screens' job).
import { useEffect, useState } from "react";
import { api, unwrap } from "../../api";

export interface Choice { value: string; label: string }

type Kind = "campaigns" | "templates" | "segments" | "sequences";

async function fetchChoices(kind: Kind, campaignId?: string): Promise<Choice[]> {
  const query = { page_size: 100 };
  switch (kind) {
    case "campaigns":
      return (await unwrap(api.GET("/api/v1/campaigns", { params: { query } }))).items.map((x) => ({ value: x.id ?? "", label: x.name || (x.id ?? "") }));
    case "templates":
      return (await unwrap(api.GET("/api/v1/email-templates", { params: { query } }))).items.map((x) => ({ value: x.id ?? "", label: x.name || (x.id ?? "") }));
    case "segments":
      return (await unwrap(api.GET("/api/v1/segments", { params: { query } }))).items.map((x) => ({ value: x.id ?? "", label: x.name || (x.id ?? "") }));
    case "sequences":
      return (await unwrap(api.GET("/api/v1/sequences", { params: { query: { ...query, campaign_id: campaignId || undefined } } })))
        .items.map((x) => ({ value: x.id ?? "", label: x.name || (x.id ?? "") }));
  }
}

export function useChoices(kind: Kind, campaignId?: string): Choice[] {
  const [choices, setChoices] = useState<Choice[]>([]);
  useEffect(() => {
    let stale = false;
    fetchChoices(kind, campaignId).then((c) => { if (!stale) setChoices(c); }).catch(() => { if (!stale) setChoices([]); });
    return () => { stale = true; };
  }, [kind, campaignId]);
  return choices;
}

/** The name a choice list gives an id, or the id itself (a record the caller may not list). */
export function nameOf(choices: Choice[], id: string | undefined): string {
  return choices.find((c) => c.value === id)?.label ?? id ?? "";
}
