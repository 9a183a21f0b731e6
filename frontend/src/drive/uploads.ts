// Chunked, resumable uploads into the drive through /api/uploads.
//
// Each file gets an upload on the server (POST /api/uploads), then its bytes go up one chunk at a
// time (PUT /api/uploads/{id}?offset=N). When a chunk fails on the way (a dropped connection, a
// server restart) the uploader waits with backoff, asks the server where it got to
// (GET /api/uploads/{id}) and goes on from there; a refusal (4xx) stops it with the server's
// sentence. The manager lives outside any page, so uploads go on while people browse the drive.
import { ApiError, api, get, post, type DriveEntry, type Schemas } from "../api";

export type UploadStatus = "queued" | "starting" | "uploading" | "retrying" | "finishing" | "done" | "error" | "cancelled";

export type UploadItem = {
  key: number;
  name: string;
  /** Where it lands in the drive. */
  path: string;
  folder: string;
  size: number;
  /** Bytes the server has (plus those of the chunk on the way). */
  loaded: number;
  /** Bytes per second over the last few seconds. */
  speed: number;
  status: UploadStatus;
  error?: string;
  /** Failed tries in a row while retrying. */
  attempt?: number;
  entry?: DriveEntry;
};

type Created = Schemas["UploadInfo"];
type Progress = Schemas["UploadStatus"];
type Start = Schemas["UploadStart"];

const MAX_FAILURES = 8;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

class Cancelled extends Error {}

/** A chunk that did not arrive: the connection dropped, or no answer came. */
class Dropped extends Error {}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Cancelled());
    const t = setTimeout(() => { signal.removeEventListener("abort", stop); resolve(); }, ms);
    const stop = () => { clearTimeout(t); reject(new Cancelled()); };
    signal.addEventListener("abort", stop, { once: true });
  });
}

function errorFromXhr(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText);
    return new ApiError(xhr.status, body.error.code, body.error.message);
  } catch {
    return new ApiError(xhr.status, "http_error", `The server answered ${xhr.status}.`);
  }
}

/** PUT one chunk with XMLHttpRequest, which (unlike fetch) reports upload progress. */
export function putChunk(url: string, chunk: Blob, onProgress: (sent: number) => void,
                  signal: AbortSignal): Promise<Progress> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    signal.addEventListener("abort", abort, { once: true });
    const done = () => signal.removeEventListener("abort", abort);
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as Progress);
        } catch {
          reject(new Dropped("The server's answer was cut off."));
        }
      } else {
        reject(errorFromXhr(xhr));
      }
    };
    xhr.onerror = () => { done(); reject(new Dropped("The connection dropped.")); };
    xhr.ontimeout = () => { done(); reject(new Dropped("The server did not answer in time.")); };
    xhr.onabort = () => { done(); reject(signal.aborted ? new Cancelled() : new Dropped("The upload was interrupted.")); };
    xhr.send(chunk);
  });
}

/** Worth trying again: the request never got a real answer, or the server was briefly unwell. */
export function transient(err: unknown): boolean {
  if (err instanceof Dropped || err instanceof TypeError) return true;
  return err instanceof ApiError && (err.status >= 500 || err.status === 408 || err.status === 429
    || err.status === 0);
}

type Listener = () => void;

class Upload {
  readonly item: UploadItem;
  uploadId: string | null = null;
  private ctrl = new AbortController();
  private samples: [number, number][] = [];

  constructor(private manager: UploadManager, key: number, private file: File, folder: string) {
    const path = folder ? `${folder}/${file.name}` : file.name;
    this.item = { key, name: file.name, path, folder, size: file.size, loaded: 0, speed: 0, status: "queued" };
  }

  private set(patch: Partial<UploadItem>, force = true) {
    Object.assign(this.item, patch);
    this.manager.changed(force);
  }

  private progress(loaded: number) {
    const now = performance.now();
    this.samples.push([now, loaded]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    const [t0, b0] = this.samples[0];
    const speed = now - t0 > 200 ? ((loaded - b0) * 1000) / (now - t0) : this.item.speed;
    this.set({ loaded, speed: Math.max(0, speed) }, false);
  }

  async run() {
    this.set({ status: this.uploadId === null ? "starting" : "uploading" });
    try {
      if (this.uploadId === null) {
        const start: Start = { target: "drive", path: this.item.path, size: this.item.size, overwrite: true };
        const created = await post<Created>("/api/uploads", start);
        this.uploadId = created.upload_id;
        this.chunkSize = created.chunk_size;
        this.samples = [];
        this.progress(created.offset);
        await this.send(created.offset);
      } else {
        const at = await get<Progress>(`/api/uploads/${encodeURIComponent(this.uploadId)}`);
        this.samples = [];
        await this.send(at.offset);
      }
      this.set({ status: "finishing", loaded: this.item.size });
      const entry = await post<DriveEntry>(`/api/uploads/${encodeURIComponent(this.uploadId)}/complete`);
      this.set({ status: "done", entry, speed: 0 });
      this.manager.finished(this.item);
    } catch (err) {
      if (err instanceof Cancelled || this.ctrl.signal.aborted) {
        this.set({ status: "cancelled", speed: 0 });
      } else {
        const message = err instanceof Error && err.message ? err.message : "The upload failed.";
        this.set({ status: "error", error: message, speed: 0 });
      }
    } finally {
      this.manager.pump();
    }
  }

  private chunkSize = 8 * 1024 * 1024;

  private async send(start: number) {
    const id = encodeURIComponent(this.uploadId!);
    const size = this.item.size;
    const signal = this.ctrl.signal;
    let offset = start;
    let failures = 0;
    this.set({ status: "uploading", attempt: undefined, error: undefined });
    while (offset < size) {
      const end = Math.min(size, offset + this.chunkSize);
      const base = offset;
      try {
        const r = await putChunk(`/api/uploads/${id}?offset=${base}`, this.file.slice(base, end),
          (sent) => this.progress(base + sent), signal);
        offset = r.offset;
        if (failures) this.set({ status: "uploading", attempt: undefined, error: undefined });
        failures = 0;
        this.progress(offset);
      } catch (err) {
        if (err instanceof Cancelled || signal.aborted) throw new Cancelled();
        if (err instanceof ApiError && err.code === "wrong_offset") {
          // The server has more (or less) than we thought: go on from where it is.
          offset = (await get<Progress>(`/api/uploads/${id}`)).offset;
          this.progress(offset);
          continue;
        }
        if (!transient(err)) throw err;
        failures++;
        if (failures > MAX_FAILURES) {
          throw new Error("The connection to the server keeps dropping; press Retry to go on from where it stopped.");
        }
        this.set({ status: "retrying", attempt: failures, speed: 0,
                   error: err instanceof Error ? err.message : undefined });
        await sleep(BACKOFF_MS[Math.min(failures - 1, BACKOFF_MS.length - 1)], signal);
        try {
          offset = (await get<Progress>(`/api/uploads/${id}`)).offset;
          this.samples = [];
          this.progress(offset);
        } catch (e) {
          if (!transient(e)) throw e;
          // Still unreachable: the next PUT fails again and waits longer.
        }
      }
    }
  }

  cancel() {
    const running = ["starting", "uploading", "retrying", "finishing"].includes(this.item.status);
    this.ctrl.abort();
    if (!running) this.set({ status: "cancelled", speed: 0 });
    if (this.uploadId !== null && this.item.status !== "done") {
      api("DELETE", `/api/uploads/${encodeURIComponent(this.uploadId)}`).catch(() => {});
    }
  }

  retry() {
    if (this.item.status !== "error") return;
    this.ctrl = new AbortController();
    this.set({ status: "queued", error: undefined });
    this.manager.pump();
  }
}

export class UploadManager {
  private uploads: Upload[] = [];
  private listeners = new Set<Listener>();
  private doneListeners = new Set<(item: UploadItem) => void>();
  private nextKey = 1;
  private lastNotify = 0;
  private pending = false;

  get items(): UploadItem[] {
    return this.uploads.map((u) => u.item);
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onFinished(fn: (item: UploadItem) => void): () => void {
    this.doneListeners.add(fn);
    return () => this.doneListeners.delete(fn);
  }

  /** Tell listeners; progress-only changes at most ten times a second. */
  changed(force: boolean) {
    const now = performance.now();
    if (force || now - this.lastNotify > 100) {
      this.lastNotify = now;
      this.listeners.forEach((fn) => fn());
    } else if (!this.pending) {
      this.pending = true;
      setTimeout(() => { this.pending = false; this.changed(true); }, 100);
    }
  }

  finished(item: UploadItem) {
    this.doneListeners.forEach((fn) => fn(item));
  }

  add(files: Iterable<File>, folder: string) {
    for (const file of files) {
      this.uploads.push(new Upload(this, this.nextKey++, file, folder));
    }
    this.changed(true);
    this.pump();
  }

  /** Start queued uploads while fewer than three are on the way. */
  pump() {
    const running = () => this.uploads.filter((u) =>
      ["starting", "uploading", "retrying", "finishing"].includes(u.item.status)).length;
    for (const up of this.uploads) {
      if (running() >= 3) break;
      if (up.item.status === "queued") void up.run();
    }
  }

  cancel(key: number) {
    this.uploads.find((u) => u.item.key === key)?.cancel();
  }

  retry(key: number) {
    this.uploads.find((u) => u.item.key === key)?.retry();
  }

  /** Forget the finished ones (done, failed, cancelled). */
  clearFinished() {
    this.uploads = this.uploads.filter((u) => !["done", "error", "cancelled"].includes(u.item.status));
    this.changed(true);
  }

  get active(): boolean {
    return this.uploads.some((u) => !["done", "error", "cancelled"].includes(u.item.status));
  }
}

export const uploads = new UploadManager();

// Leaving the page would drop the uploads on the way: ask first.
addEventListener("beforeunload", (e) => {
  if (uploads.active) e.preventDefault();
});
