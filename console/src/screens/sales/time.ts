// Days and quarters as the reader lives them (the browser's time zone), sent to the API as
// RFC 3339 instants or ISO dates.

/** [start, end) of the local day that holds `now`, as instants. */
export function dayWindow(now: Date): [string, string] {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return [start.toISOString(), end.toISOString()];
}

/** A `datetime-local` input's value as an instant; what cannot be read goes to the API as typed,
 * so its answer names the field (nothing the user typed is dropped). */
export function localToIso(value: string): string {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function isoDate(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export interface Quarter {
  id: string; // "2026-Q4"
  start: string; // "2026-10-01"
  end: string; // "2026-12-31" (inclusive, as the forecast takes it)
}

/** The calendar quarter `offset` quarters from the one holding `now`. */
export function quarter(now: Date, offset = 0): Quarter {
  const index = now.getFullYear() * 4 + Math.floor(now.getMonth() / 3) + offset;
  const year = Math.floor(index / 4);
  const q = index - year * 4; // 0..3
  const last = new Date(year, q * 3 + 3, 0).getDate();
  return { id: `${year}-Q${q + 1}`, start: isoDate(year, q * 3 + 1, 1), end: isoDate(year, q * 3 + 3, last) };
}
