import { useEffect, useRef, useState } from "react";

/** `value`, once it has stopped changing for `ms`. `onSettle` runs in the timer itself, before
 * React renders the settled value: a search starts its request there, in parallel with that
 * render, rather than after it. */
export function useDebounced<T>(value: T, ms: number, onSettle?: (value: T) => void): T {
  const [settled, setSettled] = useState(value);
  const settle = useRef(onSettle);
  settle.current = onSettle;
  useEffect(() => {
    const timer = setTimeout(() => {
      settle.current?.(value);
      setSettled(value);
    }, ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
