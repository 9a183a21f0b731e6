// The page's side of the runtime channel (docs/api.md, "The runtime channel"): what the
// notebook's code asks of this tab (google.colab's eval_js, files.upload, files.download) and
// JavaScript in a cell's output calling Python (google.colab.kernel.invokeFunction).
//
// Notebook JavaScript never runs in the app's page: eval_js runs inside a sandboxed output frame
// of the cell (sandbox="allow-scripts", an opaque origin without the app's cookies or API), and
// only JSON values cross between that frame and this page, by postMessage.
import { api, post, type Schemas } from "../api";
import { sendChunks } from "../chunked-upload";

type Msg = Record<string, any>;

export type UploadFile = { name: string; size: number; loaded: number };
export type UploadPrompt = {
  requestId: string;
  cellId: string;
  directory: string;
  notebook: string;
  status: "choosing" | "uploading";
  files: UploadFile[];
};

const FRAME_WAIT_MS = 15_000;

/** The cell's output frames, or (`host`) the frame eval_js made in a cell that had none. */
function frameSelector(cellId: string, host: boolean): string {
  const id = CSS.escape(cellId);
  return host ? `.cell[data-cell-id="${id}"] .colab-area iframe[data-bridge]`
    : `[data-outputs-for="${id}"] iframe[data-bridge]`;
}

function errorText(err: unknown): string {
  return err instanceof Error && err.message ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One file into the runtime over the chunked upload API, resuming after dropped chunks. */
async function uploadFile(notebook: string, path: string, file: File, onProgress: (loaded: number) => void,
                          signal: AbortSignal): Promise<void> {
  const start: Schemas["UploadStart"] = { target: "runtime", notebook, path, size: file.size, overwrite: true };
  const created = await post<Schemas["UploadInfo"]>("/api/uploads", start);
  const id = encodeURIComponent(created.upload_id);
  try {
    await sendChunks(created.upload_id, file, created.offset, created.chunk_size, signal,
                     { progress: onProgress });
    await post(`/api/uploads/${id}/complete`);
  } catch (err) {
    api("DELETE", `/api/uploads/${id}`).catch(() => {});
    throw err;
  }
}

export class ColabBridge {
  /** Upload prompts shown in cells' output areas, by request id. */
  readonly uploads = new Map<string, UploadPrompt>();
  /** Cells that got an empty output frame for eval_js (they had none). */
  readonly hosts = new Set<string>();
  private listeners = new Set<() => void>();
  private ready = new WeakSet<Window>();
  private waiting = new Map<Window, (() => void)[]>();
  /** eval_js requests on their way: request id -> the frame asked. */
  private evals = new Map<string, Window>();
  /** invokeFunction calls on their way: call id -> the frame and its own id. */
  private calls = new Map<string, { win: Window; id: number }>();
  private aborts = new Map<string, AbortController>();
  private nextCall = 1;

  /**
   * `send` puts a message on the notebook's socket; `frameOutputs(cellId)` says how many of the
   * cell's outputs (those received so far) show in a sandboxed frame.
   */
  constructor(private send: (msg: Msg) => void, private frameOutputs: (cellId: string) => number) {
    window.addEventListener("message", this.onFrameMessage);
  }

  close() {
    window.removeEventListener("message", this.onFrameMessage);
    this.dropAll();
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private notify() {
    for (const fn of [...this.listeners]) fn();
  }

  promptsFor(cellId: string): UploadPrompt[] {
    return [...this.uploads.values()].filter((p) => p.cellId === cellId);
  }

  // ---- from the server ----

  handle(msg: Msg) {
    switch (msg.type) {
      case "channel_request":
        if (msg.kind === "eval_js") void this.evaluate(msg.request_id, msg.cell_id, String(msg.script ?? ""));
        else if (msg.kind === "download") void this.download(msg.request_id, msg.url, msg.name);
        else if (msg.kind === "upload") {
          this.uploads.set(msg.request_id, {
            requestId: msg.request_id, cellId: msg.cell_id, directory: msg.directory ?? "",
            notebook: msg.notebook, status: "choosing", files: [],
          });
        } else this.reply(msg.request_id, undefined, `This page cannot do "${msg.kind}"; reload it.`);
        break;
      case "channel_done":
        this.aborts.get(msg.request_id)?.abort();
        this.evals.delete(msg.request_id);
        this.uploads.delete(msg.request_id);
        break;
      case "invoke_result": {
        const call = this.calls.get(msg.call_id);
        if (!call) break;
        this.calls.delete(msg.call_id);
        const ok = msg.error == null;
        call.win.postMessage({ dikte: "invoke-result", id: call.id, ok, value: msg.result, error: msg.error }, "*");
        break;
      }
    }
    this.notify();
  }

  /** A cell starts running: its old outputs, and the frame eval_js made among them, are gone. */
  cellStarted(cellId: string) {
    if (this.hosts.delete(cellId)) this.notify();
  }

  /** A cell stopped running: a prompt of it left (its kernel died before withdrawing it) goes. */
  cellStopped(cellId: string) {
    for (const prompt of this.promptsFor(cellId)) {
      this.aborts.get(prompt.requestId)?.abort();
      this.uploads.delete(prompt.requestId);
    }
    this.notify();
  }

  /** The socket dropped: the server forgot this tab's requests, and its calls get no answer. */
  dropAll() {
    for (const ctrl of this.aborts.values()) ctrl.abort();
    this.aborts.clear();
    this.uploads.clear();
    this.evals.clear();
    for (const { win, id } of this.calls.values()) {
      win.postMessage({ dikte: "invoke-result", id, ok: false, error: "The connection to Dikte dropped." }, "*");
    }
    this.calls.clear();
    this.notify();
  }

  private reply(requestId: string, value: unknown, error?: string) {
    this.send({ type: "channel_reply", request_id: requestId, ...(error !== undefined ? { error } : { value: value ?? null }) });
  }

  // ---- eval_js ----

  private async evaluate(requestId: string, cellId: string, script: string) {
    try {
      const win = await this.frameOf(cellId);
      this.evals.set(requestId, win);
      win.postMessage({ dikte: "eval", id: requestId, script }, "*");
    } catch (err) {
      this.reply(requestId, undefined, errorText(err));
    }
  }

  /**
   * The cell's last sandboxed output frame, once loaded; a new empty one if it has none. An
   * output that arrived just before the request may not be on the page yet: wait for it.
   */
  private async frameOf(cellId: string): Promise<Window> {
    const deadline = Date.now() + FRAME_WAIT_MS;
    const outputs = this.frameOutputs(cellId);
    if (!outputs && !this.hosts.has(cellId)) {
      this.hosts.add(cellId);
      this.notify();
    }
    const selector = frameSelector(cellId, !outputs);
    let frames = document.querySelectorAll<HTMLIFrameElement>(selector);
    while (frames.length < Math.max(1, outputs)) {
      if (Date.now() > deadline) throw new Error("eval_js: the cell is not shown in this tab (was it deleted?).");
      await sleep(50);
      frames = document.querySelectorAll<HTMLIFrameElement>(selector);
    }
    const win = frames[frames.length - 1].contentWindow;
    if (!win) throw new Error("eval_js: the cell's output frame is gone.");
    if (this.ready.has(win)) return win;
    await new Promise<void>((resolve, reject) => {
      const list = this.waiting.get(win) ?? [];
      list.push(resolve);
      this.waiting.set(win, list);
      win.postMessage({ dikte: "ping" }, "*"); // it may have loaded before this page listened
      setTimeout(() => reject(new Error("eval_js: the cell's output frame did not load.")), Math.max(0, deadline - Date.now()));
    });
    return win;
  }

  // ---- messages from output frames ----

  private onFrameMessage = (e: MessageEvent) => {
    const d = e.data;
    const win = e.source as Window | null;
    if (!win || !d || typeof d !== "object" || typeof d.dikte !== "string") return;
    const frame = [...document.querySelectorAll<HTMLIFrameElement>("iframe[data-bridge]")].find(
      (f) => f.contentWindow === win);
    if (!frame) return; // only Dikte's own output frames talk to the page
    if (d.dikte === "ready") {
      this.ready.add(win);
      for (const resolve of this.waiting.get(win) ?? []) resolve();
      this.waiting.delete(win);
    } else if (d.dikte === "eval-result" && typeof d.id === "string" && this.evals.get(d.id) === win) {
      this.evals.delete(d.id);
      if (d.ok) this.reply(d.id, d.value);
      else this.reply(d.id, undefined, String(d.error));
    } else if (d.dikte === "invoke" && typeof d.id === "number") {
      const cellId = frame.closest<HTMLElement>(".cell[data-cell-id]")?.dataset.cellId;
      if (!cellId) return;
      const callId = `c${this.nextCall++}`;
      this.calls.set(callId, { win, id: d.id });
      this.send({
        type: "invoke_function", call_id: callId, cell_id: cellId, name: String(d.name),
        args: Array.isArray(d.args) ? d.args : [], keywords: d.kwargs && typeof d.kwargs === "object" ? d.kwargs : {},
      });
    }
  };

  // ---- files.download ----

  private async download(requestId: string, url: string, name: string) {
    try {
      // Ask first, so a refusal comes back to the cell as a sentence, not as a saved error file.
      const r = await fetch(url, { credentials: "same-origin" });
      if (!r.ok) {
        let message = `The server answered ${r.status}.`;
        try {
          message = (await r.json()).error.message;
        } catch {
          /* keep the status */
        }
        throw new Error(message);
      }
      await r.body?.cancel();
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.style.display = "none";
      document.body.appendChild(a);
      a.click();
      a.remove();
      this.reply(requestId, null);
    } catch (err) {
      this.reply(requestId, undefined, `files.download(): ${errorText(err)}`);
    }
  }

  // ---- files.upload ----

  async upload(requestId: string, files: File[]) {
    const prompt = this.uploads.get(requestId);
    if (!prompt || prompt.status !== "choosing") return;
    prompt.status = "uploading";
    prompt.files = files.map((f) => ({ name: f.name, size: f.size, loaded: 0 }));
    const ctrl = new AbortController();
    this.aborts.set(requestId, ctrl);
    this.notify();
    const dir = prompt.directory ? `${prompt.directory}/` : "";
    try {
      for (const [i, file] of files.entries()) {
        await uploadFile(prompt.notebook, dir + file.name, file, (loaded) => {
          prompt.files[i].loaded = loaded;
          this.notify();
        }, ctrl.signal);
      }
      this.reply(requestId, { files: files.map((f) => f.name) });
    } catch (err) {
      if (!ctrl.signal.aborted) this.reply(requestId, undefined, `The upload failed: ${errorText(err)}`);
    } finally {
      this.aborts.delete(requestId);
      this.uploads.delete(requestId);
      this.notify();
    }
  }

  cancelUpload(requestId: string) {
    this.aborts.get(requestId)?.abort();
    if (this.uploads.delete(requestId)) this.reply(requestId, { files: [], cancelled: true });
    this.notify();
  }
}
