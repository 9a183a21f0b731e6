// One cell: its toolbar, run button, CodeMirror editor (or rendered Markdown), outputs and an
// input() prompt. Memoised: it re-renders only when its own cell object or state changes.
import { memo } from "preact/compat";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { EditorView } from "@codemirror/view";
import { EditorSelection } from "@codemirror/state";
import type { CellModel } from "./handle";
import type { CellState, NotebookStore, PendingInput } from "./store";
import { startCompletion } from "@codemirror/autocomplete";
import { createEditor, setEditorText } from "./editor";
import { leaveCell, runCell, selectCell } from "./actions";
import { RunButton } from "./runbutton";
import { Icon } from "./icons";
import { Markdown } from "./markdown";
import { Outputs } from "./outputs";
import { InputPrompt } from "./stdin";
import { ColabArea } from "./colab-area";
import { parseForm, setFieldValue, type FormField, type Value } from "./forms";
import { FormView, cellView, type CellView } from "./form-view";

type Props = {
  store: NotebookStore;
  cell: CellModel;
  state: CellState | undefined;
  index: number;
  total: number;
  focused: boolean;
  editing: boolean;
  input: PendingInput | null;
};

// Editors mount a few at a time when the page is idle, so fast scrolling stays smooth.
const mountQueue: (() => void)[] = [];
let mountScheduled = false;

function drainMounts(deadline?: IdleDeadline) {
  mountScheduled = false;
  let n = 0;
  while (mountQueue.length && (deadline ? deadline.timeRemaining() > 8 && n < 2 : n < 1)) {
    mountQueue.shift()!();
    n++;
  }
  if (mountQueue.length) scheduleMounts();
}

function scheduleMounts() {
  if (mountScheduled) return;
  mountScheduled = true;
  if ("requestIdleCallback" in window) requestIdleCallback(drainMounts, { timeout: 300 });
  else setTimeout(drainMounts, 16);
}

function whenIdle(fn: () => void): () => void {
  let live = true;
  mountQueue.push(() => live && fn());
  scheduleMounts();
  return () => {
    live = false;
  };
}

// CodeMirror views are costly: a cell far from the viewport shows its source as plain text and
// gets its editor when it comes near (or is focused), so a 500-cell notebook opens quickly.
function CellEditor(props: { store: NotebookStore; cell: CellModel; index: number }) {
  const { store, cell } = props;
  const [near, setNear] = useState(false);
  const placeholder = useRef<HTMLPreElement>(null);
  const wanted = near || store.wantsFocus(cell.id) || store.focusedId === cell.id;
  useEffect(() => {
    if (wanted || !placeholder.current) return;
    let cancel = () => {};
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) cancel = whenIdle(() => setNear(true));
    }, { rootMargin: "1000px 0px" });
    io.observe(placeholder.current);
    return () => {
      io.disconnect();
      cancel();
    };
  }, [wanted]);
  if (!wanted) {
    return (
      <pre class="cell-editor cell-editor-static" ref={placeholder}
        onClick={() => { setNear(true); store.focusCell(cell.id); }}>
        {cell.source || " "}
      </pre>
    );
  }
  return <LiveEditor {...props} />;
}

function LiveEditor({ store, cell, index }: { store: NotebookStore; cell: CellModel; index: number }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const language = cell.cell_type === "code" ? "python" : "markdown";
  useEffect(() => {
    const id = cell.id;
    const v = createEditor({
      parent: host.current!,
      doc: cell.source,
      language,
      label: `${language === "python" ? "Code" : "Text"} cell ${index + 1}`,
      onChange: (t) => store.setLocalSource(id, t),
      onRun: (mode) => runCell(store, id, mode),
      onFocus: () => store.setFocused(id),
      onEscape: () => {
        if (store.editingId === id) store.setEditing(null);
        selectCell(store, id);
      },
      onLeave: (dir) => leaveCell(store, id, dir),
      kernel: store.kernel,
    });
    view.current = v;
    const unregister = store.registerEditor(id, {
      focus(from, to) {
        v.focus();
        const len = v.state.doc.length;
        const a = Math.min(from ?? len, len);
        const b = Math.min(to ?? a, len);
        v.dispatch({
          selection: from === undefined ? undefined : EditorSelection.single(a, b),
          scrollIntoView: true,
        });
        v.dom.scrollIntoView({ block: "nearest" });
      },
      complete() {
        v.focus();
        startCompletion(v);
      },
    });
    return () => {
      unregister();
      v.destroy();
      view.current = null;
    };
  }, [cell.id, language]);
  useEffect(() => {
    // the store's text right now: the person may have typed on since this render
    const now = store.cell(cell.id)?.source;
    if (view.current && now !== undefined) setEditorText(view.current, now);
  }, [cell.source]);
  return <div class="cell-editor" ref={host} />;
}

function CellTools({ store, cell, index, total }: { store: NotebookStore; cell: CellModel; index: number; total: number }) {
  const id = cell.id;
  const md = cell.cell_type !== "code";
  return (
    <div class="cell-tools" role="toolbar" aria-label={`Cell ${index + 1} actions`}>
      {md && (
        <button type="button" aria-label="Edit text" title="Edit (Enter)" onClick={() => store.focusCell(id)}>
          <Icon name="edit" />
        </button>
      )}
      <button type="button" aria-label="Move cell up" title="Move cell up (Ctrl+M K)" disabled={index === 0} onClick={() => store.move(id, -1)}>
        <Icon name="up" />
      </button>
      <button type="button" aria-label="Move cell down" title="Move cell down (Ctrl+M J)" disabled={index === total - 1} onClick={() => store.move(id, 1)}>
        <Icon name="down" />
      </button>
      <button type="button" aria-label="Copy cell" title="Copy cell (duplicate below)" onClick={() => store.duplicate(id).then((nid) => nid && selectCell(store, nid), (e: Error) => store.toast(e.message))}>
        <Icon name="copy" />
      </button>
      {!md && (
        <button type="button" aria-label="Clear output" title="Clear output" onClick={() => store.clearOutputs(id)}>
          <Icon name="clear" />
        </button>
      )}
      <button type="button" aria-label="Delete cell" title="Delete cell (Ctrl+M D)" onClick={() => store.remove(id)}>
        <Icon name="delete" />
      </button>
    </div>
  );
}

/** A Colab form's field changed: rewrite its line in the cell's latest source (and, for a
 * `run: "auto"` form that ran before, run the cell again once the change is complete). */
function changeField(store: NotebookStore, id: string, field: FormField, value: Value, commit: boolean) {
  const cell = store.cell(id);
  if (!cell) return;
  const form = parseForm(cell.source);
  const now = form?.items.find((i) => i.kind === "field" && i.field.name === field.name && i.field.widget === field.widget);
  const next = now?.kind === "field" ? setFieldValue(cell.source, now.field, value) : null;
  if (next !== null && next !== cell.source) store.setLocalSource(id, next);
  if (commit && form?.runAuto && cell.execution_count !== null) store.execute(id);
}

function CellImpl({ store, cell, state, index, total, focused, editing, input }: Props) {
  const id = cell.id;
  const code = cell.cell_type === "code";
  const form = useMemo(() => (code ? parseForm(cell.source) : null), [code, cell.source]);
  const view: CellView | null = form ? cellView(cell.metadata, form) : null;
  const box = useRef<HTMLDivElement>(null);
  // a form shown alone hides the code, except while the code is being typed (`{display-mode:
  // "form"}` typed into the title must not take the editor away mid-keystroke)
  const [typing, setTyping] = useState(false);
  const hideCode = view === "form" && !(focused && typing);
  useEffect(() => {
    // with its code hidden, a cell asked to take the cursor takes it on its box
    if (!hideCode) return;
    return store.registerEditor(id, {
      focus() {
        box.current?.focus({ preventScroll: true });
        box.current?.scrollIntoView({ block: "nearest" });
      },
    });
  }, [hideCode, id]);
  const exec = (cell.metadata.execution ?? {}) as { started?: string; finished?: string };
  const showEditor = code || editing;
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.target !== e.currentTarget) return;
    if (e.key === "Enter" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      store.focusCell(id);
    } else if (e.key === "Enter") {
      e.preventDefault();
      runCell(store, id, e.shiftKey ? "advance" : e.altKey ? "insert_below" : "in_place");
    } else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
      const next = store.cells[index + (e.key === "ArrowUp" ? -1 : 1)];
      if (next) {
        e.preventDefault();
        selectCell(store, next.id);
      }
    }
  };
  return (
    <div
      ref={box}
      class={`cell ${code ? "code-cell" : "text-cell"}${focused ? " focused" : ""}${editing ? " editing" : ""}`}
      data-cell-id={id}
      data-cell-type={cell.cell_type}
      tabIndex={-1}
      aria-label={`${code ? "Code" : "Text"} cell ${index + 1}`}
      onMouseDown={() => store.setFocused(id)}
      onFocusIn={() => store.setFocused(id)}
      onKeyDown={onKeyDown}
    >
      <CellTools store={store} cell={cell} index={index} total={total} />
      <div class="cell-row">
        <div class="cell-gutter">
          {code && (
            <RunButton
              state={state}
              count={cell.execution_count}
              started={exec.started}
              finished={exec.finished}
              onRun={() => runCell(store, id, "in_place")}
              onStop={() => (state?.state === "running" ? store.interrupt() : store.cancel([id]))}
            />
          )}
        </div>
        <div class="cell-body">
          {code ? (
            // One structure whether or not the source holds a form, so typing `#@title` keeps
            // the same editor (and its focus and keystrokes) while the form appears beside it.
            <div class={form && view ? `cell-form-split view-${view}` : "cell-plain"}>
              {!hideCode && (
                <div class="cell-code" onFocusIn={() => setTyping(true)} onFocusOut={() => setTyping(false)}>
                  <CellEditor store={store} cell={cell} index={index} />
                </div>
              )}
              {form && view && view !== "code" && (
                <FormView form={form} cellId={id} view={hideCode ? "form" : view === "form" ? "both" : view}
                  onChange={(f, v, commit) => changeField(store, id, f, v, commit)}
                  onView={(v) => store.setMetadata(id, { cellView: v })}
                  onRun={(advance) => runCell(store, id, advance ? "advance" : "in_place")} />
              )}
              {form && view === "code" && (
                <div class="form-show">
                  <button type="button" class="form-toggle" onClick={() => store.setMetadata(id, { cellView: "both" })}>
                    Show form
                  </button>
                </div>
              )}
            </div>
          ) : (
            showEditor && <CellEditor store={store} cell={cell} index={index} />
          )}
          {!code && !editing && (
            <div class="md-view" onDblClick={() => store.focusCell(id)} title="Double-click to edit">
              {cell.source.trim() ? <Markdown source={cell.source} /> : <p class="md-empty">Double-click (or Enter) to edit</p>}
            </div>
          )}
          {!code && editing && (
            <div class="md-preview">
              <Markdown source={cell.source} />
            </div>
          )}
        </div>
      </div>
      {code && (cell.outputs.length > 0 || input) && (
        <div class="cell-output">
          <Outputs cellId={id} outputs={cell.outputs} />
          {input && (
            <InputPrompt
              key={`${input.cell_id}:${input.prompt}`}
              prompt={input.prompt}
              password={input.password}
              onSubmit={(value) => store.replyInput(value)}
            />
          )}
        </div>
      )}
      {code && <ColabArea bridge={store.colab} cellId={id} />}
    </div>
  );
}

export const Cell = memo(CellImpl);

/** "+ Code" / "+ Text" between cells (shown on hover or keyboard focus). */
export function AddBar({ onAdd, always }: { onAdd(type: "code" | "markdown"): void; always?: boolean }) {
  return (
    <div class={`add-bar${always ? " always" : ""}`}>
      <button type="button" aria-label="Add code cell" onClick={() => onAdd("code")}>
        + Code
      </button>
      <button type="button" aria-label="Add text cell" onClick={() => onAdd("markdown")}>
        + Text
      </button>
    </div>
  );
}
