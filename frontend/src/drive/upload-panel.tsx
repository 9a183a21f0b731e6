// The uploads panel (bottom right, as in Drive): one row per file with a progress bar, the
// percentage and speed, and Cancel / Retry.
import { useEffect, useState } from "preact/hooks";
import { formatSize, formatSpeed } from "../format";
import { CheckIcon, CloseIcon, ErrorIcon, FileIcon, NotebookIcon } from "../icons";
import { uploads, type UploadItem } from "./uploads";

export function useUploads(): UploadItem[] {
  const [, tick] = useState(0);
  useEffect(() => uploads.subscribe(() => tick((n) => n + 1)), []);
  return uploads.items;
}

function percent(item: UploadItem): number {
  if (item.status === "done" || item.size === 0) return item.status === "done" ? 100 : 0;
  return Math.min(100, Math.floor((item.loaded / item.size) * 100));
}

function detail(item: UploadItem): string {
  const pct = percent(item);
  switch (item.status) {
    case "queued":
      return `Waiting · ${formatSize(item.size)}`;
    case "starting":
      return "Starting…";
    case "uploading":
      return `${pct}% · ${formatSize(item.loaded)} of ${formatSize(item.size)}` +
        (item.speed > 0 ? ` · ${formatSpeed(item.speed)}` : "");
    case "retrying":
      return `${pct}% · connection lost, resuming…` + ((item.attempt ?? 1) > 1 ? ` (try ${item.attempt})` : "");
    case "finishing":
      return "100% · finishing…";
    case "done":
      return `Uploaded · ${formatSize(item.size)}`;
    case "cancelled":
      return "Cancelled";
    case "error":
      return item.error ?? "The upload failed.";
  }
}

function UploadRow({ item }: { item: UploadItem }) {
  const pct = percent(item);
  const active = ["queued", "starting", "uploading", "retrying", "finishing"].includes(item.status);
  return (
    <li class={`upload upload-${item.status}`} aria-label={item.name}>
      <span class="upload-icon">
        {item.name.endsWith(".ipynb") ? <NotebookIcon class="ic-notebook" /> : <FileIcon class="ic-file" />}
      </span>
      <div class="upload-main">
        <div class="upload-name" title={item.path}>{item.name}</div>
        <div class="progress" role="progressbar" aria-label={`Upload of ${item.name}`}
          aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={`${pct}%`}>
          <div class="progress-fill" style={{ width: `${pct}%` }} />
        </div>
        <div class={`upload-detail ${item.status === "error" ? "is-error" : ""}`}
          role={item.status === "error" ? "alert" : undefined}>
          {detail(item)}
        </div>
      </div>
      <div class="upload-actions">
        {item.status === "done" && <CheckIcon class="ic-ok" title="Uploaded" />}
        {item.status === "error" && (
          <>
            <ErrorIcon class="ic-error" />
            <button type="button" class="btn btn-small" onClick={() => uploads.retry(item.key)}>Retry</button>
          </>
        )}
        {(active || item.status === "error") && (
          <button type="button" class="btn btn-small" onClick={() => uploads.cancel(item.key)}
            aria-label={`Cancel upload of ${item.name}`}>Cancel</button>
        )}
      </div>
    </li>
  );
}

export function UploadPanel() {
  const items = useUploads();
  const [collapsed, setCollapsed] = useState(false);
  if (items.length === 0) return null;
  const running = items.filter((i) => ["queued", "starting", "uploading", "retrying", "finishing"].includes(i.status)).length;
  const done = items.filter((i) => i.status === "done").length;
  const title = running
    ? `Uploading ${running} ${running === 1 ? "file" : "files"}`
    : `${done} ${done === 1 ? "upload" : "uploads"} complete`;
  return (
    <section class="upload-panel" aria-label="Uploads">
      <header class="upload-panel-head">
        <h2>{title}</h2>
        <button type="button" class="icon-btn" aria-expanded={!collapsed}
          aria-label={collapsed ? "Show uploads" : "Hide uploads"} onClick={() => setCollapsed(!collapsed)}>
          <span class={`chev ${collapsed ? "" : "open"}`} aria-hidden="true">▾</span>
        </button>
        {!running && (
          <button type="button" class="icon-btn" aria-label="Close uploads" onClick={() => uploads.clearFinished()}>
            <CloseIcon />
          </button>
        )}
      </header>
      {!collapsed && <ul class="upload-list">{items.map((i) => <UploadRow key={i.key} item={i} />)}</ul>}
    </section>
  );
}
