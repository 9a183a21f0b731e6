// "Open from URL": the server copies a notebook from a link, a GitHub page or a git repository
// into the drive (POST /api/notebooks/import), then the copy opens.
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { post, type DriveEntry } from "../api";
import { Dialog } from "../dialog";
import { navigate } from "../router";
import "../styles/open-url.css";

export const LinkIcon = () => (
  <svg class="icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
    <path fill="currentColor" d="M3.9 12a3.1 3.1 0 0 1 3.1-3.1h4V7H7a5 5 0 0 0 0 10h4v-1.9H7A3.1 3.1 0 0 1 3.9 12zM8 13h8v-2H8v2zm9-6h-4v1.9h4a3.1 3.1 0 0 1 0 6.2h-4V17h4a5 5 0 0 0 0-10z" />
  </svg>
);

/** A URL that names a repository rather than a notebook file. */
function looksLikeGit(url: string): boolean {
  const u = url.trim();
  return /^git:\/\//i.test(u) || /\.git\/?$/i.test(u);
}

export function OpenFromUrlDialog({ folder, onClose }: { folder: string; onClose: () => void }) {
  const target = folder || "Notebooks";
  const [url, setUrl] = useState("");
  const [git, setGit] = useState(false);
  const [repoPath, setRepoPath] = useState("");
  const [ref, setRef] = useState("");
  const input = useRef<HTMLInputElement>(null);
  const ids = { url: useId(), git: useId(), path: useId(), ref: useId() };

  useEffect(() => input.current?.focus(), []);

  async function submit() {
    const body: Record<string, string> = { url: url.trim(), folder: target };
    if (git) {
      body.repo_path = repoPath.trim();
      if (ref.trim()) body.ref = ref.trim();
    }
    const entry = await post<DriveEntry>("/api/notebooks/import", body);
    navigate({ page: "notebook", path: entry.path });
  }

  return (
    <Dialog title="Open from URL" submitLabel="Open a copy" onClose={onClose} onSubmit={submit}
      canSubmit={url.trim() !== "" && (!git || repoPath.trim() !== "")}>
      <div class="open-url">
        <label for={ids.url} class="field-label">Notebook link or git repository</label>
        <input id={ids.url} ref={input} class="field" type="text" inputMode="url" value={url} autocomplete="off" spellcheck={false}
          placeholder="https://github.com/user/repo/blob/main/notebook.ipynb"
          onInput={(e) => {
            const v = (e.target as HTMLInputElement).value;
            setUrl(v);
            if (looksLikeGit(v)) setGit(true);
          }} />
        <p class="field-hint">An .ipynb link (http or https), a GitHub notebook page, or a git repository.</p>
        <label class="check-row" for={ids.git}>
          <input id={ids.git} type="checkbox" checked={git} onChange={(e) => setGit((e.target as HTMLInputElement).checked)} />
          <span>It is a git repository</span>
        </label>
        {git && (
          <>
            <label for={ids.path} class="field-label">Notebook's path in the repository</label>
            <input id={ids.path} class="field" value={repoPath} autocomplete="off" spellcheck={false}
              placeholder="notebooks/intro.ipynb" onInput={(e) => setRepoPath((e.target as HTMLInputElement).value)} />
            <label for={ids.ref} class="field-label">Branch or tag (optional)</label>
            <input id={ids.ref} class="field" value={ref} autocomplete="off" spellcheck={false}
              placeholder="the default branch" onInput={(e) => setRef((e.target as HTMLInputElement).value)} />
          </>
        )}
        <p class="field-hint">A copy is saved in {target}; a file already there is never replaced.</p>
      </div>
    </Dialog>
  );
}
