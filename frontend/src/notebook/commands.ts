// The page's commands (runtime menu, command palette) and its NotebookHandle for the panels.
import type { CellType, Command, NotebookHandle } from "./handle";
import type { NotebookStore } from "./store";
import { addCell, afterFocused, connect, disconnect, restart, runMode } from "./actions";
import { openPanel } from "../panels/bus";
import { navigate } from "../router";
import { downloadCommands } from "./download";
import { newNotebook, saveCopy, uploadNotebook } from "./file-dialogs";

export type Confirmation = {
  title: string;
  message: string;
  submitLabel: string;
  run(): Promise<void> | void;
};

export type PageUi = {
  openPalette(): void;
  openShortcuts(): void;
  openRuntimeType(): void;
  openNotebook(): void;
  openSettings(): void;
  /** Ask before something that loses work (the runtime's state, its files). */
  confirm(c: Confirmation): void;
};

export function makeCommands(store: NotebookStore, ui: PageUi): Command[] {
  return [
    { id: "run-all", title: "Run all", shortcut: "Ctrl+F9", run: () => void runMode(store, "all") },
    { id: "run-before", title: "Run before", shortcut: "Ctrl+F8", run: () => void runMode(store, "before") },
    { id: "run-after", title: "Run after", shortcut: "Ctrl+F10", run: () => void runMode(store, "after") },
    {
      id: "run-focused",
      title: "Run the focused cell",
      shortcut: "Ctrl+Enter",
      run: () => store.focusedId && store.execute(store.focusedId),
    },
    { id: "interrupt", title: "Interrupt execution", shortcut: "Ctrl+M I", run: () => store.interrupt() },
    {
      id: "restart",
      title: "Restart session",
      shortcut: "Ctrl+M .",
      run: () =>
        ui.confirm({
          title: "Restart session?",
          message: "The kernel restarts: every variable is lost. Files in /content and installed packages stay.",
          submitLabel: "Restart",
          run: () => restart(store),
        }),
    },
    { id: "connect", title: "Connect to a runtime", run: () => void connect(store) },
    {
      id: "disconnect",
      title: "Disconnect and delete runtime",
      run: () =>
        ui.confirm({
          title: "Disconnect and delete runtime?",
          message:
            "The runtime ends: its variables and every file in /content are deleted. Your drive (/content/drive/MyDrive) and this notebook stay.",
          submitLabel: "Delete runtime",
          run: () => disconnect(store),
        }),
    },
    { id: "runtime-type", title: "Change runtime type", run: ui.openRuntimeType },
    { id: "cancel-queued", title: "Cancel queued cells", run: () => store.cancel() },
    { id: "clear-all", title: "Clear all outputs", run: () => store.clearAllOutputs() },
    { id: "add-code", title: "Add code cell", shortcut: "Ctrl+M B", run: () => void addCell(store, afterFocused(store), "code") },
    { id: "add-text", title: "Add text cell", run: () => void addCell(store, afterFocused(store), "markdown") },
    { id: "new-notebook", title: "New notebook", run: () => void newNotebook(store) },
    { id: "open-notebook", title: "Open notebook", shortcut: "Ctrl+O", run: ui.openNotebook },
    { id: "upload-notebook", title: "Upload notebook", run: () => uploadNotebook(store) },
    { id: "save-copy", title: "Save a copy in Drive", run: () => void saveCopy(store) },
    { id: "settings", title: "Settings", run: ui.openSettings },
    { id: "shortcuts", title: "Keyboard shortcuts", shortcut: "Ctrl+M H", run: ui.openShortcuts },
    ...downloadCommands(store),
    { id: "panel.help", title: "Open help (documentation from the kernel)", run: () => openPanel("help") },
    { id: "panel.variables", title: "Open variables", run: () => openPanel("variables") },
    { id: "panel.toc", title: "Open table of contents", run: () => openPanel("toc") },
    { id: "panel.find", title: "Open find and replace", run: () => openPanel("find") },
    { id: "panel.snippets", title: "Open code snippets", run: () => openPanel("snippets") },
    { id: "panel.secrets", title: "Open secrets", run: () => openPanel("secrets") },
    { id: "panel.files", title: "Open files", run: () => openPanel("files") },
    { id: "panel.terminal", title: "Open terminal", run: () => openPanel("terminal") },
    { id: "palette", title: "Command palette", shortcut: "Ctrl+Shift+P", run: ui.openPalette },
    { id: "sessions", title: "Manage sessions", run: () => navigate({ page: "sessions" }) },
    { id: "drive", title: "Open the drive", run: () => navigate({ page: "drive", path: "" }) },
    { id: "limits", title: "Usage and limits", run: () => navigate({ page: "usage" }) },
    { id: "api-docs", title: "API documentation", run: () => void window.open("/api/docs", "_blank", "noopener") },
    {
      id: "complete",
      title: "Complete the name at the cursor",
      shortcut: "Tab / Ctrl+Space",
      run: () => store.focusedId && store.editors.get(store.focusedId)?.complete?.(),
    },
  ];
}

const RUNTIME_MENU = ["run-all", "run-before", "run-after", "run-focused", "interrupt", "restart", "runtime-type", "connect", "disconnect", "cancel-queued", "sessions"];

/** The menu bar, Colab's: every menu lists commands of the palette (by id). */
export const MENU_BAR: [string, string[]][] = [
  ["File", ["new-notebook", "open-notebook", "upload-notebook", "save-copy", "drive", "download-ipynb", "download-py", "download-html"]],
  ["Edit", ["clear-all", "cancel-queued", "panel.find", "complete"]],
  ["View", ["panel.toc", "panel.variables", "panel.help", "panel.files", "panel.terminal"]],
  ["Insert", ["add-code", "add-text", "panel.snippets"]],
  ["Runtime", RUNTIME_MENU],
  ["Tools", ["palette", "settings", "panel.secrets", "shortcuts", "limits"]],
  ["Help", ["shortcuts", "panel.help", "api-docs", "limits"]],
];

export function menuItems(commands: Command[], ids: string[]): Command[] {
  return ids.map((id) => commands.find((c) => c.id === id)).filter((c): c is Command => !!c);
}

export function makeHandle(store: NotebookStore, commands: () => Command[]): NotebookHandle {
  return {
    get path() {
      return store.path;
    },
    cells: () => store.cells,
    runtime: () => store.runtime,
    subscribe: (fn) => store.subscribe(fn),
    insertCell: (index: number, cellType: CellType, source: string) =>
      store.insert(index < 0 ? afterFocused(store) : index, cellType, source),
    setSource: (cellId, source) => store.setLocalSource(cellId, source),
    focusCell: (cellId, from, to) => store.focusCell(cellId, from, to),
    run: (cellIds) => {
      for (const id of cellIds) store.execute(id);
    },
    commands,
    help: () => store.help,
    variables: () => store.variables(),
    busy: () => store.busy(),
    lookUp: async (name, detail) => {
      const reply = await store.kernel.inspect(name, [...name].length, detail);
      if (!reply.found) throw new Error(`The kernel knows nothing called ${name}.`);
      store.showHelp(name, reply.data);
    },
  };
}
