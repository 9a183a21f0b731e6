// CodeMirror 6 for one cell: Python or Markdown, auto-indent, bracket matching and closing,
// undo, and the notebook's run keys (in Prec.highest: the default keymap's Enter wins otherwise).
import { closeBrackets, closeBracketsKeymap, completionKeymap, completionStatus } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { highlightSelectionMatches, searchKeymap } from "@codemirror/search";
import { Compartment, EditorState, Prec, Transaction } from "@codemirror/state";
import {
  drawSelection,
  dropCursor,
  EditorView,
  highlightSpecialChars,
  keymap,
  lineNumbers,
  placeholder,
  type KeyBinding,
} from "@codemirror/view";
import { classHighlighter } from "@lezer/highlight";
import { kernelAssist, type KernelAssist } from "./kernel-assist";

export type RunMode = "in_place" | "advance" | "insert_below";

export interface EditorOptions {
  parent: HTMLElement;
  doc: string;
  language: "python" | "markdown";
  label: string;
  onChange(text: string): void;
  onRun(mode: RunMode): void;
  onFocus(): void;
  onEscape(): void;
  /** Arrow keys at the first/last line move to the neighbouring cell. */
  onLeave(direction: -1 | 1): boolean;
  /** Completion and help from the runtime's kernel (code cells). */
  kernel?: KernelAssist;
}

export function createEditor(o: EditorOptions): EditorView {
  const run = (mode: RunMode) => () => {
    o.onRun(mode);
    return true;
  };
  const runKeys: KeyBinding[] = [
    { key: "Shift-Enter", run: run("advance") },
    { key: "Mod-Enter", run: run("in_place") },
    { key: "Alt-Enter", run: run("insert_below") },
    {
      key: "Escape",
      run: (view) => {
        if (completionStatus(view.state) !== null) return false; // closes the completions
        view.contentDOM.blur();
        o.onEscape();
        return true;
      },
    },
    {
      key: "ArrowUp",
      run: (view) => {
        const sel = view.state.selection.main;
        if (completionStatus(view.state) === "active") return false; // moves in the completions
        if (!sel.empty || view.state.doc.lineAt(sel.head).number !== 1) return false;
        return o.onLeave(-1);
      },
    },
    {
      key: "ArrowDown",
      run: (view) => {
        const sel = view.state.selection.main;
        if (completionStatus(view.state) === "active") return false;
        if (!sel.empty || view.state.doc.lineAt(sel.head).number !== view.state.doc.lines) return false;
        return o.onLeave(1);
      },
    },
  ];
  const markdownLanguage = new Compartment();
  const assist = o.language === "python" && o.kernel ? kernelAssist(o.kernel) : [];
  const extensions = [
    Prec.highest(assist), // before the run keys: Escape first closes a help tooltip
    Prec.highest(keymap.of(runKeys)),
    o.language === "python" ? lineNumbers() : [], // shown when Settings asks (notebook.css)
    highlightSpecialChars(),
    history(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    indentUnit.of("    "),
    bracketMatching(),
    closeBrackets(),
    highlightSelectionMatches(),
    syntaxHighlighting(classHighlighter),
    keymap.of([
      ...closeBracketsKeymap,
      ...defaultKeymap,
      ...searchKeymap,
      ...historyKeymap,
      ...completionKeymap,
      indentWithTab,
    ]),
    o.language === "python" ? [python()] : [markdownLanguage.of([]), EditorView.lineWrapping],
    placeholder(o.language === "python" ? "Start coding…" : "Write text in Markdown…"),
    EditorView.contentAttributes.of({ "aria-label": o.label }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged && !u.transactions.some((t) => t.annotation(Transaction.remote)))
        o.onChange(u.state.doc.toString());
      if (u.focusChanged && u.view.hasFocus) o.onFocus();
    }),
  ];
  const view = new EditorView({ parent: o.parent, state: EditorState.create({ doc: o.doc, extensions }) });
  if (o.language !== "python") {
    // Markdown highlighting (with the HTML and CSS grammars it embeds) loads with the first text
    // cell's editor, not with the page.
    void import("@codemirror/lang-markdown").then(({ markdown }) => {
      view.dispatch({ effects: markdownLanguage.reconfigure(markdown()) });
    });
  }
  return view;
}

/** Replace the editor's text with a remote version, keeping the cursor where it can stay. */
export function setEditorText(view: EditorView, text: string) {
  const old = view.state.doc.toString();
  if (old === text) return;
  // replace only the part that differs, so the cursor outside it stays put
  let start = 0;
  while (start < old.length && start < text.length && old[start] === text[start]) start++;
  let endOld = old.length;
  let endNew = text.length;
  while (endOld > start && endNew > start && old[endOld - 1] === text[endNew - 1]) {
    endOld--;
    endNew--;
  }
  view.dispatch({
    changes: { from: start, to: endOld, insert: text.slice(start, endNew) },
    annotations: [Transaction.remote.of(true), Transaction.addToHistory.of(false)],
  });
}
