// A search hit's snippet: the index marks matches with <em> around HTML-escaped text. It is shown
// as text with <mark>s, never as HTML (no markup of an article reaches the page as markup).
const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (e) => ENTITIES[e] ?? e);
}

export function snippetParts(snippet: string): { text: string; marked: boolean }[] {
  const parts: { text: string; marked: boolean }[] = [];
  const re = /<em>(.*?)<\/em>/gs;
  let pos = 0;
  for (let hit = re.exec(snippet); hit; hit = re.exec(snippet)) {
    if (hit.index > pos) parts.push({ text: unescape(snippet.slice(pos, hit.index)), marked: false });
    parts.push({ text: unescape(hit[1] ?? ""), marked: true });
    pos = hit.index + hit[0].length;
  }
  if (pos < snippet.length) parts.push({ text: unescape(snippet.slice(pos)), marked: false });
  return parts;
}

export function Snippet({ text }: { text: string | undefined }) {
  return <>{snippetParts(text ?? "").map((p, i) => (p.marked ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}</>;
}
