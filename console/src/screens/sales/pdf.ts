// The quote's PDF through the typed client (GET /quotes/{id}/pdf as a blob), opened in a new tab
// or saved under the name the API gives it (Content-Disposition).
import { api } from "../../api";
import { ApiError, toProblem } from "../../api/problem";

export interface QuotePdf {
  blob: Blob;
  filename: string;
}

/** `attachment; filename="Q-2026-000001-v2.pdf"` → the name; a fallback when there is none. */
export function filenameOf(disposition: string | null, fallback: string): string {
  const match = /filename\*?=(?:UTF-8''|")?([^";]+)"?/i.exec(disposition ?? "");
  return match?.[1] ? decodeURIComponent(match[1]) : fallback;
}

export async function fetchQuotePdf(id: string, fallback: string): Promise<QuotePdf> {
  let result;
  try {
    result = await api.GET("/api/v1/quotes/{id}/pdf", { params: { path: { id } }, parseAs: "blob" });
  } catch (err) {
    throw new ApiError(0, toProblem(0, null, err instanceof Error ? err.message : "Network error"));
  }
  const { data, error, response } = result;
  if (!response.ok || error !== undefined || !data) {
    throw new ApiError(response.status, toProblem(response.status, error, response.statusText));
  }
  return { blob: data as Blob, filename: filenameOf(response.headers.get("Content-Disposition"), fallback) };
}

export function openPdf(pdf: QuotePdf): void {
  const url = URL.createObjectURL(pdf.blob);
  window.open(url, "_blank", "noopener");
  setTimeout(() => URL.revokeObjectURL(url), 60_000); // the new tab has read it by then
}

export function downloadPdf(pdf: QuotePdf): void {
  const url = URL.createObjectURL(pdf.blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = pdf.filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
