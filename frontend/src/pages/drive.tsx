// My Drive: a folder's files and folders, with the actions Drive has.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { get, type DriveEntry, type Me, type Schemas } from "../api";
import { Shell } from "../chrome";
import { Breadcrumb } from "../drive/breadcrumb";
import { DriveDialogs, type DriveDialog } from "../drive/dialogs";
import { EntryTable, type EntryAction } from "../drive/file-list";
import { UploadPanel } from "../drive/upload-panel";
import { LinkIcon, OpenFromUrlDialog } from "../drive/open-url";
import { uploads } from "../drive/uploads";
import { errorText } from "../format";
import { NewFolderIcon, NotebookIcon, UploadIcon } from "../icons";
import { href } from "../router";

type Listing = Schemas["DriveListing"];

export function DrivePage({ path, me }: { path: string; me: Me }) {
  const [entries, setEntries] = useState<DriveEntry[] | null>(null);
  const [loadError, setLoadError] = useState("");
  const [dialog, setDialog] = useState<DriveDialog | null>(null);
  const [dragging, setDragging] = useState(false);
  const [openUrl, setOpenUrl] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    try {
      const listing = await get<Listing>("/api/drive/list", { path });
      if (mine !== seq.current) return;
      setEntries(listing.entries);
      setLoadError("");
    } catch (err) {
      if (mine !== seq.current) return;
      setEntries(null);
      setLoadError(errorText(err));
    }
  }, [path]);

  useEffect(() => {
    setEntries(null);
    setLoadError("");
    void load();
  }, [load]);

  // Back to this tab: the drive may have changed elsewhere (another tab, the CLI, a runtime).
  useEffect(() => {
    const on = () => { if (document.visibilityState === "visible") void load(); };
    document.addEventListener("visibilitychange", on);
    return () => document.removeEventListener("visibilitychange", on);
  }, [load]);

  useEffect(() => uploads.onFinished((item) => { if (item.folder === path) void load(); }), [path, load]);

  useEffect(() => {
    document.title = `${path ? path.split("/").pop() : "My Drive"} – Dikte`;
  }, [path]);

  function onAction(action: EntryAction, entry: DriveEntry) {
    setDialog({ kind: action, entry });
  }

  function upload(files: FileList | null) {
    if (files && files.length) uploads.add(Array.from(files), path);
  }

  return (
    <Shell me={me} class="drive">
      <div class={`drive-body ${dragging ? "is-dragging" : ""}`}
        onDragOver={(e) => {
          if (e.dataTransfer?.types.includes("Files")) { e.preventDefault(); setDragging(true); }
        }}
        onDragLeave={(e) => { if (e.currentTarget === e.target) setDragging(false); }}
        onDrop={(e) => { e.preventDefault(); setDragging(false); upload(e.dataTransfer?.files ?? null); }}>
        <div class="drive-head">
          <Breadcrumb path={path} />
          <div class="toolbar" role="toolbar" aria-label="Drive actions">
            <button type="button" class="btn btn-primary" onClick={() => setDialog({ kind: "new-notebook" })}>
              <NotebookIcon /><span>New notebook</span>
            </button>
            <button type="button" class="btn" onClick={() => setDialog({ kind: "new-folder" })}>
              <NewFolderIcon /><span>New folder</span>
            </button>
            <button type="button" class="btn" onClick={() => picker.current?.click()}>
              <UploadIcon /><span>Upload</span>
            </button>
            <button type="button" class="btn" onClick={() => setOpenUrl(true)}>
              <LinkIcon /><span>Open from URL</span>
            </button>
            <input ref={picker} type="file" multiple hidden aria-label="Files to upload"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                upload(input.files);
                input.value = "";
              }} />
          </div>
        </div>

        {loadError ? (
          <div class="empty" role="alert">
            <p>{loadError}</p>
            <p><a href={href({ page: "drive", path: "" })}>Back to My Drive</a></p>
          </div>
        ) : entries === null ? (
          <div class="empty muted" aria-busy="true">Loading…</div>
        ) : entries.length === 0 ? (
          <div class="empty">
            <p class="empty-title">This folder is empty</p>
            <p class="muted">Create a notebook or a folder, or drop files here to upload them.</p>
          </div>
        ) : (
          <EntryTable entries={entries} onAction={onAction} />
        )}
        {dragging && <div class="drop-hint" aria-hidden="true">Drop files to upload them to {path || "My Drive"}</div>}
      </div>
      <UploadPanel />
      {openUrl && <OpenFromUrlDialog folder={path} onClose={() => setOpenUrl(false)} />}
      {dialog && (
        <DriveDialogs dialog={dialog} folder={path} entries={entries ?? []}
          onClose={() => setDialog(null)} onChanged={() => void load()} />
      )}
    </Shell>
  );
}
