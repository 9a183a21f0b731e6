// The File menu's dialogs and actions (Colab's): New notebook, Open notebook, Upload notebook,
// Save a copy in Drive, and Tools > Settings.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, get, post, filePath, type DriveEntry, type Schemas } from "../api";
import { navigate } from "../router";
import { FONT_SIZES, loadSettings, saveSettings, type Settings, type Theme } from "../settings";
import { Modal } from "./dialogs";
import type { NotebookStore } from "./store";

const FOLDER = "Notebooks";

async function namesIn(folder: string): Promise<Set<string>> {
  try {
    const listing = await get<Schemas["DriveListing"]>("/api/drive/list", { path: folder });
    return new Set(listing.entries.map((e) => e.name));
  } catch {
    return new Set();
  }
}

/** "name.ipynb", or "name (1).ipynb"... : the first that is not taken. */
function free(name: string, taken: Set<string>): string {
  const stem = name.replace(/\.ipynb$/i, "");
  if (!taken.has(`${stem}.ipynb`)) return `${stem}.ipynb`;
  for (let i = 1; ; i++) if (!taken.has(`${stem} (${i}).ipynb`)) return `${stem} (${i}).ipynb`;
}

function folderOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

function join(folder: string, name: string): string {
  return folder ? `${folder}/${name}` : name;
}

export async function newNotebook(store: NotebookStore): Promise<void> {
  try {
    const taken = await namesIn(FOLDER);
    let name = "Untitled.ipynb";
    for (let i = 1; taken.has(name); i++) name = `Untitled${i}.ipynb`;
    const path = join(FOLDER, name);
    await post("/api/notebooks", { path });
    navigate({ page: "notebook", path });
  } catch (e) {
    store.toast((e as Error).message);
  }
}

/** Save a copy in Drive: the notebook as it is now (outputs too), beside it, then open it. */
export async function saveCopy(store: NotebookStore): Promise<void> {
  try {
    await store.whenSaved();
    const r = await fetch(`/api/notebooks/export?${new URLSearchParams({ path: store.path, format: "ipynb" })}`, {
      credentials: "same-origin",
    });
    if (!r.ok) throw new Error(`The notebook could not be read (${r.status}).`);
    const data = await r.blob();
    const folder = folderOf(store.path);
    const base = store.path.slice(folder ? folder.length + 1 : 0);
    const name = free(`Copy of ${base}`, await namesIn(folder));
    const entry = await api<DriveEntry>("PUT", `/api/drive/files/${filePath(join(folder, name))}?overwrite=false`, data);
    store.toast(`Saved a copy as ${entry.path}.`, "info");
    navigate({ page: "notebook", path: entry.path });
  } catch (e) {
    store.toast(`The copy was not saved: ${(e as Error).message}`);
  }
}

/** Upload notebook: an .ipynb from this computer into Notebooks/, checked, then opened. */
export function uploadNotebook(store: NotebookStore): void {
  const input = document.createElement("input");
  input.type = "file";
  input.accept = ".ipynb,application/x-ipynb+json";
  input.className = "upload-notebook-input";
  input.hidden = true;
  document.body.appendChild(input);
  input.addEventListener("change", async () => {
    const file = input.files?.[0];
    input.remove();
    if (!file) return;
    try {
      if (!file.name.toLowerCase().endsWith(".ipynb")) {
        throw new Error(`${file.name} is not a notebook: choose an .ipynb file.`);
      }
      let doc: unknown;
      try {
        doc = JSON.parse(await file.text());
      } catch {
        throw new Error(`${file.name} is not a notebook: it is not valid JSON.`);
      }
      if (!doc || typeof doc !== "object" || !Array.isArray((doc as { cells?: unknown }).cells)) {
        throw new Error(`${file.name} is not a notebook: it has no list of cells.`);
      }
      const name = free(file.name, await namesIn(FOLDER));
      const entry = await api<DriveEntry>("PUT", `/api/drive/files/${filePath(join(FOLDER, name))}?overwrite=false`, file);
      navigate({ page: "notebook", path: entry.path });
    } catch (e) {
      store.toast((e as Error).message);
    }
  });
  input.click();
}

export function OpenNotebookDialog({ onClose, current }: { onClose(): void; current: string }) {
  const [entries, setEntries] = useState<DriveEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  useEffect(() => {
    get<Schemas["DriveListing"]>("/api/drive/list", { path: FOLDER })
      .then((l) => setEntries(l.entries.filter((e) => e.kind === "notebook").sort((a, b) => b.modified - a.modified)))
      .catch((e: Error) => setError(e.message));
  }, []);
  const shown = (entries ?? []).filter((e) => e.name.toLowerCase().includes(filter.toLowerCase()));
  const open = (path: string) => {
    onClose();
    navigate({ page: "notebook", path });
  };
  return (
    <Modal title="Open notebook" onClose={onClose} wide>
      <input
        class="input open-filter"
        type="search"
        placeholder="Filter notebooks"
        aria-label="Filter notebooks"
        value={filter}
        onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
      />
      {error && <p class="error">{error}</p>}
      {entries === null && !error && <p class="muted">Loading…</p>}
      {entries !== null && (
        <ul class="open-list" aria-label="Notebooks">
          {shown.map((e) => (
            <li key={e.path}>
              <button type="button" class="open-item" disabled={e.path === current} onClick={() => open(e.path)}>
                <span>{e.name}</span>
                <span class="muted small">{new Date(e.modified * 1000).toLocaleString()}</span>
              </button>
            </li>
          ))}
          {shown.length === 0 && <li class="muted">No notebooks{filter ? " match" : ` in ${FOLDER}`}.</li>}
        </ul>
      )}
      <div class="dlg-actions">
        <button type="button" class="btn" onClick={() => { onClose(); navigate({ page: "drive", path: "" }); }}>
          Browse the drive
        </button>
      </div>
    </Modal>
  );
}

export function SettingsDialog({ onClose }: { onClose(): void }) {
  const [s, setS] = useState<Settings>(loadSettings);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    saveSettings(s); // applied at once, as Colab's settings are
  }, [s]);
  const themes: [Theme, string][] = [["system", "Follow the system"], ["light", "Light"], ["dark", "Dark"]];
  return (
    <Modal title="Settings" onClose={onClose}>
      <div class="settings">
        <label>
          Theme
          <select value={s.theme} onChange={(e) => setS({ ...s, theme: (e.target as HTMLSelectElement).value as Theme })}>
            {themes.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
          </select>
        </label>
        <label>
          Editor font size
          <select value={String(s.fontSize)} onChange={(e) => setS({ ...s, fontSize: Number((e.target as HTMLSelectElement).value) })}>
            {FONT_SIZES.map((n) => <option key={n} value={String(n)}>{n} px</option>)}
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={s.lineNumbers} onChange={(e) => setS({ ...s, lineNumbers: (e.target as HTMLInputElement).checked })} />
          Show line numbers in code cells
        </label>
        <p class="muted small">Kept in this browser.</p>
      </div>
      <div class="dlg-actions">
        <button type="button" class="btn primary" onClick={onClose}>Done</button>
      </div>
    </Modal>
  );
}
