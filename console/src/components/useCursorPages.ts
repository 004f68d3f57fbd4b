// Every list pages with the API's cursors: `next_page_token` from one answer is the next page's
// `page_token`. The hook keeps the tokens of the pages seen (for "previous"), resets to the first
// page when `key` changes (a new query or filter), and ignores answers that arrive after a newer
// request was made (fast typing).
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, toProblem } from "../api/problem";

export interface Page<T> {
  items: T[];
  next_page_token: string;
}

export interface CursorPages<T> {
  items: T[];
  loading: boolean;
  loaded: boolean; // an answer has come (before it, an empty list is not "none")
  error: ApiError | null;
  page: number; // 1-based
  hasNext: boolean;
  hasPrevious: boolean;
  next: () => void;
  previous: () => void;
  reload: () => void;
}

export function useCursorPages<T>(
  fetchPage: ((pageToken: string) => Promise<Page<T>>) | null,
  key: string,
): CursorPages<T> {
  // The tokens of the pages seen under one key; another key starts again at the first page.
  const [trail, setTrail] = useState<{ key: string; tokens: string[]; index: number }>({ key, tokens: [""], index: 0 });
  const current = trail.key === key ? trail : { key, tokens: [""], index: 0 };
  const { tokens, index } = current;
  const [answer, setAnswer] = useState<Page<T> | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  const latest = useRef(0);
  const fetcher = useRef(fetchPage);
  fetcher.current = fetchPage;

  const token = tokens[index] ?? "";
  useEffect(() => {
    const run = fetcher.current;
    if (!run) {
      setAnswer(null);
      return;
    }
    const mine = ++latest.current;
    setLoading(true);
    run(token)
      .then((page) => {
        if (mine !== latest.current) return;
        setAnswer(page);
        setError(null);
      })
      .catch((err: unknown) => {
        if (mine !== latest.current) return;
        setError(err instanceof ApiError ? err : new ApiError(0, toProblem(0, null, String(err))));
      })
      .finally(() => {
        if (mine === latest.current) setLoading(false);
      });
  }, [key, token, tick]);

  const nextToken = answer?.next_page_token ?? "";
  const next = useCallback(() => {
    if (!nextToken) return;
    setTrail({ key, tokens: [...tokens.slice(0, index + 1), nextToken], index: index + 1 });
  }, [key, nextToken, tokens, index]);
  const previous = useCallback(
    () => setTrail({ key, tokens, index: Math.max(0, index - 1) }),
    [key, tokens, index],
  );
  const reload = useCallback(() => setTick((n) => n + 1), []);

  return {
    items: answer?.items ?? [],
    loading,
    loaded: answer !== null,
    error,
    page: index + 1,
    hasNext: Boolean(nextToken),
    hasPrevious: index > 0,
    next,
    previous,
    reload,
  };
}
