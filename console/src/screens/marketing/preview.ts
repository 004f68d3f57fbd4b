// The document the preview iframe shows: the API's HTML when the template has it, else its text
// part escaped into a <pre>. The iframe is sandboxed (no scripts, no same origin) and the page
// forbids every fetch but images, so a template cannot call home from the console.
import type { Schema } from "../../api";

const CSP = "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

export function previewDocument(preview: Schema<"TemplatePreview">): string {
  const head = `<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">`;
  const html = preview.html ?? "";
  // a whole document keeps its own head, with the policy put first in it
  if (/<head[^>]*>/i.test(html)) return html.replace(/<head[^>]*>/i, (tag) => tag + head);
  if (html) return `<!doctype html><html><head>${head}</head><body>${html}</body></html>`;
  return `<!doctype html><html><head>${head}</head><body><pre style="white-space:pre-wrap;font-family:system-ui,sans-serif">${escapeHtml(preview.text ?? "")}</pre></body></html>`;
}
