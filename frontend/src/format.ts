// Sizes, speeds and times as people read them.

const UNITS = ["KB", "MB", "GB", "TB"];

/** 1536 -> "1.5 KB" (binary multiples, as the server's limits are). */
export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "—";
  if (bytes < 1024) return `${bytes} B`;
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, "")} ${UNITS[i]}`;
}

/** Bytes per second as MB/s. */
export function formatSpeed(bytesPerSecond: number): string {
  const mb = bytesPerSecond / (1024 * 1024);
  return `${mb >= 10 ? mb.toFixed(0) : mb.toFixed(1)} MB/s`;
}

/** An epoch-seconds time as "just now", "5 min ago", "3 h ago", "2 days ago" or a date. */
export function relativeTime(epochSeconds: number, now = Date.now()): string {
  const s = Math.max(0, Math.round(now / 1000 - epochSeconds));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  const d = Math.round(h / 24);
  if (d < 7) return d === 1 ? "yesterday" : `${d} days ago`;
  return formatDate(epochSeconds, now);
}

/** A file's modified time: the time today, "Mar 3" this year, else "Mar 3, 2023". */
export function formatDate(epochSeconds: number, now = Date.now()): string {
  const d = new Date(epochSeconds * 1000);
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
  }
  const opts: Intl.DateTimeFormatOptions = { month: "short", day: "numeric" };
  if (d.getFullYear() !== today.getFullYear()) opts.year = "numeric";
  return d.toLocaleDateString(undefined, opts);
}

export function fullDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toLocaleString();
}

/** The folder part of a drive path ("" for the root). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

export function joinPath(folder: string, name: string): string {
  const f = folder.replace(/^\/+|\/+$/g, "");
  const n = name.replace(/^\/+/, "");
  return f ? `${f}/${n}` : n;
}

/** The message to show for any thrown value: the server's sentence when it has one. */
export function errorText(err: unknown): string {
  if (err instanceof Error && err.message) return err.message;
  return "Something went wrong; try again.";
}
