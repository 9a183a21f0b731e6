// Uploads into the drive through /api/uploads: a queue of files, three on the way at once, each
// created on the server (POST /api/uploads), sent by the resuming chunk loop of chunked-upload.ts
// and completed; a refusal (4xx) stops one with the server's sentence, and Retry goes on from where
// the server got to. The manager lives outside any page, so uploads go on while people browse the
// drive.
import { api, post, type DriveEntry, type Schemas } from "../api";
import { Cancelled, GaveUp, sendChunks, uploadOffset } from "../chunked-upload";

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
type Start = Schemas["UploadStart"];

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
        const at = await uploadOffset(this.uploadId);
        this.samples = [];
        await this.send(at);
      }
      this.set({ status: "finishing", loaded: this.item.size });
      const entry = await post<DriveEntry>(`/api/uploads/${encodeURIComponent(this.uploadId)}/complete`);
      this.set({ status: "done", entry, speed: 0 });
      this.manager.finished(this.item);
    } catch (err) {
      if (err instanceof Cancelled || this.ctrl.signal.aborted) {
        this.set({ status: "cancelled", speed: 0 });
      } else if (err instanceof GaveUp) {
        this.set({ status: "error", speed: 0,
                   error: "The connection to the server keeps dropping; press Retry to go on from where it stopped." });
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
    this.set({ status: "uploading", attempt: undefined, error: undefined });
    await sendChunks(this.uploadId!, this.file, start, this.chunkSize, this.ctrl.signal, {
      progress: (loaded) => this.progress(loaded),
      retrying: (attempt, err) => {
        if (attempt === 0) {
          this.set({ status: "uploading", attempt: undefined, error: undefined });
        } else {
          this.samples = [];
          this.set({ status: "retrying", attempt, speed: 0,
                     error: err instanceof Error ? err.message : undefined });
        }
      },
    });
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
