// The records behind a drill-down: reporting answers ids (and which kind of record they are);
// each is read from its own service, so a record the caller may no longer see shows as gone
// rather than as reporting's copy.
import { api, unwrap, type Schema } from "../../api";
import type { MoneyValue } from "../../i18n/format";

export interface RecordRow {
  id: string;
  kind: string;
  /** null: the service answered 404 (gone, or no longer visible to the caller). */
  name: string | null;
  status?: string;
  stage?: string;
  amount?: MoneyValue;
  priority?: string;
  owner?: string;
  team?: string;
  updated?: string;
}

function fromOpportunity(o: Schema<"Opportunity">): Omit<RecordRow, "id" | "kind"> {
  return { name: o.name ?? "", status: o.status, stage: o.stage, amount: o.amount, owner: o.owner_id, team: o.team,
           updated: o.updated_at };
}

function fromLead(l: Schema<"Lead">): Omit<RecordRow, "id" | "kind"> {
  return { name: [l.name, l.company].filter(Boolean).join(" · "), status: l.status, owner: l.owner_id, team: l.team,
           updated: l.updated_at };
}

function fromTicket(x: Schema<"Ticket">): Omit<RecordRow, "id" | "kind"> {
  return { name: [x.number, x.subject].filter(Boolean).join(" "), status: x.status, priority: x.priority,
           owner: x.assignee_id, team: x.group, updated: x.updated_at };
}

async function readOne(kind: string, id: string): Promise<Omit<RecordRow, "id" | "kind">> {
  const path = { params: { path: { id } } };
  switch (kind) {
    case "opportunity":
      return fromOpportunity(await unwrap(api.GET("/api/v1/opportunities/{id}", path)));
    case "lead":
      return fromLead(await unwrap(api.GET("/api/v1/leads/{id}", path)));
    case "ticket":
      return fromTicket(await unwrap(api.GET("/api/v1/tickets/{id}", path)));
    default:
      return { name: id };
  }
}

/** Every id of one page read in parallel (a page is small); a 404 is a row marked gone, any
 * other failure fails the page (retry shows it again). */
export async function readRecords(kind: string, ids: string[]): Promise<RecordRow[]> {
  return Promise.all(ids.map(async (id) => {
    try {
      return { id, kind, ...(await readOne(kind, id)) };
    } catch (err) {
      if (err && typeof err === "object" && "status" in err && err.status === 404) return { id, kind, name: null };
      throw err;
    }
  }));
}
