import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api";

/** A background job's record, read again while `nextPollMs` says it runs (null: finished, stop).
 * `retry` reads it again after a load error. Shared by the import and export job screens. */
export function usePolledJob<J>(id: string, read: (id: string) => Promise<J>,
                                nextPollMs: (job: J) => number | null) {
  const [job, setJob] = useState<J | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const poll = () => {
      read(id)
        .then((answer) => {
          if (stopped) return;
          setJob(answer);
          setError(null);
          const wait = nextPollMs(answer);
          if (wait !== null) timer = setTimeout(poll, wait);
        })
        .catch((err: unknown) => { if (!stopped) setError(err instanceof ApiError ? err : null); });
    };
    poll();
    return () => { stopped = true; clearTimeout(timer); };
    // read and nextPollMs are module-level functions of the caller: the id and a retry restart it
  }, [id, tick]);
  return { job, error, retry: useCallback(() => setTick((n) => n + 1), []) };
}
