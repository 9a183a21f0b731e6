// Completion and help from the runtime's kernel in a code cell's editor: Tab and Ctrl-Space open
// the kernel's completions (with their types, and documentation for the selected one), Shift-Tab
// and hovering show the help of the name under the cursor, and typing "(" or "," in a call shows
// its signature. The kernel answers these while a cell runs (the server asks on its control
// channel). Kernel text is shown through ansiToHtml, which escapes HTML: nothing the kernel says
// runs in the page.
import {
  acceptCompletion,
  autocompletion,
  completionStatus,
  startCompletion,
  type Completion,
  type CompletionContext,
  type CompletionResult,
} from "@codemirror/autocomplete";
import { indentLess } from "@codemirror/commands";
import { StateEffect, StateField, type Extension } from "@codemirror/state";
import { EditorView, hoverTooltip, keymap, showTooltip, type Tooltip } from "@codemirror/view";
import { ansiToHtml } from "./ansi";

export type CompleteReply = { matches: string[]; cursor_start: number; cursor_end: number; types: string[] };
export type InspectReply = { found: boolean; data: Record<string, unknown> };

/** What the editor asks the kernel (positions in Unicode code points, as Jupyter counts). */
export interface KernelAssist {
  complete(code: string, cursorPos: number): Promise<CompleteReply>;
  inspect(code: string, cursorPos: number, detail: 0 | 1): Promise<InspectReply>;
}

/** Code points before a UTF-16 offset (the kernel counts code points, JavaScript UTF-16 units). */
export function toCodePoints(text: string, offset: number): number {
  let n = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff || i === 0 || text.charCodeAt(i - 1) < 0xd800 || text.charCodeAt(i - 1) > 0xdbff) n++;
  }
  return n;
}

/** The UTF-16 offset of a code point position. */
export function fromCodePoints(text: string, points: number): number {
  let i = 0;
  for (let n = 0; n < points && i < text.length; n++) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

// IPython's completion types -> CodeMirror's icon classes
const TYPES: Record<string, string> = {
  function: "function",
  module: "namespace",
  class: "class",
  instance: "variable",
  statement: "variable",
  param: "variable",
  property: "property",
  keyword: "keyword",
  path: "text",
  magic: "keyword",
};

const MAX_TOOLTIP_CHARS = 4000;

function helpText(reply: InspectReply): string | null {
  const text = reply.data["text/plain"];
  if (!reply.found || typeof text !== "string" || !text.trim()) return null;
  return text.length > MAX_TOOLTIP_CHARS ? text.slice(0, MAX_TOOLTIP_CHARS) + "\n…" : text;
}

function helpDom(text: string, cls: string): HTMLElement {
  const pre = document.createElement("pre");
  pre.className = `kernel-help ${cls}`;
  pre.innerHTML = ansiToHtml(text); // escapes HTML
  return pre;
}

/** The signature part of a help text: what a tooltip while typing a call shows. */
function signatureOf(text: string): string {
  const lines = text.split("\n");
  const doc = lines.findIndex((l) => /Docstring:/.test(l.replace(/\x1b\[[0-9;]*m/g, "")));
  const end = doc >= 0 ? Math.min(lines.length, doc + 3) : Math.min(lines.length, 6);
  return lines.slice(0, end).join("\n");
}

const setHelp = StateEffect.define<Tooltip | null>();

// The one help tooltip (Shift-Tab, or a call's signature while typing); gone at the next edit or
// cursor move, or with Escape.
const helpTooltip = StateField.define<Tooltip | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setHelp)) return e.value;
    if (value && (tr.docChanged || tr.selection)) return null;
    return value;
  },
  provide: (f) => showTooltip.from(f),
});

function showHelp(view: EditorView, pos: number, text: string, cls: string) {
  view.dispatch({
    effects: setHelp.of({ pos, above: true, create: () => ({ dom: helpDom(text, cls) }) }),
  });
}

/** Ask for the help of the name at the cursor and show it above the cursor. */
async function inspectAtCursor(view: EditorView, kernel: KernelAssist, signature: boolean) {
  const code = view.state.doc.toString();
  const head = view.state.selection.main.head;
  let reply: InspectReply;
  try {
    reply = await kernel.inspect(code, toCodePoints(code, head), 0);
  } catch {
    return; // no runtime: nothing to show (the toolbar says how to connect)
  }
  if (view.state.doc.toString() !== code || view.state.selection.main.head !== head) return; // typed on
  const text = helpText(reply);
  if (text) showHelp(view, head, signature ? signatureOf(text) : text, signature ? "kernel-signature" : "kernel-tooltip");
}

function completionSource(kernel: KernelAssist) {
  return async (ctx: CompletionContext): Promise<CompletionResult | null> => {
    const before = ctx.state.sliceDoc(Math.max(0, ctx.pos - 1), ctx.pos);
    // while typing, only after a dot (as Colab); Tab and Ctrl-Space ask explicitly
    if (!ctx.explicit && before !== ".") return null;
    const code = ctx.state.doc.toString();
    let reply: CompleteReply;
    try {
      reply = await kernel.complete(code, toCodePoints(code, ctx.pos));
    } catch {
      return null;
    }
    if (ctx.aborted || !reply.matches.length) return null;
    const from = fromCodePoints(code, reply.cursor_start);
    const to = fromCodePoints(code, reply.cursor_end);
    const options: Completion[] = reply.matches.map((label, i) => {
      const kind = reply.types[i] ?? "";
      return {
        label,
        type: TYPES[kind] ?? (kind ? "variable" : undefined),
        detail: kind || undefined,
        info: async () => {
          const text = code.slice(0, from) + label;
          try {
            const help = helpText(await kernel.inspect(text, toCodePoints(text, text.length), 0));
            return help ? helpDom(help, "kernel-info") : null;
          } catch {
            return null;
          }
        },
      };
    });
    return { from, to, options, filter: false };
  };
}

export function kernelAssist(kernel: KernelAssist): Extension[] {
  const keys = keymap.of([
    {
      key: "Tab",
      run: (view) => {
        if (completionStatus(view.state) === "active") return acceptCompletion(view);
        const sel = view.state.selection.main;
        if (!sel.empty) return false;
        const before = view.state.sliceDoc(Math.max(0, sel.head - 1), sel.head);
        if (!/[\w.]/.test(before)) return false; // at a line's start, Tab indents
        return startCompletion(view);
      },
    },
    {
      key: "Shift-Tab",
      run: (view) => {
        const sel = view.state.selection.main;
        const before = view.state.sliceDoc(Math.max(0, sel.head - 1), sel.head);
        if (!sel.empty || !/[\w.(,]/.test(before)) return indentLess(view);
        void inspectAtCursor(view, kernel, false);
        return true;
      },
    },
    {
      key: "Escape",
      run: (view) => {
        if (!view.state.field(helpTooltip)) return false;
        view.dispatch({ effects: setHelp.of(null) });
        return true;
      },
    },
  ]);
  return [
    helpTooltip,
    keys,
    autocompletion({ override: [completionSource(kernel)], icons: true, closeOnBlur: true }),
    hoverTooltip(
      async (view, pos) => {
        const word = view.state.wordAt(pos);
        if (!word) return null;
        const code = view.state.doc.toString();
        try {
          const text = helpText(await kernel.inspect(code, toCodePoints(code, word.to), 0));
          if (!text) return null;
          return { pos: word.from, end: word.to, above: true, create: () => ({ dom: helpDom(text, "kernel-hover") }) };
        } catch {
          return null;
        }
      },
      { hoverTime: 700 },
    ),
    // a call's signature while typing its arguments
    EditorView.updateListener.of((u) => {
      if (!u.docChanged || !u.transactions.some((t) => t.isUserEvent("input.type"))) return;
      const head = u.state.selection.main.head;
      const typed = u.state.sliceDoc(Math.max(0, head - 1), head);
      if (typed === "(" || typed === ",") void inspectAtCursor(u.view, kernel, true);
    }),
  ];
}
