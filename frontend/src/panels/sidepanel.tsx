// The notebook's left side panel, like Colab's: an icon rail and one open panel at a time.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { NotebookHandle } from "../notebook/handle";
import { onOpenPanel, type PanelName } from "./bus";
import { FilesPanel } from "./files";
import { FindPanel } from "./find";
import { HelpPanel } from "./help";
import { VariablesPanel } from "./variables";
import { SecretsPanel } from "./secrets";
import { SnippetsPanel } from "./snippets";
import { TerminalPanel } from "./terminal";
import { TocPanel } from "./toc";

export { openPanel, type PanelName } from "./bus";

const icon = (d: string) => (
  <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
    <path d={d} fill="currentColor" />
  </svg>
);

const PANELS: { name: PanelName; title: string; icon: JSX.Element }[] = [
  {
    name: "toc",
    title: "Table of contents",
    icon: icon("M3 5h2v2H3zm4 0h14v2H7zM3 11h2v2H3zm4 0h14v2H7zm-4 6h2v2H3zm4 0h14v2H7z"),
  },
  {
    name: "find",
    title: "Find and replace",
    icon: icon(
      "M15.5 14h-.79l-.28-.27A6.47 6.47 0 0 0 16 9.5 6.5 6.5 0 1 0 9.5 16c1.61 0 3.09-.59 4.23-1.57l.27.28v.79l5 4.99L20.49 19zm-6 0C7.01 14 5 11.99 5 9.5S7.01 5 9.5 5 14 7.01 14 9.5 11.99 14 9.5 14",
    ),
  },
  {
    name: "snippets",
    title: "Code snippets",
    icon: icon("M9.4 16.6 4.8 12l4.6-4.6L8 6l-6 6 6 6zm5.2 0 4.6-4.6-4.6-4.6L16 6l6 6-6 6z"),
  },
  {
    name: "secrets",
    title: "Secrets",
    icon: icon(
      "M12.65 10A5.99 5.99 0 0 0 7 6a6 6 0 1 0 0 12 5.99 5.99 0 0 0 5.65-4H17v4h4v-4h2v-4zM7 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4",
    ),
  },
  {
    name: "files",
    title: "Files",
    icon: icon("M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8z"),
  },
  {
    name: "variables",
    title: "Variables",
    icon: icon("M4 7v10h2V7zm5 0 3 5-3 5h2.3l1.85-3.1L15 17h2.3l-3-5 3-5H15l-1.85 3.1L11.3 7zm11 0v10h-2V7z"),
  },
  {
    name: "help",
    title: "Help",
    icon: icon(
      "M11 18h2v-2h-2zm1-16a10 10 0 1 0 0 20 10 10 0 0 0 0-20m0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16m0-14a4 4 0 0 0-4 4h2a2 2 0 1 1 4 0c0 2-3 1.75-3 5h2c0-2.25 3-2.5 3-5a4 4 0 0 0-4-4",
    ),
  },
  {
    name: "terminal",
    title: "Terminal",
    icon: icon(
      "M20 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2m0 14H4V8h16zM6.5 10.5 9 13l-2.5 2.5L7.9 17l4-4-4-4zM12 15.5h5V17h-5z",
    ),
  },
];

const WIDTH_KEY = "dikte.sidepanel.width";

export function SidePanel({ nb }: { nb: NotebookHandle }) {
  const [open, setOpen] = useState<PanelName | null>(null);
  // The terminal stays alive (hidden) once opened, so switching panels keeps its shell.
  const [termStarted, setTermStarted] = useState(false);
  const [width, setWidth] = useState<number | null>(() => {
    const w = Number(localStorage.getItem(WIDTH_KEY));
    return w > 0 ? w : null;
  });
  const bodyRef = useRef<HTMLDivElement>(null);

  const show = (name: PanelName | null) => {
    setOpen(name);
    if (name === "terminal") setTermStarted(true);
  };

  useEffect(() => onOpenPanel((name) => show(name)), []);

  // Escape inside a panel (outside the terminal) returns focus to its rail button.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "Escape" || open === null || open === "terminal") return;
    const btn = document.getElementById(`sp-tab-${open}`);
    btn?.focus();
  };

  // Drag the right edge to resize; the width is remembered.
  const startResize = (e: PointerEvent) => {
    const body = bodyRef.current;
    if (!body) return;
    e.preventDefault();
    const startX = e.clientX;
    const startW = body.getBoundingClientRect().width;
    const move = (ev: PointerEvent) => {
      const w = Math.max(220, Math.min(window.innerWidth * 0.8, startW + ev.clientX - startX));
      setWidth(Math.round(w));
    };
    const up = () => {
      removeEventListener("pointermove", move);
      removeEventListener("pointerup", up);
      const w = bodyRef.current?.getBoundingClientRect().width;
      if (w) localStorage.setItem(WIDTH_KEY, String(Math.round(w)));
    };
    addEventListener("pointermove", move);
    addEventListener("pointerup", up);
  };

  const current = PANELS.find((p) => p.name === open);
  const style = width ? { width: `${open === "terminal" ? Math.max(width, 420) : width}px` } : undefined;

  return (
    <aside class={`sidepanel${open ? " sp-open" : ""}`} onKeyDown={onKeyDown}>
      <div class="sp-rail" role="toolbar" aria-label="Side panels" aria-orientation="vertical">
        {PANELS.map((p) => (
          <button
            key={p.name}
            id={`sp-tab-${p.name}`}
            type="button"
            class="sp-rail-btn"
            aria-label={p.title}
            title={p.title}
            aria-pressed={open === p.name}
            aria-controls="sp-body"
            onClick={() => show(open === p.name ? null : p.name)}
          >
            {p.icon}
          </button>
        ))}
      </div>
      <div
        id="sp-body"
        ref={bodyRef}
        class={`sp-body${open === "terminal" ? " sp-wide" : ""}`}
        hidden={open === null}
        style={style}
      >
        <section class="sp-panel" aria-label={current?.title ?? "Side panel"} hidden={open === null}>
          <header class="sp-head">
            <h2 class="sp-title">{current?.title}</h2>
            <button type="button" class="sp-icon-btn" aria-label="Close side panel" title="Close" onClick={() => show(null)}>
              ✕
            </button>
          </header>
          <div class="sp-content">
            {open === "toc" && <TocPanel nb={nb} />}
            {open === "find" && <FindPanel nb={nb} />}
            {open === "snippets" && <SnippetsPanel nb={nb} />}
            {open === "secrets" && <SecretsPanel nb={nb} />}
            {open === "files" && <FilesPanel nb={nb} />}
            {open === "help" && <HelpPanel nb={nb} />}
            {open === "variables" && <VariablesPanel nb={nb} />}
            {termStarted && (
              <div class="sp-term-wrap" hidden={open !== "terminal"}>
                <TerminalPanel nb={nb} active={open === "terminal"} />
              </div>
            )}
          </div>
        </section>
        <div
          class="sp-resizer"
          role="separator"
          aria-orientation="vertical"
          aria-label="Resize side panel"
          onPointerDown={startResize}
        />
      </div>
    </aside>
  );
}
