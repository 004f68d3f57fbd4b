// antd's tables scroll inside `.ant-table-content` / `.ant-table-body` when given `scroll`; a
// keyboard user must be able to reach that region (axe: scrollable-region-focusable). Wrap such
// a table: <FocusableScroll label={t("title")}><Table scroll={{ x: 900 }} ... /></FocusableScroll>
import { useEffect, useRef, type ReactNode } from "react";

const SCROLLERS = ".ant-table-content, .ant-table-body";

export function markScrollers(root: HTMLElement, label: string): void {
  root.querySelectorAll<HTMLElement>(SCROLLERS).forEach((el) => {
    if (el.hasAttribute("tabindex")) return;
    el.setAttribute("tabindex", "0");
    el.setAttribute("role", "region");
    el.setAttribute("aria-label", label);
  });
}

export function FocusableScroll({ label, children }: { label: string; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const root = ref.current;
    if (!root) return;
    markScrollers(root, label);
    const observer = new MutationObserver(() => markScrollers(root, label));
    observer.observe(root, { childList: true, subtree: true });
    return () => observer.disconnect();
  }, [label]);
  return <div ref={ref}>{children}</div>;
}
