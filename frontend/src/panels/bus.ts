// A tiny channel between the command palette and the side panel: the palette asks for a panel,
// the side panel (wherever it is mounted) opens it.
import { useEffect, useState } from "preact/hooks";
import type { NotebookHandle } from "../notebook/handle";

export type PanelName = "toc" | "find" | "snippets" | "secrets" | "files" | "terminal" | "help" | "variables";

const listeners = new Set<(name: PanelName) => void>();

export function openPanel(name: PanelName) {
  for (const fn of listeners) fn(name);
}

export function onOpenPanel(fn: (name: PanelName) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Re-render whenever the notebook's cells or runtime change; returns a change counter. */
export function useNotebook(nb: NotebookHandle): number {
  const [version, setVersion] = useState(0);
  useEffect(() => nb.subscribe(() => setVersion((v) => v + 1)), [nb]);
  return version;
}
