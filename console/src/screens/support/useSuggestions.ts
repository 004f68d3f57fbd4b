// Knowledge-base suggestions while typing: the text settles for `delayMs` before one request is
// made, nothing is asked for under `minLength` characters (two Chinese characters are enough for
// the API), and an answer to an older text never replaces the newer one's.
import { useEffect, useState } from "react";
import { ApiError, toProblem } from "../../api/problem";
import { useDebounced } from "../../components/useDebounced";

export interface Suggestions<T> {
  query: string;
  hits: T[];
  loading: boolean;
  error: ApiError | null;
}

export const SUGGEST_DELAY_MS = 250;

export function useSuggestions<T>(
  text: string,
  fetchHits: (query: string) => Promise<T[]>,
  { delayMs = SUGGEST_DELAY_MS, minLength = 2 }: { delayMs?: number; minLength?: number } = {},
): Suggestions<T> {
  const query = useDebounced(text.trim(), delayMs);
  const wanted = query.length >= minLength ? query : "";
  const [answer, setAnswer] = useState<{ query: string; hits: T[]; error: ApiError | null } | null>(null);

  useEffect(() => {
    if (!wanted) return;
    let stale = false;
    fetchHits(wanted)
      .then((hits) => { if (!stale) setAnswer({ query: wanted, hits, error: null }); })
      .catch((err: unknown) => {
        if (stale) return;
        const error = err instanceof ApiError ? err : new ApiError(0, toProblem(0, null, String(err)));
        setAnswer({ query: wanted, hits: [], error });
      });
    return () => { stale = true; };
    // only a newly settled query asks again; a new fetchHits identity alone does not
  }, [wanted]);

  const current = answer && answer.query === wanted ? answer : null;
  return {
    query: wanted,
    hits: wanted ? current?.hits ?? [] : [],
    loading: Boolean(wanted) && current === null,
    error: wanted ? current?.error ?? null : null,
  };
}
