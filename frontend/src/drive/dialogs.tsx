// The drive's dialogs: new notebook, new folder, rename, move, delete. Each calls the API and
// shows the server's sentence when it refuses.
import { api, filePath, post, type DriveEntry } from "../api";
import { ConfirmDialog, PromptDialog } from "../dialog";
import { joinPath, parentOf } from "../format";
import { navigate } from "../router";
import { kindLabel } from "./entry-icon";

export type DriveDialog =
  | { kind: "new-notebook" }
  | { kind: "new-folder" }
  | { kind: "rename"; entry: DriveEntry }
  | { kind: "move"; entry: DriveEntry }
  | { kind: "delete"; entry: DriveEntry };

function freeName(base: string, ext: string, taken: Set<string>): string {
  if (!taken.has(base + ext)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}${i}${ext}`)) return `${base}${i}`;
}

function notebookName(name: string): string {
  return name.toLowerCase().endsWith(".ipynb") ? name : `${name}.ipynb`;
}

export function DriveDialogs({ dialog, folder, entries, onClose, onChanged }: {
  dialog: DriveDialog;
  folder: string;
  entries: DriveEntry[];
  onClose: () => void;
  onChanged: () => void;
}) {
  const taken = new Set(entries.map((e) => e.name));
  switch (dialog.kind) {
    case "new-notebook":
      return (
        <PromptDialog title="New notebook" label="Notebook name" submitLabel="Create"
          initial={freeName("Untitled", ".ipynb", taken)}
          hint={`It is saved as a .ipynb file in ${folder || "My Drive"}.`}
          onClose={onClose}
          onSubmit={async (name) => {
            const path = joinPath(folder, notebookName(name));
            await post("/api/notebooks", { path });
            navigate({ page: "notebook", path });
          }} />
      );
    case "new-folder":
      return (
        <PromptDialog title="New folder" label="Folder name" submitLabel="Create"
          initial={freeName("Untitled folder", "", taken)} onClose={onClose}
          onSubmit={async (name) => {
            await post("/api/drive/dirs", { path: joinPath(folder, name) });
            onChanged();
          }} />
      );
    case "rename": {
      const { entry } = dialog;
      const dot = entry.kind === "dir" ? -1 : entry.name.lastIndexOf(".");
      return (
        <PromptDialog title={`Rename ${kindLabel(entry.kind).toLowerCase()}`} label="New name"
          submitLabel="Rename" initial={entry.name} selectTo={dot > 0 ? dot : undefined}
          onClose={onClose}
          onSubmit={async (name) => {
            if (name === entry.name) return;
            await post("/api/drive/rename", { src: entry.path, dst: joinPath(parentOf(entry.path), name) });
            onChanged();
          }} />
      );
    }
    case "move": {
      const { entry } = dialog;
      const here = parentOf(entry.path);
      const ancestors = folder ? folder.split("/").map((_, i, a) => a.slice(0, i).join("/")) : [];
      const suggestions = [...new Set([...ancestors, folder,
        ...entries.filter((e) => e.kind === "dir" && e.path !== entry.path).map((e) => e.path)])]
        .filter((p) => p !== here && p !== "");
      return (
        <PromptDialog title={`Move “${entry.name}”`} label="To folder" submitLabel="Move"
          initial={here} suggestions={suggestions}
          hint="A folder path in your drive, e.g. Course/Week 2; leave it empty for My Drive. Missing folders are refused."
          onClose={onClose}
          onSubmit={async (to) => {
            const target = to.replace(/^\/+|\/+$/g, "");
            const dst = joinPath(target, entry.name);
            if (dst === entry.path) return;
            await post("/api/drive/rename", { src: entry.path, dst });
            onChanged();
          }} />
      );
    }
    case "delete": {
      const { entry } = dialog;
      return (
        <ConfirmDialog title={`Delete “${entry.name}”?`} submitLabel="Delete" danger onClose={onClose}
          message={entry.kind === "dir"
            ? "The folder and everything in it are deleted for good."
            : entry.kind === "notebook"
              ? "The notebook is deleted for good; its runtime, if connected, is disconnected."
              : "The file is deleted for good."}
          onConfirm={async () => {
            await api("DELETE", `/api/drive/files/${filePath(entry.path)}`);
            onChanged();
          }} />
      );
    }
  }
}
