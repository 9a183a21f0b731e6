// Find and replace across every cell of the notebook.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { CellModel, NotebookHandle } from "../notebook/handle";
import { useNotebook } from "./bus";

export interface Match {
  cellId: string;
  cellIndex: number;
  from: number;
  to: number;
}

const MAX_MATCHES = 2000;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The search as a global RegExp, or the sentence saying why the pattern is not valid. */
export function compile(query: string, caseSensitive: boolean, regex: boolean): RegExp | string | null {
  if (!query) return null;
  try {
    return new RegExp(regex ? query : escapeRegExp(query), caseSensitive ? "gu" : "giu");
  } catch (e) {
    return `Not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, "")}`;
  }
}

export function findMatches(cells: CellModel[], re: RegExp): Match[] {
  const out: Match[] = [];
  cells.forEach((cell, cellIndex) => {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(cell.source)) !== null && out.length < MAX_MATCHES) {
      if (m[0].length === 0) {
        re.lastIndex++; // never loop on an empty match, and never list one
        continue;
      }
      out.push({ cellId: cell.id, cellIndex, from: m.index, to: m.index + m[0].length });
    }
  });
  return out;
}

/** The source with the one match at `from` replaced (regex replacements may use $1, $<name>). */
function replaceOne(source: string, re: RegExp, from: number, replacement: string, regex: boolean): string {
  const sticky = new RegExp(re.source, re.flags.replace("g", "") + "y");
  sticky.lastIndex = from;
  return regex ? source.replace(sticky, replacement) : source.replace(sticky, () => replacement);
}

function Context({ source, from, to }: { source: string; from: number; to: number }) {
  const lineStart = source.lastIndexOf("\n", from - 1) + 1;
  let lineEnd = source.indexOf("\n", to);
  if (lineEnd < 0) lineEnd = source.length;
  const start = Math.max(lineStart, from - 30);
  const end = Math.min(lineEnd, Math.max(to + 40, from + 60));
  return (
    <span class="sp-match-context">
      {start > lineStart ? "…" : ""}
      {source.slice(start, from)}
      <mark>{source.slice(from, Math.min(to, end))}</mark>
      {source.slice(Math.min(to, end), end)}
      {end < lineEnd ? "…" : ""}
    </span>
  );
}

export function FindPanel({ nb }: { nb: NotebookHandle }) {
  const version = useNotebook(nb);
  const [query, setQuery] = useState("");
  const [replacement, setReplacement] = useState("");
  const [caseSensitive, setCaseSensitive] = useState(false);
  const [regex, setRegex] = useState(false);
  const [current, setCurrent] = useState(-1);
  const [edits, setEdits] = useState(0);
  const findRef = useRef<HTMLInputElement>(null);

  useEffect(() => findRef.current?.focus(), []);

  const cells = nb.cells();
  const re = compile(query, caseSensitive, regex);
  const matches = useMemo(
    () => (re instanceof RegExp ? findMatches(cells, re) : []),
    [version, edits, query, caseSensitive, regex],
  );
  const sourceOf = (id: string) => cells.find((c) => c.id === id)?.source ?? "";

  useEffect(() => setCurrent(-1), [query, caseSensitive, regex]);
  const cur = current >= 0 && current < matches.length ? current : -1;

  const go = (i: number) => {
    if (matches.length === 0) return;
    const n = ((i % matches.length) + matches.length) % matches.length;
    setCurrent(n);
    const m = matches[n];
    nb.focusCell(m.cellId, m.from, m.to);
  };

  const replace = () => {
    if (!(re instanceof RegExp) || matches.length === 0) return;
    const i = cur >= 0 ? cur : 0;
    const m = matches[i];
    nb.setSource(m.cellId, replaceOne(sourceOf(m.cellId), re, m.from, replacement, regex));
    setEdits((e) => e + 1);
    // Stay on the same position: the next match slides into it.
    setCurrent(i);
  };

  const replaceAll = () => {
    if (!(re instanceof RegExp) || matches.length === 0) return;
    const ids = [...new Set(matches.map((m) => m.cellId))];
    for (const id of ids) {
      const src = sourceOf(id);
      re.lastIndex = 0;
      const out = regex ? src.replace(re, replacement) : src.replace(re, () => replacement);
      if (out !== src) nb.setSource(id, out);
    }
    setEdits((e) => e + 1);
    setCurrent(-1);
  };

  const onFindKey = (e: KeyboardEvent) => {
    if (e.key === "Enter") {
      e.preventDefault();
      go(e.shiftKey ? cur - 1 : cur + 1);
    }
  };

  const cellCount = new Set(matches.map((m) => m.cellId)).size;
  let status = "";
  if (typeof re === "string") status = re;
  else if (re && matches.length === 0) status = "No matches";
  else if (re) {
    const more = matches.length >= MAX_MATCHES ? "+" : "";
    status = `${cur >= 0 ? `${cur + 1} of ` : ""}${matches.length}${more} match${matches.length === 1 ? "" : "es"} in ${cellCount} cell${cellCount === 1 ? "" : "s"}`;
  }

  return (
    <div class="sp-find">
      <div class="sp-row">
        <input
          ref={findRef}
          class="sp-input"
          type="search"
          aria-label="Find"
          placeholder="Find"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
          onKeyDown={onFindKey}
        />
        <button
          type="button"
          class="sp-toggle"
          aria-label="Match case"
          title="Match case"
          aria-pressed={caseSensitive}
          onClick={() => setCaseSensitive(!caseSensitive)}
        >
          Aa
        </button>
        <button
          type="button"
          class="sp-toggle"
          aria-label="Use regular expression"
          title="Use regular expression"
          aria-pressed={regex}
          onClick={() => setRegex(!regex)}
        >
          .*
        </button>
      </div>
      <div class="sp-row">
        <input
          class="sp-input"
          type="text"
          aria-label="Replace with"
          placeholder="Replace with"
          value={replacement}
          onInput={(e) => setReplacement(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter") {
              e.preventDefault();
              replace();
            }
          }}
        />
      </div>
      <div class="sp-row sp-buttons">
        <button type="button" class="sp-btn" onClick={() => go(cur - 1)} disabled={matches.length === 0}>
          Previous
        </button>
        <button type="button" class="sp-btn" onClick={() => go(cur + 1)} disabled={matches.length === 0}>
          Next
        </button>
        <button type="button" class="sp-btn" onClick={replace} disabled={matches.length === 0}>
          Replace
        </button>
        <button type="button" class="sp-btn" onClick={replaceAll} disabled={matches.length === 0}>
          Replace all
        </button>
      </div>
      <p class={`sp-status${typeof re === "string" ? " sp-error" : ""}`} role="status" aria-live="polite">
        {status}
      </p>
      {matches.length > 0 && (
        <ul class="sp-matches" aria-label="Matches">
          {matches.slice(0, 500).map((m, i) => (
            <li key={`${m.cellId}:${m.from}`}>
              <button
                type="button"
                class="sp-match"
                aria-current={i === cur ? "true" : undefined}
                onClick={() => go(i)}
              >
                <span class="sp-match-cell">Cell {m.cellIndex + 1}</span>
                <Context source={sourceOf(m.cellId)} from={m.from} to={m.to} />
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
