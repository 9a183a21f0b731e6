// Files: the runtime's /content, one folder at a time; drive/MyDrive is the person's drive.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, get, post } from "../api";
import type { NotebookHandle } from "../notebook/handle";

export interface RuntimeFile {
  name: string;
  path: string;
  kind: string;
  size: number | null;
  modified: number | null;
}

interface Listing {
  path: string;
  entries: RuntimeFile[];
}

const isDir = (e: RuntimeFile) => e.kind === "dir" || e.kind === "directory" || e.kind === "folder";

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

export function formatSize(n: number | null | undefined): string {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

function formatTime(t: number | null | undefined): string {
  if (!t) return "";
  return new Date(t * 1000).toLocaleString();
}

const MAX_UPLOAD = 64 * 1024 * 1024;

const svg = (d: string) => (
  <svg class="sp-file-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
    <path d={d} fill="currentColor" />
  </svg>
);
const FOLDER = svg("M10 4H4a2 2 0 0 0-2 2v12a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2V8a2 2 0 0 0-2-2h-8z");
const DRIVE = svg(
  "M19.35 10.04A7.49 7.49 0 0 0 12 4C9.11 4 6.6 5.64 5.35 8.04A6 6 0 0 0 0 14a6 6 0 0 0 6 6h13a5 5 0 0 0 5-5c0-2.64-2.05-4.78-4.65-4.96",
);
const FILE = svg("M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9z");
const DOWNLOAD = svg("M5 20h14v-2H5zM19 9h-4V3H9v6H5l7 7z");
const DELETE = svg("M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z");

export function FilesPanel({ nb }: { nb: NotebookHandle }) {
  const [dir, setDir] = useState("");
  const [listing, setListing] = useState<Listing | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const [reload, setReload] = useState(0);
  const [newFolder, setNewFolder] = useState<string | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const pickRef = useRef<HTMLInputElement>(null);

  // Reload when the runtime comes or goes, after cells ran (their counts and outputs change:
  // they may have written files), and every few seconds while the panel is open.
  const watchKey = () => {
    const r = nb.runtime();
    const runs = nb
      .cells()
      .map((c) => `${c.execution_count ?? ""}.${c.outputs.length}`)
      .join(",");
    return `${r ? `${r.runtime_id}:${r.status}` : "none"}|${runs}`;
  };
  const [watched, setWatched] = useState(watchKey);
  useEffect(() => {
    let timer = 0;
    const off = nb.subscribe(() => {
      const key = watchKey();
      clearTimeout(timer);
      timer = window.setTimeout(() => setWatched(key), 300);
    });
    const poll = window.setInterval(() => {
      if (document.visibilityState === "visible" && nb.runtime()?.status === "connected") {
        setReload((r) => r + 1);
      }
    }, 10000);
    return () => {
      off();
      clearTimeout(timer);
      clearInterval(poll);
    };
  }, [nb]);

  useEffect(() => {
    let live = true;
    get<Listing>("/api/runtime/files", { path: nb.path, dir })
      .then(
        (l) => {
          if (!live) return;
          setListing(l);
          setError(null);
        },
        (e) => {
          if (!live) return;
          setListing(null);
          setError(e instanceof ApiError ? e : new ApiError(0, "network", String(e)));
        },
      );
    return () => {
      live = false;
    };
  }, [nb, dir, reload, watched]);

  const refresh = () => setReload((r) => r + 1);
  const fail = (e: unknown) => setNotice(e instanceof Error ? e.message : String(e));

  const upload = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    setNotice("");
    setBusy(true);
    try {
      for (const f of Array.from(files)) {
        if (f.size > MAX_UPLOAD) {
          setNotice(`${f.name} is larger than 64 MB: upload it to your drive instead.`);
          continue;
        }
        const q = new URLSearchParams({ path: nb.path, file: join(dir, f.name) });
        await api("PUT", `/api/runtime/files/upload?${q}`, f);
      }
    } catch (e) {
      fail(e);
    } finally {
      if (pickRef.current) pickRef.current.value = "";
      setBusy(false);
      refresh();
    }
  };

  const mkdir = async (name: string) => {
    const n = name.trim();
    if (!n) return;
    try {
      await post("/api/runtime/files/mkdir", { path: nb.path, dir: join(dir, n) });
      setNewFolder(null);
      setNotice("");
      refresh();
    } catch (e) {
      fail(e);
    }
  };

  const remove = async (file: string) => {
    try {
      await post("/api/runtime/files/delete", { path: nb.path, file });
      setConfirming(null);
      setNotice("");
      refresh();
    } catch (e) {
      fail(e);
    }
  };

  const connectCmd = nb.commands().find((c) => /^connect/i.test(c.id) || /^connect\b/i.test(c.title));
  const notConnected = error?.code === "not_connected";
  const crumbs = dir ? dir.split("/") : [];
  const download = (file: string) =>
    `/api/runtime/files/download?${new URLSearchParams({ path: nb.path, file })}`;

  return (
    <div class="sp-files">
      <div class="sp-row sp-buttons" role="toolbar" aria-label="File actions">
        <button
          type="button"
          class="sp-btn"
          onClick={() => pickRef.current?.click()}
          disabled={!listing || busy}
        >
          Upload
        </button>
        <input
          ref={pickRef}
          type="file"
          multiple
          hidden
          aria-label="Choose files to upload"
          onChange={(e) => upload(e.currentTarget.files)}
        />
        <button
          type="button"
          class="sp-btn"
          onClick={() => setNewFolder(newFolder === null ? "" : null)}
          disabled={!listing}
          aria-expanded={newFolder !== null}
        >
          New folder
        </button>
        <button type="button" class="sp-btn" onClick={refresh} aria-label="Refresh files" disabled={busy}>
          Refresh
        </button>
      </div>
      <nav class="sp-crumbs" aria-label="Folder">
        <button type="button" class="sp-crumb" onClick={() => setDir("")} aria-current={dir === "" ? "page" : undefined}>
          content
        </button>
        {crumbs.map((c, i) => (
          <span key={i}>
            <span class="sp-crumb-sep" aria-hidden="true">/</span>
            <button
              type="button"
              class="sp-crumb"
              onClick={() => setDir(crumbs.slice(0, i + 1).join("/"))}
              aria-current={i === crumbs.length - 1 ? "page" : undefined}
            >
              {c}
            </button>
          </span>
        ))}
      </nav>
      {newFolder !== null && (
        <form
          class="sp-row"
          onSubmit={(e) => {
            e.preventDefault();
            mkdir(newFolder);
          }}
        >
          <input
            class="sp-input"
            aria-label="New folder name"
            placeholder="Folder name"
            value={newFolder}
            ref={(el) => el?.focus()}
            onInput={(e) => setNewFolder(e.currentTarget.value)}
            onKeyDown={(e) => e.key === "Escape" && setNewFolder(null)}
          />
          <button type="submit" class="sp-btn">
            Create
          </button>
        </form>
      )}
      {notice && (
        <p class="sp-status sp-error" role="alert">
          {notice}
        </p>
      )}
      {notConnected && (
        <div class="sp-empty" role="status">
          <p>{error.message}</p>
          {connectCmd ? (
            <button type="button" class="sp-btn sp-primary" onClick={() => connectCmd.run()}>
              Connect
            </button>
          ) : (
            <p>Use Connect at the top right, or run a cell.</p>
          )}
        </div>
      )}
      {error && !notConnected && (
        <p class="sp-status sp-error" role="alert">
          {error.message}
        </p>
      )}
      {listing && (
        <ul class="sp-file-list" aria-label="Files" aria-busy={busy}>
          {dir !== "" && (
            <li class="sp-file">
              <button
                type="button"
                class="sp-file-name sp-dir"
                onClick={() => setDir(crumbs.slice(0, -1).join("/"))}
                aria-label="Up one folder"
              >
                ..
              </button>
            </li>
          )}
          {listing.entries.length === 0 && <li class="sp-empty">This folder is empty.</li>}
          {[...listing.entries]
            .sort((a, b) => Number(isDir(b)) - Number(isDir(a)) || a.name.localeCompare(b.name))
            .map((e) => {
              const rel = e.path || join(dir, e.name);
              return (
                <li key={rel} class="sp-file">
                  {isDir(e) ? (
                    <button type="button" class="sp-file-name sp-dir" onClick={() => setDir(rel)} title={rel}>
                      {rel === "drive" || rel === "drive/MyDrive" ? DRIVE : FOLDER}
                      <span>{e.name}</span>
                    </button>
                  ) : (
                    <a class="sp-file-name" href={download(rel)} download={e.name} title={`Download ${rel}`}>
                      {FILE}
                      <span>{e.name}</span>
                    </a>
                  )}
                  <span class="sp-file-meta" title={formatTime(e.modified)}>
                    {isDir(e) ? "" : formatSize(e.size)}
                  </span>
                  {rel === "drive" || rel === "drive/MyDrive" ? (
                    <span class="sp-file-actions" />
                  ) : confirming === rel ? (
                    <span class="sp-confirm" role="group" aria-label={`Delete ${e.name}?`}>
                      <button type="button" class="sp-btn sp-danger" onClick={() => remove(rel)}>
                        Delete
                      </button>
                      <button type="button" class="sp-btn" onClick={() => setConfirming(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <span class="sp-file-actions">
                      {!isDir(e) && (
                        <a class="sp-icon-btn" href={download(rel)} download={e.name} aria-label={`Download ${e.name}`} title="Download">
                          {DOWNLOAD}
                        </a>
                      )}
                      <button
                        type="button"
                        class="sp-icon-btn"
                        aria-label={`Delete ${e.name}`}
                        title="Delete"
                        onClick={() => setConfirming(rel)}
                      >
                        {DELETE}
                      </button>
                    </span>
                  )}
                </li>
              );
            })}
        </ul>
      )}
    </div>
  );
}
