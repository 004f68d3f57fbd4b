// Audience size from segments: the API's member count of each segment chosen (GET
// /segments/{id}/count, which applies the caller's visibility), asked once per segment.
import { useEffect, useState } from "react";
import { api, unwrap } from "../../api";

export type Counts = Record<string, number | "error">;

export async function countOf(id: string): Promise<number> {
  const answer = await unwrap(api.GET("/api/v1/segments/{id}/count", { params: { path: { id } } }));
  return answer.count ?? 0;
}

export function useSegmentCounts(ids: readonly string[], count: (id: string) => Promise<number> = countOf): Counts {
  const [counts, setCounts] = useState<Counts>({});
  const wanted = ids.join("\u0000");
  useEffect(() => {
    let stale = false;
    for (const id of ids) {
      if (id in counts) continue;
      count(id)
        .then((n) => { if (!stale) setCounts((c) => ({ ...c, [id]: n })); })
        .catch(() => { if (!stale) setCounts((c) => ({ ...c, [id]: "error" })); });
    }
    return () => { stale = true; };
    // asked again only when the chosen segments change; known counts are kept
  }, [wanted]);
  return counts;
}

/** The sum of the known counts: an upper bound (segments overlap), null until every count is in. */
export function audienceUpperBound(ids: readonly string[], counts: Counts): number | null {
  let total = 0;
  for (const id of ids) {
    const n = counts[id];
    if (typeof n !== "number") return null;
    total += n;
  }
  return total;
}
