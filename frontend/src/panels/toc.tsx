// Table of contents: the Markdown headings of the notebook's markdown cells.
import type { NotebookHandle } from "../notebook/handle";
import { useNotebook } from "./bus";

export interface Heading {
  cellId: string;
  cellIndex: number;
  level: number;
  text: string;
  /** Offset of the heading line in the cell's source. */
  offset: number;
}

/** Plain text of a heading's inline Markdown: links, emphasis, code and HTML tags stripped. */
function plain(md: string): string {
  return md
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, "")
    .replace(/(\*\*|\*|~~|`)(.+?)\1/g, "$2")
    .replace(/(^|\W)(__|_)(.+?)\2(?=\W|$)/g, "$1$3")
    .replace(/\\([\\`*_{}[\]()#+\-.!])/g, "$1")
    .trim();
}

export function headingsOf(source: string): { level: number; text: string; offset: number }[] {
  const out: { level: number; text: string; offset: number }[] = [];
  let offset = 0;
  let fence: string | null = null;
  for (const line of source.split("\n")) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
    } else if (fence === null) {
      const m = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
      if (m) {
        const text = plain(m[2] ?? "");
        if (text) out.push({ level: m[1].length, text, offset });
      }
    }
    offset += line.length + 1;
  }
  return out;
}

export function headings(nb: NotebookHandle): Heading[] {
  const out: Heading[] = [];
  nb.cells().forEach((cell, cellIndex) => {
    if (cell.cell_type !== "markdown") return;
    for (const h of headingsOf(cell.source)) out.push({ cellId: cell.id, cellIndex, ...h });
  });
  return out;
}

export function TocPanel({ nb }: { nb: NotebookHandle }) {
  useNotebook(nb);
  const items = headings(nb);
  if (items.length === 0) {
    return <p class="sp-empty">No headings yet. Start a text cell line with <code>#</code> to add one.</p>;
  }
  const top = Math.min(...items.map((h) => h.level));
  return (
    <nav aria-label="Table of contents">
      <ul class="sp-toc">
        {items.map((h) => (
          <li key={`${h.cellId}:${h.offset}`}>
            <button
              type="button"
              class={`sp-toc-item sp-toc-h${h.level}`}
              style={{ paddingLeft: `${8 + (h.level - top) * 14}px` }}
              onClick={() => nb.focusCell(h.cellId)}
            >
              {h.text}
            </button>
          </li>
        ))}
      </ul>
    </nav>
  );
}
