// What the page's buttons, keys, palette and side panel do, on top of the store.
import { post } from "../api";
import type { RunMode } from "./editor";
import type { NotebookStore } from "./store";

/** Select a cell without editing it (keyboard focus on the cell box). */
export function selectCell(store: NotebookStore, id: string) {
  store.setFocused(id);
  const el = document.querySelector<HTMLElement>(`[data-cell-id="${CSS.escape(id)}"]`);
  el?.focus({ preventScroll: true });
  el?.scrollIntoView({ block: "nearest" });
}

/** Insert a cell and put the cursor in it. */
export async function addCell(store: NotebookStore, index: number, type: "code" | "markdown") {
  try {
    const id = await store.insert(index, type, "");
    store.focusCell(id);
    return id;
  } catch (e) {
    store.toast((e as Error).message);
  }
}

/** Index after the focused cell (or the end). */
export function afterFocused(store: NotebookStore): number {
  const i = store.focusedId ? store.index(store.focusedId) : -1;
  return i < 0 ? store.cells.length : i + 1;
}

export function runCell(store: NotebookStore, id: string, mode: RunMode) {
  const cell = store.cell(id);
  if (!cell) return;
  if (cell.cell_type === "code") store.execute(id);
  else if (store.editingId === id) store.setEditing(null);
  const i = store.index(id);
  if (mode === "in_place") {
    if (cell.cell_type !== "code") selectCell(store, id);
    return;
  }
  if (mode === "insert_below") {
    void addCell(store, i + 1, "code");
    return;
  }
  const next = store.cells[i + 1];
  if (!next) void addCell(store, i + 1, "code");
  else if (next.cell_type === "code") store.focusCell(next.id);
  else selectCell(store, next.id);
}

/** Arrow keys past the first/last line: the neighbouring cell's editor or box. */
export function leaveCell(store: NotebookStore, id: string, dir: -1 | 1): boolean {
  const next = store.cells[store.index(id) + dir];
  if (!next) return false;
  if (next.cell_type === "code") {
    const len = dir < 0 ? next.source.length : 0;
    store.focusCell(next.id, len, len);
  } else selectCell(store, next.id);
  return true;
}

/** A REST call about this notebook; failures become a toast with the server's sentence. */
export async function nbCall(store: NotebookStore, what: string, body: Record<string, unknown> = {}) {
  try {
    return await post(`/api/notebooks/${what}`, { path: store.path, ...body });
  } catch (e) {
    store.toast((e as Error).message);
    return undefined;
  }
}

export async function runMode(store: NotebookStore, mode: "all" | "before" | "after") {
  const anchor = store.focusedId ?? undefined;
  if (mode !== "all" && !anchor) {
    store.toast("Select a cell first.");
    return;
  }
  await store.whenSaved();
  await nbCall(store, "run", { mode, ...(mode === "all" ? {} : { anchor }) });
}

export type RuntimeChoice = { image?: string; shape?: string; background?: boolean };

export async function connect(store: NotebookStore, choice: RuntimeChoice = {}) {
  store.markStarting();
  await nbCall(store, "connect", { ...choice });
}

export async function disconnect(store: NotebookStore) {
  await nbCall(store, "disconnect");
}

export async function changeRuntime(store: NotebookStore, choice: RuntimeChoice) {
  if (store.runtime) await nbCall(store, "disconnect");
  await connect(store, choice);
}

export async function restart(store: NotebookStore) {
  await store.restartThen(() => nbCall(store, "restart"));
}
