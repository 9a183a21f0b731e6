// Download as .ipynb, .py or HTML (GET /api/notebooks/export): the notebook's latest edits are
// acknowledged first, so the file holds what the page shows.
import { ApiError } from "../api";
import type { Command } from "./handle";
import type { NotebookStore } from "./store";

export type ExportFormat = "ipynb" | "py" | "html";

const FORMATS: [ExportFormat, string][] = [
  ["ipynb", "Download .ipynb"],
  ["py", "Download .py"],
  ["html", "Download .html"],
];

/** The name from a Content-Disposition header (its UTF-8 filename* first). */
function filenameOf(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      /* a malformed name: try the plain one */
    }
  }
  return /filename="([^"]*)"/i.exec(header)?.[1] ?? fallback;
}

export async function downloadNotebook(store: NotebookStore, format: ExportFormat) {
  try {
    await store.whenSaved();
    const r = await fetch(`/api/notebooks/export?${new URLSearchParams({ path: store.path, format })}`, {
      credentials: "same-origin",
    });
    if (!r.ok) {
      const body = await r.json().catch(() => null);
      throw new ApiError(r.status, body?.error?.code ?? "http_error", body?.error?.message ?? `The server answered ${r.status}.`);
    }
    const stem = (store.path.split("/").pop() ?? "notebook").replace(/\.ipynb$/, "");
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = filenameOf(r.headers.get("content-disposition"), `${stem}.${format}`);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    store.toast((e as Error).message);
  }
}

export function downloadCommands(store: NotebookStore): Command[] {
  return FORMATS.map(([format, title]) => ({
    id: `download-${format}`,
    title,
    run: () => void downloadNotebook(store, format),
  }));
}
