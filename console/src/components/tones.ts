// Tag colours with text dark enough on their background for WCAG AA (antd's preset tag colours
// fall short of 4.5:1 for small text, which axe reports as serious).
import type { CSSProperties } from "react";

export type Tone = "green" | "gold" | "red" | "grey" | "blue" | "orange";

export const TONE: Record<Tone, CSSProperties> = {
  green: { color: "#135200", background: "#f6ffed", borderColor: "#95de64" },
  gold: { color: "#613400", background: "#fffbe6", borderColor: "#ffd666" },
  red: { color: "#ffffff", background: "#a8071a", borderColor: "#a8071a" },
  grey: { color: "#262626", background: "#f5f5f5", borderColor: "#d9d9d9" },
  blue: { color: "#002c8c", background: "#f0f5ff", borderColor: "#85a5ff" },
  orange: { color: "#612500", background: "#fff2e8", borderColor: "#ffbb96" },
};

/** A table's or list's "nothing here" text, readable (antd greys it below 4.5:1). */
export const EMPTY_TEXT: CSSProperties = { color: "rgba(0, 0, 0, 0.65)" };
