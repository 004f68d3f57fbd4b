// Search as you type for "My customers": when a query goes out, and which answer is on screen.
import { useCallback, useEffect, useRef, useState } from "react";
import { api, unwrap, type ApiError, type Schema } from "../../api";

export const SEARCH_PAGE_SIZE = 20;

/**
 * The search box: `typed` as it reads, `settled` the query to search for. A change after a quiet
 * moment (nothing typed for `ms`: the first key, a paste, an IME's committed word) settles at
 * once; changes in quick succession wait until typing has paused for `ms`, so a fast typist
 * sends the first and the last query, not one per key. `onSettle` runs before React renders the
 * settled query (the request leaves in parallel with that render). While an IME composes, nothing
 * settles: its letters are not the query.
 */
export function useSearchBox(ms: number, onSettle: (query: string) => void) {
  const [typed, setTyped] = useState("");
  const [settled, setSettled] = useState("");
  const [composing, setComposing] = useState(false);
  const lastChange = useRef(Number.NEGATIVE_INFINITY);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const settle = useRef(onSettle);
  settle.current = onSettle;
  useEffect(() => () => clearTimeout(timer.current), []);

  const commit = useCallback((value: string) => {
    const query = value.trim();
    const now = performance.now();
    const quiet = now - lastChange.current >= ms;
    lastChange.current = now;
    clearTimeout(timer.current);
    const done = () => {
      settle.current(query);
      setSettled(query);
    };
    if (quiet) done();
    else timer.current = setTimeout(done, ms);
  }, [ms]);

  return {
    typed,
    settled,
    onChange: (value: string) => {
      setTyped(value);
      if (!composing) commit(value);
    },
    onCompositionStart: () => setComposing(true),
    onCompositionEnd: (value: string) => {
      setComposing(false);
      setTyped(value);
      commit(value);
    },
  };
}

const searchOf = (q: string, offset: number) =>
  unwrap(api.GET("/api/v1/search/customers", {
    params: { query: { q, kind: "contact", limit: SEARCH_PAGE_SIZE, offset, highlight: false } },
  }));
type SearchAnswer = Awaited<ReturnType<typeof searchOf>>;
type Hit = Schema<"CustomerHit">;

// Requests started ahead of the render that asks for them (at most a few: each is taken once).
const started = new Map<string, Promise<SearchAnswer>>();

export function startSearch(q: string, offset: number): void {
  const key = `${offset}|${q}`;
  if (started.has(key)) return;
  if (started.size >= 4) started.delete(started.keys().next().value!);
  const request = searchOf(q, offset);
  request.catch(() => undefined); // its error reaches whoever takes it
  started.set(key, request);
}

function takeSearch(q: string, offset: number): Promise<SearchAnswer> {
  const key = `${offset}|${q}`;
  const request = started.get(key);
  started.delete(key);
  return request ?? searchOf(q, offset);
}

interface Answer<R> { query: string; offset: number; rows: R[]; total: number }

/**
 * The search index's answer for `query` ("" = no search), paged by offset (it ranks; there is no
 * cursor to keep). `answer` is the one to show: the current query's, or while it is on its way the
 * previous query's of this search (`current` false: the screen marks it as not yet updated). A new
 * search, after the box was emptied, starts with no answer at all.
 */
export function useSearch<R>(query: string, toRow: (hit: Hit) => R) {
  const [offset, setOffset] = useState(0);
  const [state, setState] = useState<Answer<R> | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tries, setTries] = useState(0);
  const toRowRef = useRef(toRow);
  toRowRef.current = toRow;
  // Adjusted during render (not in an effect): the next search must not open on this one's rows.
  if (!query && (state !== null || offset !== 0)) {
    setState(null);
    setOffset(0);
  }
  const [asked, setAsked] = useState(query);
  if (asked !== query) {
    setAsked(query);
    setOffset(0);
  }
  useEffect(() => {
    if (!query) return;
    let stale = false;
    takeSearch(query, offset)
      .then((answer) => {
        if (stale) return;
        setState({ query, offset, rows: answer.items.map(toRowRef.current), total: answer.total });
        setError(null);
      })
      .catch((err) => { if (!stale) setError(err); });
    return () => { stale = true; };
  }, [query, offset, tries]);
  const current = state !== null && state.query === query && state.offset === offset;
  const total = current ? state.total : 0;
  return {
    answer: query ? state : null,
    current,
    total,
    loading: Boolean(query) && !current && error === null,
    error,
    retry: () => { setError(null); setTries((n) => n + 1); },
    page: Math.floor(offset / SEARCH_PAGE_SIZE) + 1,
    pager: {
      hasPrevious: offset > 0,
      hasNext: current && offset + SEARCH_PAGE_SIZE < total,
      loading: !current,
      next: () => setOffset((o) => o + SEARCH_PAGE_SIZE),
      previous: () => setOffset((o) => Math.max(0, o - SEARCH_PAGE_SIZE)),
    },
  };
}
