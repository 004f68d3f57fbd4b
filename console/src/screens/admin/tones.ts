// Solid tag colours dark enough for white text (contrast above 4.5:1); the tag's word carries the
// meaning, the colour only repeats it.
export const TONE = {
  good: "#237804",
  warn: "#874d00",
  bad: "#a8071a",
  busy: "#0050b3",
} as const;
