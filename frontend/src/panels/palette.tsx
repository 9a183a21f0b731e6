// The command palette (Ctrl-Shift-P): the page's commands plus the side panels, filtered as you type.
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Command, NotebookHandle } from "../notebook/handle";
import { openPanel } from "./bus";

const PANEL_COMMANDS: Command[] = [
  { id: "panel.toc", title: "Open table of contents", run: () => openPanel("toc") },
  { id: "panel.find", title: "Open find and replace", run: () => openPanel("find") },
  { id: "panel.snippets", title: "Open code snippets", run: () => openPanel("snippets") },
  { id: "panel.secrets", title: "Open secrets", run: () => openPanel("secrets") },
  { id: "panel.files", title: "Open files", run: () => openPanel("files") },
  { id: "panel.terminal", title: "Open terminal", run: () => openPanel("terminal") },
];

/**
 * How well `query` matches `text`: null when its letters do not all appear in order; higher is
 * better (consecutive letters, word starts, and an early first letter score more).
 */
export function fuzzyScore(query: string, text: string): { score: number; hits: number[] } | null {
  const q = query.toLowerCase().replace(/\s+/g, "");
  if (!q) return { score: 0, hits: [] };
  const t = text.toLowerCase();
  const sub = t.indexOf(query.toLowerCase().trim());
  if (sub >= 0) {
    const hits = Array.from({ length: query.trim().length }, (_, i) => sub + i);
    const wordStart = sub === 0 || /\W/.test(t[sub - 1]);
    return { score: 1000 + (wordStart ? 200 : 0) - sub, hits };
  }
  let score = 0;
  let ti = 0;
  let prev = -2;
  const hits: number[] = [];
  for (const ch of q) {
    const i = t.indexOf(ch, ti);
    if (i < 0) return null;
    if (i === prev + 1) score += 10;
    if (i === 0 || /\W/.test(t[i - 1])) score += 8;
    score -= Math.min(i - ti, 5);
    hits.push(i);
    prev = i;
    ti = i + 1;
  }
  return { score, hits };
}

function Highlight({ text, hits }: { text: string; hits: number[] }) {
  if (hits.length === 0) return <>{text}</>;
  const set = new Set(hits);
  const parts: JSX.Element[] = [];
  let i = 0;
  while (i < text.length) {
    const on = set.has(i);
    let j = i;
    while (j < text.length && set.has(j) === on) j++;
    parts.push(on ? <mark key={i}>{text.slice(i, j)}</mark> : <span key={i}>{text.slice(i, j)}</span>);
    i = j;
  }
  return <>{parts}</>;
}

function Shortcut({ keys }: { keys: string }) {
  return (
    <span class="pal-shortcut">
      {keys.split(/\s+/).map((chord, i) => (
        <span key={i}>
          {chord.split("+").map((k, j) => (
            <kbd key={j}>{k}</kbd>
          ))}
        </span>
      ))}
    </span>
  );
}

export function CommandPalette({ nb, open, onClose }: { nb: NotebookHandle; open: boolean; onClose: () => void }) {
  const [query, setQuery] = useState("");
  const [sel, setSel] = useState(0);
  const inputRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);
  const returnFocus = useRef<Element | null>(null);

  // Focus the input as soon as the dialog is in the page, so the first keys typed land there.
  useLayoutEffect(() => {
    if (open) {
      returnFocus.current = document.activeElement;
      setQuery("");
      setSel(0);
      inputRef.current?.focus();
    }
  }, [open]);

  // A modal keeps the focus: an editor that takes the cursor late (it mounts when the page is
  // idle) must not pull the typing out of the palette.
  useEffect(() => {
    if (!open) return;
    const keep = (e: FocusEvent) => {
      const input = inputRef.current;
      if (input && e.target instanceof Node && !input.closest(".pal")?.contains(e.target)) {
        input.focus();
      }
    };
    // focus can also just vanish (the focused editor re-mounted): take it back then too
    const orphaned = () => {
      const a = document.activeElement;
      if (!a || a === document.body) inputRef.current?.focus();
    };
    const timer = setInterval(orphaned, 100);
    document.addEventListener("focusin", keep);
    return () => {
      clearInterval(timer);
      document.removeEventListener("focusin", keep);
    };
  }, [open]);

  const items = useMemo(() => {
    if (!open) return [];
    const seen = new Set<string>();
    const all = [...nb.commands(), ...PANEL_COMMANDS].filter((c) => !seen.has(c.id) && seen.add(c.id));
    const scored = all
      .map((c, order) => ({ c, order, m: fuzzyScore(query, c.title) }))
      .filter((x): x is { c: Command; order: number; m: { score: number; hits: number[] } } => x.m !== null);
    if (query.trim()) scored.sort((a, b) => b.m.score - a.m.score || a.order - b.order);
    return scored;
  }, [open, query, nb]);

  useEffect(() => {
    listRef.current?.querySelector(`[aria-selected="true"]`)?.scrollIntoView({ block: "nearest" });
  }, [sel, items]);

  if (!open) return null;

  const close = () => {
    onClose();
    const el = returnFocus.current;
    if (el instanceof HTMLElement) requestAnimationFrame(() => el.focus());
  };

  const runAt = (i: number) => {
    const item = items[i];
    if (!item) return;
    onClose();
    // Run after the palette is gone, so commands that move focus keep it.
    requestAnimationFrame(() => item.c.run());
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const n = items.length;
    switch (e.key) {
      case "ArrowDown":
        e.preventDefault();
        if (n) setSel((s) => (s + 1) % n);
        break;
      case "ArrowUp":
        e.preventDefault();
        if (n) setSel((s) => (s - 1 + n) % n);
        break;
      case "PageDown":
        e.preventDefault();
        if (n) setSel((s) => Math.min(n - 1, s + 8));
        break;
      case "PageUp":
        e.preventDefault();
        if (n) setSel((s) => Math.max(0, s - 8));
        break;
      case "Enter":
        e.preventDefault();
        runAt(sel);
        break;
      case "Escape":
        e.preventDefault();
        e.stopPropagation();
        close();
        break;
      case "Tab":
        e.preventDefault(); // keep focus in the dialog
        break;
    }
  };

  const active = Math.min(sel, Math.max(items.length - 1, 0));

  return (
    <div class="pal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && close()}>
      <div class="pal" role="dialog" aria-modal="true" aria-label="Command palette" onKeyDown={onKeyDown}>
        <input
          ref={inputRef}
          class="pal-input"
          type="text"
          role="combobox"
          aria-expanded="true"
          aria-controls="pal-list"
          aria-activedescendant={items.length ? `pal-item-${active}` : undefined}
          aria-label="Search commands"
          placeholder="Type a command"
          value={query}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            setSel(0);
          }}
        />
        <ul id="pal-list" ref={listRef} class="pal-list" role="listbox" aria-label="Commands">
          {items.length === 0 && <li class="pal-empty">No matching commands</li>}
          {items.map(({ c, m }, i) => (
            <li
              key={c.id}
              id={`pal-item-${i}`}
              role="option"
              aria-selected={i === active}
              class="pal-item"
              onMouseMove={() => i !== sel && setSel(i)}
              onClick={() => runAt(i)}
            >
              <span class="pal-title">
                <Highlight text={c.title} hits={m.hits} />
              </span>
              {c.shortcut && <Shortcut keys={c.shortcut} />}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
