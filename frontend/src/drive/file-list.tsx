// The folder's entries as a table: name (with icon), modified, size, and a menu of actions.
import { filePath, type DriveEntry } from "../api";
import { formatDate, formatSize, fullDate } from "../format";
import { DeleteIcon, DownloadIcon, MoreIcon, MoveIcon, RenameIcon } from "../icons";
import { href } from "../router";
import { EntryIcon, kindLabel } from "./entry-icon";
import { MenuButton, type MenuItem } from "./menu";

export type EntryAction = "rename" | "move" | "delete";

export function downloadUrl(path: string): string {
  return `/api/drive/files/${filePath(path)}`;
}

/** Start a download the way a link does (the session cookie goes with it). */
export function startDownload(entry: DriveEntry) {
  const a = document.createElement("a");
  a.href = downloadUrl(entry.path);
  a.download = entry.name;
  document.body.append(a);
  a.click();
  a.remove();
}

function entryHref(entry: DriveEntry): string {
  if (entry.kind === "dir") return href({ page: "drive", path: entry.path });
  if (entry.kind === "notebook") return href({ page: "notebook", path: entry.path });
  return downloadUrl(entry.path);
}

function Row({ entry, onAction }: { entry: DriveEntry; onAction: (a: EntryAction, e: DriveEntry) => void }) {
  const items: MenuItem[] = [];
  if (entry.kind !== "dir") {
    items.push({ label: "Download", icon: <DownloadIcon />, onSelect: () => startDownload(entry) });
  }
  items.push(
    { label: "Rename", icon: <RenameIcon />, onSelect: () => onAction("rename", entry) },
    { label: "Move", icon: <MoveIcon />, onSelect: () => onAction("move", entry) },
    { label: "Delete", icon: <DeleteIcon />, danger: true, onSelect: () => onAction("delete", entry) },
  );
  const isFile = entry.kind === "file";
  return (
    <tr class={`entry entry-${entry.kind}`} data-path={entry.path}>
      <td class="col-name">
        <a class="entry-link" href={entryHref(entry)} download={isFile ? entry.name : undefined}
          title={isFile ? `Download ${entry.name}` : entry.name}>
          <EntryIcon kind={entry.kind} />
          <span class="entry-name">{entry.name}</span>
          <span class="sr-only">, {kindLabel(entry.kind)}</span>
        </a>
        <span class="entry-meta-narrow" aria-hidden="true">
          {formatDate(entry.modified)}{entry.kind !== "dir" && ` · ${formatSize(entry.size)}`}
        </span>
      </td>
      <td class="col-modified" title={fullDate(entry.modified)}>{formatDate(entry.modified)}</td>
      <td class="col-size">{entry.kind === "dir" ? "—" : formatSize(entry.size)}</td>
      <td class="col-actions">
        <MenuButton label={`Actions for ${entry.name}`} icon={<MoreIcon />} items={items} />
      </td>
    </tr>
  );
}

export function EntryTable({ entries, onAction }: {
  entries: DriveEntry[];
  onAction: (a: EntryAction, e: DriveEntry) => void;
}) {
  return (
    <table class="files">
      <thead>
        <tr>
          <th class="col-name" scope="col">Name</th>
          <th class="col-modified" scope="col">Modified</th>
          <th class="col-size" scope="col">Size</th>
          <th class="col-actions" scope="col"><span class="sr-only">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => <Row key={e.path} entry={e} onAction={onAction} />)}
      </tbody>
    </table>
  );
}
