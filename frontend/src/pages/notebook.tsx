// The notebook page: header and toolbar, side panel, the cells kept live over the WebSocket,
// dialogs, the command palette and page-wide keys.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Me } from "../api";
import { navigate } from "../router";
import { NotebookStore } from "../notebook/store";
import { AddBar, Cell } from "../notebook/cell";
import { Header } from "../notebook/toolbar";
import { Banners, Toasts } from "../notebook/banners";
import { RuntimeTypeDialog, ShortcutsDialog } from "../notebook/dialogs";
import { OpenNotebookDialog, SettingsDialog } from "../notebook/file-dialogs";
import { MENU_BAR, makeCommands, makeHandle, menuItems, type Confirmation } from "../notebook/commands";
import { addCell, afterFocused, changeRuntime, connect, runMode, selectCell } from "../notebook/actions";
import { ConfirmDialog } from "../dialog";
import { SidePanel } from "../panels/sidepanel";
import { CommandPalette } from "../panels/palette";

function useStore(path: string): NotebookStore {
  const ref = useRef<NotebookStore | null>(null);
  // after a rename the store already follows the new path: keep it (and its socket)
  if (!ref.current || ref.current.path !== path) {
    ref.current?.close();
    ref.current = new NotebookStore(path);
  }
  const store = ref.current;
  useEffect(() => () => store.close(), [store]);
  const [, force] = useState(0);
  useEffect(() => {
    const update = () => force((n) => n + 1);
    const unsubscribe = store.subscribe(update);
    update(); // the snapshot may have landed before this effect ran
    return unsubscribe;
  }, [store]);
  useEffect(() => {
    store.onRenamed = (p) => navigate({ page: "notebook", path: p });
  }, [store]);
  return store;
}

/** Ctrl+M Y / M: the cell changes type and keeps the focus: its editor when it was being edited
 * (the new editor takes the cursor), else the cell itself, so the next chord or arrow acts on it. */
function changeType(store: NotebookStore, id: string, type: "code" | "markdown") {
  const wasEditing = !!document.activeElement?.closest(`[data-cell-id="${CSS.escape(id)}"] .cm-editor`);
  store.setType(id, type);
  if (wasEditing) store.focusNextEditor(id);
  else requestAnimationFrame(() => requestAnimationFrame(() => selectCell(store, id)));
}

/** Ctrl+M <key> chords, Ctrl+Shift+P, Ctrl+O, Ctrl+F8/F9/F10, Ctrl+S. */
function usePageKeys(store: NotebookStore, ui: { palette(): void; shortcuts(): void; restart(): void; open(): void }) {
  useEffect(() => {
    let chord = 0;
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.shiftKey && (e.key === "P" || e.key === "p")) {
        e.preventDefault();
        ui.palette();
        return;
      }
      if (mod && !e.shiftKey && (e.key === "m" || e.key === "M")) {
        e.preventDefault();
        chord = Date.now();
        return;
      }
      if (mod && e.key === "s") {
        e.preventDefault();
        store.flushSources();
        return;
      }
      if (mod && !e.shiftKey && e.key === "o") {
        e.preventDefault(); // Colab's "Open notebook", not the browser's "open file"
        ui.open();
        return;
      }
      if (mod && e.key === "F9") return void (e.preventDefault(), runMode(store, "all"));
      if (mod && e.key === "F8") return void (e.preventDefault(), runMode(store, "before"));
      if (mod && e.key === "F10") return void (e.preventDefault(), runMode(store, "after"));
      if (!chord || Date.now() - chord > 2000 || ["Control", "Meta", "Shift", "Alt"].includes(e.key)) return;
      chord = 0;
      const id = store.focusedId;
      const i = id ? store.index(id) : -1;
      const k = e.key.toLowerCase();
      const acts: Record<string, () => void> = {
        h: ui.shortcuts,
        a: () => void addCell(store, Math.max(0, i), "code"),
        b: () => void addCell(store, afterFocused(store), "code"),
        d: () => id && store.remove(id),
        y: () => id && changeType(store, id, "code"),
        m: () => id && changeType(store, id, "markdown"),
        k: () => id && store.move(id, -1),
        j: () => id && store.move(id, 1),
        i: () => store.interrupt(),
        ".": ui.restart,
      };
      if (acts[k]) {
        e.preventDefault();
        e.stopPropagation();
        acts[k]();
      }
    };
    addEventListener("keydown", onKey, true);
    return () => removeEventListener("keydown", onKey, true);
  }, [store]);
}

export function NotebookPage({ path }: { path: string; me: Me }) {
  const store = useStore(path);
  const [dialog, setDialog] = useState<null | "shortcuts" | "runtime" | "open" | "settings">(null);
  const [confirming, setConfirming] = useState<Confirmation | null>(null);
  const [palette, setPalette] = useState(false);
  const [sideOpen, setSideOpen] = useState(() => window.innerWidth >= 700);
  const commands = useMemo(
    () =>
      makeCommands(store, {
        openPalette: () => setPalette(true),
        openShortcuts: () => setDialog("shortcuts"),
        openRuntimeType: () => setDialog("runtime"),
        openNotebook: () => setDialog("open"),
        openSettings: () => setDialog("settings"),
        confirm: setConfirming,
      }),
    [store],
  );
  const handle = useMemo(() => makeHandle(store, () => commands), [store, commands]);
  usePageKeys(store, {
    palette: () => setPalette(true),
    shortcuts: () => setDialog("shortcuts"),
    open: () => setDialog("open"),
    restart: () => commands.find((c) => c.id === "restart")?.run(),
  });

  useEffect(() => {
    document.title = `${store.path.split("/").pop()} — Dikte`;
  }, [store.path]);

  const cells = store.cells;
  const input = store.pendingInput;
  return (
    <div class={`nb-page${sideOpen ? "" : " side-hidden"}`}>
      <Header
        store={store}
        menus={MENU_BAR.map(([name, ids]) => [name, menuItems(commands, ids)])}
        onConnect={() => void connect(store)}
        onAdd={(t) => void addCell(store, afterFocused(store), t)}
        onRunAll={() => void runMode(store, "all")}
        onShortcuts={() => setDialog("shortcuts")}
        onToggleSide={() => setSideOpen(!sideOpen)}
        sideOpen={sideOpen}
      />
      <Banners store={store} />
      <div class="nb-body">
        {sideOpen && <SidePanel nb={handle} />}
        <main class="nb-main" aria-label="Cells" aria-busy={!store.loaded}>
          <div class="nb-cells">
            {!store.loaded && !store.gone && <p class="muted nb-loading">Opening {store.path}…</p>}
            {store.loaded && <AddBar onAdd={(t) => void addCell(store, 0, t)} />}
            {cells.map((cell, i) => (
              <div class="cell-slot" key={cell.id}>
                <Cell
                  store={store}
                  cell={cell}
                  state={store.states[cell.id]}
                  index={i}
                  total={cells.length}
                  focused={store.focusedId === cell.id}
                  editing={store.editingId === cell.id}
                  input={input && input.cell_id === cell.id ? input : null}
                />
                <AddBar onAdd={(t) => void addCell(store, i + 1, t)} always={i === cells.length - 1} />
              </div>
            ))}
            {store.loaded && cells.length === 0 && (
              <p class="muted nb-empty">This notebook is empty: add a code or text cell.</p>
            )}
          </div>
        </main>
      </div>
      {dialog === "shortcuts" && <ShortcutsDialog onClose={() => setDialog(null)} />}
      {dialog === "open" && <OpenNotebookDialog current={store.path} onClose={() => setDialog(null)} />}
      {dialog === "settings" && <SettingsDialog onClose={() => setDialog(null)} />}
      {dialog === "runtime" && (
        <RuntimeTypeDialog
          current={store.runtime?.image ?? null}
          currentShape={store.runtime?.shape ?? null}
          onClose={() => setDialog(null)}
          onChoose={(choice) => {
            setDialog(null);
            void changeRuntime(store, choice);
          }}
        />
      )}
      {confirming && (
        <ConfirmDialog
          title={confirming.title}
          message={confirming.message}
          submitLabel={confirming.submitLabel}
          danger
          onConfirm={async () => {
            setConfirming(null);
            await confirming.run();
          }}
          onClose={() => setConfirming(null)}
        />
      )}
      <CommandPalette nb={handle} open={palette} onClose={() => setPalette(false)} />
      <Toasts store={store} />
    </div>
  );
}
