// The contract between the notebook page (notebook/) and the side panels (panels/):
// the page implements NotebookHandle; panels only use what is here.
import type { RuntimeInfo } from "../api";

/** One nbformat v4 output, as the server stores it. */
export type Output = {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  name?: "stdout" | "stderr";
  text?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
  traceback?: string[];
};

/** A change to one cell's outputs, as sent on the notebook WebSocket (docs/api.md). */
export type OutputChange =
  | { kind: "clear" }
  | { kind: "append"; index: number; output: Output }
  | { kind: "replace"; index: number; output: Output }
  | { kind: "text_tail"; index: number; keep: number; text: string };

export type CellType = "code" | "markdown" | "raw";

export interface CellModel {
  id: string;
  cell_type: CellType;
  source: string;
  outputs: Output[];
  execution_count: number | null;
  metadata: Record<string, unknown>;
}

export interface Command {
  id: string;
  title: string;
  shortcut?: string;
  run(): void;
}

export interface NotebookHandle {
  readonly path: string;
  /** The cells as the page shows them now. */
  cells(): CellModel[];
  runtime(): RuntimeInfo | null;
  /** Called after every change of cells or runtime; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** Insert a cell (index = position; -1 = after the focused cell); resolves to its id. */
  insertCell(index: number, cellType: CellType, source: string): Promise<string>;
  setSource(cellId: string, source: string): void;
  /** Scroll to a cell and put the cursor in it (optionally selecting a range of its source). */
  focusCell(cellId: string, from?: number, to?: number): void;
  run(cellIds: string[]): void;
  /** Commands the page offers (run all, interrupt, ...) for the command palette. */
  commands(): Command[];
  /** The last help page (`name?` in a cell, or asked with lookUp). */
  help(): { title: string; text: string } | null;
  /** Ask the kernel for the help of ``name`` (``detail`` 1 adds the source) and show it. */
  lookUp(name: string, detail: 0 | 1): Promise<void>;
  /** Whether a cell runs or waits. */
  busy(): boolean;
  /** The kernel's variables (rejects with the reason: no runtime, a cell running...). */
  variables(): Promise<{ variables: { name: string; type: string; shape: string; value: string }[]; more: number }>;
}
