import type { DriveEntry } from "../api";
import { FileIcon, FolderIcon, NotebookIcon } from "../icons";

export function EntryIcon({ kind }: { kind: DriveEntry["kind"] }) {
  if (kind === "dir") return <FolderIcon class="ic-folder" />;
  if (kind === "notebook") return <NotebookIcon class="ic-notebook" />;
  return <FileIcon class="ic-file" />;
}

export function kindLabel(kind: DriveEntry["kind"]): string {
  return kind === "dir" ? "Folder" : kind === "notebook" ? "Notebook" : "File";
}
