// The live notebook: the server's copy, kept in sync over the notebook WebSocket (docs/api.md).
// The server is the source of truth; this tab applies its own structural edits at once
// (optimistically, idempotently re-applied when the server echoes them) and never lets a remote
// set_source clobber text the person is typing.
import { wsUrl, get, type RuntimeInfo } from "../api";
import type { CellModel, CellType, Output, OutputChange } from "./handle";
import { applyChange } from "./changes";
import { ColabBridge } from "./colab";
import { WidgetHub } from "./widgets";
import { rendersInFrame } from "./outputs";
import type { CompleteReply, InspectReply, KernelAssist } from "./kernel-assist";
import { openPanel } from "../panels/bus";

export type CellState = {
  state: "idle" | "queued" | "running";
  position?: number | null;
  last_status?: string | null;
};
export type RuntimeStatus = "none" | "queued" | "starting" | "connected" | "restarting" | "disconnected";
export type ConnState = "connecting" | "open" | "reconnecting" | "gone";
export type Notice = {
  id: number;
  level: string;
  message: string;
  /** For a warning before a stop: the rule (e.g. idle_timeout) and when the stop happens. */
  code?: string;
  at?: number;
};
export type PendingInput = { cell_id: string; prompt: string; password: boolean };

/** What a Cell component needs from its editor, registered while it is mounted. */
export type Variables = {
  variables: { name: string; type: string; shape: string; value: string }[];
  more: number;
};

export interface EditorApi {
  focus(from?: number, to?: number): void;
  /** Open the kernel's completions at the cursor (code cells). */
  complete?(): void;
}

type Inflight = {
  op: string;
  cell_id?: string;
  source?: string;
  resolve?: (id: string) => void;
  reject?: (e: Error) => void;
};
type Msg = Record<string, any>;

const SOURCE_DEBOUNCE_MS = 300;
let nextNoticeId = 1;

function normalizeCell(raw: Msg): CellModel {
  const src = raw.source;
  return {
    id: String(raw.id),
    cell_type: raw.cell_type ?? "code",
    source: Array.isArray(src) ? src.join("") : (src ?? ""),
    outputs: (raw.outputs ?? []) as Output[],
    execution_count: raw.execution_count ?? null,
    metadata: (raw.metadata ?? {}) as Record<string, unknown>,
  };
}

/** Merge a text_tail into the previous change of the same output (cheap coalescing). */
function pushChange(list: OutputChange[], ch: OutputChange) {
  const last = list[list.length - 1];
  if (ch.kind === "clear") {
    list.length = 0;
    list.push(ch);
    return;
  }
  if (last && last.kind === "text_tail" && ch.kind === "text_tail" && last.index === ch.index) {
    if (ch.keep >= last.keep) {
      list[list.length - 1] = {
        kind: "text_tail",
        index: ch.index,
        keep: last.keep,
        text: last.text.slice(0, ch.keep - last.keep) + ch.text,
      };
    } else {
      list[list.length - 1] = ch;
    }
    return;
  }
  list.push(ch);
}

function patchMetadata(meta: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...meta };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

export async function sha256Hex(text: string): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle) return undefined; // not a secure context: the hash is optional
  const buf = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

export class NotebookStore {
  path: string;
  cells: CellModel[] = [];
  states: Record<string, CellState> = {};
  runtime: RuntimeInfo | null = null;
  runtimeStatus: RuntimeStatus = "none";
  runtimeMessage: string | null = null;
  pendingInput: PendingInput | null = null;
  notices: Notice[] = [];
  toasts: Notice[] = [];
  conn: ConnState = "connecting";
  loaded = false;
  gone: string | null = null;
  savedAt: Date | null = null;
  focusedId: string | null = null;
  editingId: string | null = null;
  version = 0;
  /** Called when the server says the notebook moved. */
  onRenamed: (path: string) => void = () => {};
  /** Requests of the notebook's code to this tab (eval_js, files.upload...) and callbacks. */
  readonly colab = new ColabBridge((msg) => this.send(msg), (id) => this.frameOutputs(id));
  /** Jupyter widgets' state, and the go-between for the frames that show them. */
  readonly widgets = new WidgetHub((msg) => this.send(msg), (text) => this.toast(text, "warning"));

  readonly editors = new Map<string, EditorApi>();
  private pendingFocus = new Map<string, [number | undefined, number | undefined]>();
  private ws: WebSocket | null = null;
  private listeners = new Set<() => void>();
  private timers = new Map<string, number>();
  private dirty = new Set<string>();
  private inflight: Inflight[] = [];
  private outbox: { msg: Msg; track?: Inflight }[] = [];
  private outQueue = new Map<string, OutputChange[]>();
  private raf = 0;
  private retries = 0;
  private retryTimer = 0;
  private closed = false;
  /** Completion and help requests waiting for the kernel's answer, by request id. */
  private asks = new Map<string, { resolve(v: Msg): void; reject(e: Error): void }>();
  private nextAsk = 1;
  /** The last help page (`name?` in a cell, or asked in the Help panel). */
  help: { title: string; text: string } | null = null;
  private sendChain: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
    this.connect();
  }

  // ---- subscription (coalesced to one notification per animation frame) ----

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed() {
    if (this.raf) return;
    const run = () => {
      this.raf = 0;
      this.flushOutputs();
      this.version++;
      for (const fn of [...this.listeners]) fn();
    };
    // rAF pauses in hidden tabs; a timer keeps the model current there
    this.raf = document.hidden ? window.setTimeout(run, 250) : requestAnimationFrame(run);
  }

  // ---- the socket ----

  private connect() {
    if (this.closed) return;
    const ws = new WebSocket(wsUrl(`/api/notebooks/ws?${new URLSearchParams({ path: this.path })}`), [
      "dikte",
    ]);
    this.ws = ws;
    ws.onopen = () => {
      this.retries = 0;
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      try {
        this.handle(JSON.parse(ev.data as string));
      } catch (e) {
        console.error("notebook message", e);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.dropInflight();
      this.colab.dropAll();
      for (const waiting of this.asks.values()) waiting.reject(new Error("The connection to the server was lost."));
      this.asks.clear();
      if (this.closed) return;
      if (ev.code === 4401) {
        get("/api/me").catch(() => {}); // lets the app show the sign-in page
        this.conn = "gone";
        this.gone = ev.reason || "You were signed out.";
      } else if (ev.code === 4404 || ev.code === 4403 || ev.code === 4400) {
        this.conn = "gone";
        this.gone = ev.reason || "This notebook cannot be opened.";
      } else if (this.gone) {
        this.conn = "gone";
      } else {
        this.conn = "reconnecting";
        const delay = Math.min(10000, 500 * 2 ** this.retries++);
        this.retryTimer = window.setTimeout(() => this.connect(), delay);
      }
      this.changed();
    };
  }

  /** Drop the socket and open a new one (its snapshot resynchronises everything). */
  resync() {
    const ws = this.ws;
    this.ws = null;
    this.dropInflight();
    ws?.close();
    this.conn = "reconnecting";
    this.connect();
    this.changed();
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    cancelAnimationFrame(this.raf);
    clearTimeout(this.raf);
    this.flushSources();
    this.ws?.close();
    this.ws = null;
    this.colab.close();
    this.widgets.close();
  }

  private dropInflight() {
    for (const f of this.inflight) f.reject?.(new Error("The connection dropped; try again."));
    this.inflight = [];
  }

  /** "I'm still here": restarts the runtime's idle clock and drops the idle warning. */
  stillHere(noticeId: number) {
    this.send({ type: "activity" } as Msg);
    this.dismissNotice(noticeId);
  }

  private send(msg: Msg, track?: Inflight) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN && this.conn === "open") {
      this.ws.send(JSON.stringify(msg));
      if (track) this.inflight.push(track);
    } else {
      this.outbox.push({ msg, track });
    }
  }

  /** Ask the kernel (through the server) for completions or help; rejects with the reason. */
  private ask(msg: Msg): Promise<Msg> {
    if (this.conn !== "open") return Promise.reject(new Error("The notebook is not connected to the server."));
    const request_id = `a${this.nextAsk++}`;
    return new Promise((resolve, reject) => {
      this.asks.set(request_id, { resolve, reject });
      this.send({ ...msg, request_id });
    });
  }

  /** What a code cell's editor asks the kernel (notebook/kernel-assist.ts). */
  readonly kernel: KernelAssist = {
    complete: (code, cursorPos) =>
      this.ask({ type: "complete", code, cursor_pos: cursorPos }) as Promise<CompleteReply>,
    inspect: (code, cursorPos, detail) =>
      this.ask({ type: "inspect", code, cursor_pos: cursorPos, detail_level: detail }) as Promise<InspectReply>,
  };

  /** The kernel's variables, for the Variables panel. */
  variables(): Promise<Variables> {
    return this.ask({ type: "variables" }) as Promise<Variables>;
  }

  /** Show a help page in the Help panel. */
  showHelp(title: string, data: Record<string, unknown>) {
    const text = data["text/plain"];
    this.help = { title, text: typeof text === "string" ? text : "(This help page has no text version.)" };
    this.changed();
    openPanel("help");
  }

  private answerAsk(msg: Msg) {
    const waiting = this.asks.get(msg.request_id);
    if (!waiting) return;
    this.asks.delete(msg.request_id);
    if (msg.error) waiting.reject(new Error(msg.error));
    else waiting.resolve(msg);
  }

  // ---- server messages ----

  private handle(msg: Msg) {
    switch (msg.type) {
      case "comm_open":
      case "comm_msg":
      case "comm_close":
      case "comm_idle":
      case "widgets_gone":
        this.widgets.handle(msg);
        return; // the frames redraw the widgets; the notebook itself is unchanged
      case "widgets_restored": // the server restarted and asked the kernel for every state
        this.widgets.reset(msg.widgets);
        return; // the frames redraw the widgets; the notebook itself is unchanged
      case "snapshot":
        this.onSnapshot(msg);
        break;
      case "output": {
        const list = this.outQueue.get(msg.cell_id) ?? [];
        pushChange(list, msg.change as OutputChange);
        this.outQueue.set(msg.cell_id, list);
        break;
      }
      case "edited":
        this.flushOutputs();
        for (const op of msg.ops as Msg[]) this.onEdited(op);
        this.checkSaved();
        break;
      case "cell_state": {
        const prev = this.states[msg.cell_id];
        const st: CellState = { state: msg.state, position: msg.position, last_status: msg.last_status };
        this.states = { ...this.states, [msg.cell_id]: st };
        if (prev?.state !== "running" && st.state === "running") {
          this.colab.cellStarted(msg.cell_id);
          this.updateCell(msg.cell_id, (c) => ({
            ...c,
            execution_count: null,
            metadata: { ...c.metadata, execution: { started: new Date().toISOString() } },
          }));
        } else if (prev?.state === "running" && st.state !== "running") {
          this.colab.cellStopped(msg.cell_id);
          this.updateCell(msg.cell_id, (c) => ({
            ...c,
            metadata: {
              ...c.metadata,
              execution: { ...(c.metadata.execution as object), finished: new Date().toISOString() },
            },
          }));
        }
        break;
      }
      case "execution_count":
        this.updateCell(msg.cell_id, (c) => ({ ...c, execution_count: msg.count }));
        break;
      case "input_request":
        this.pendingInput = { cell_id: msg.cell_id, prompt: msg.prompt ?? "", password: !!msg.password };
        break;
      case "input_done":
        this.pendingInput = null;
        break;
      case "runtime":
        if (msg.status === "disconnected") this.notices = this.notices.filter((n) => n.at === undefined);
        this.runtimeStatus = msg.status;
        this.runtime = msg.runtime ?? null;
        if (msg.status !== "connected" || msg.message) this.runtimeMessage = msg.message ?? null;
        if (msg.status === "starting") this.runtimeMessage = null;
        break;
      case "notice": {
        // a new warning for a rule replaces the older one of that rule
        const kept = msg.code ? this.notices.filter((n) => n.code !== msg.code) : this.notices;
        this.notices = [...kept, { id: nextNoticeId++, level: msg.level, message: msg.message, code: msg.code, at: msg.at }];
        break;
      }
      case "renamed":
        this.path = msg.path;
        this.onRenamed(msg.path);
        break;
      case "deleted":
        this.gone = "This notebook was deleted.";
        this.conn = "gone";
        break;
      case "channel_request":
      case "channel_done":
      case "invoke_result":
        this.colab.handle(msg);
        break;
      case "complete_reply":
      case "inspect_reply":
      case "variables_reply":
        this.answerAsk(msg);
        break;
      case "help":
        this.showHelp("Help", msg.data ?? {});
        break;
      case "error":
        this.toast(msg.message, "error");
        if (this.inflight.length) this.resync();
        break;
    }
    this.changed();
  }

  private onSnapshot(msg: Msg) {
    this.outQueue.clear();
    this.path = msg.path ?? this.path;
    const local = new Map(this.cells.map((c) => [c.id, c.source]));
    this.cells = ((msg.notebook?.cells ?? []) as Msg[]).map(normalizeCell);
    // text typed here and not yet acknowledged survives a reconnect, and is sent again
    const resend: string[] = [];
    for (const id of this.dirty) {
      const mine = local.get(id);
      const i = this.cells.findIndex((c) => c.id === id);
      if (i < 0 || mine === undefined) {
        this.dirty.delete(id);
        continue;
      }
      if (this.cells[i].source !== mine) {
        this.cells[i] = { ...this.cells[i], source: mine };
        resend.push(id);
      } else if (!this.timers.has(id)) {
        this.dirty.delete(id);
      }
    }
    this.states = { ...(msg.cells ?? {}) };
    this.widgets.reset(msg.widgets);
    this.runtime = msg.runtime ?? null;
    this.runtimeStatus = msg.runtime ? msg.runtime.status : this.runtimeStatus === "disconnected" ? "disconnected" : "none";
    const pi = msg.pending_input;
    this.pendingInput = pi ? { cell_id: pi.cell_id, prompt: pi.prompt ?? "", password: !!pi.password } : null;
    this.loaded = true;
    this.conn = "open";
    this.send({ type: "channel_ready" }); // this tab answers the notebook's code (colab.ts)
    const out = this.outbox;
    this.outbox = [];
    for (const id of resend) this.sendSource(id);
    for (const { msg: m, track } of out) this.send(m, track);
    this.checkSaved();
  }

  private matchesMine(op: Msg): Inflight | null {
    const head = this.inflight[0];
    if (!head || head.op !== op.op) return null;
    if (head.op !== "insert" && head.cell_id !== op.cell_id) return null;
    if (head.op === "set_source" && head.source !== op.source) return null;
    this.inflight.shift();
    return head;
  }

  private onEdited(op: Msg) {
    const mine = this.matchesMine(op);
    const id: string = op.cell_id;
    switch (op.op) {
      case "insert": {
        if (!this.cells.some((c) => c.id === id)) {
          const cells = [...this.cells];
          cells.splice(Math.min(op.index, cells.length), 0, normalizeCell(op.cell));
          this.cells = cells;
        }
        mine?.resolve?.(id);
        break;
      }
      case "delete":
        this.cells = this.cells.filter((c) => c.id !== id);
        this.dirty.delete(id);
        break;
      case "move":
        this.moveLocal(id, op.index);
        break;
      case "set_source": {
        if (mine) {
          if (!this.timers.has(id) && !this.inflight.some((f) => f.cell_id === id && f.op === "set_source")) {
            const cell = this.cells.find((c) => c.id === id);
            if (cell && cell.source === op.source) this.dirty.delete(id);
          }
        } else if (!this.dirty.has(id)) {
          // another viewer typed: apply unless this tab holds unsent text for that cell
          this.updateCell(id, (c) => ({ ...c, source: op.source }));
        }
        break;
      }
      case "set_type": {
        const fresh = normalizeCell(op.cell);
        this.updateCell(id, (c) => ({ ...fresh, source: this.dirty.has(id) ? c.source : fresh.source }));
        break;
      }
      case "clear_outputs":
        this.updateCell(id, (c) => ({ ...c, outputs: [], execution_count: null }));
        break;
      case "set_metadata":
        this.updateCell(id, (c) => ({ ...c, metadata: patchMetadata(c.metadata, op.metadata ?? {}) }));
        break;
    }
  }

  /** How many of a cell's outputs show in a sandboxed frame, changes received so far included. */
  private frameOutputs(id: string): number {
    this.flushOutputs();
    return this.cell(id)?.outputs.filter(rendersInFrame).length ?? 0;
  }

  private flushOutputs() {
    if (!this.outQueue.size) return;
    const queue = this.outQueue;
    this.outQueue = new Map();
    this.cells = this.cells.map((c) => {
      const changes = queue.get(c.id);
      if (!changes) return c;
      let outputs = c.outputs;
      for (const ch of changes) outputs = applyChange(outputs, ch);
      return { ...c, outputs };
    });
  }

  private updateCell(id: string, fn: (c: CellModel) => CellModel) {
    const i = this.cells.findIndex((c) => c.id === id);
    if (i < 0) return;
    const cells = [...this.cells];
    cells[i] = fn(cells[i]);
    this.cells = cells;
  }

  private moveLocal(id: string, index: number) {
    const i = this.cells.findIndex((c) => c.id === id);
    if (i < 0 || i === index) return;
    const cells = [...this.cells];
    const [cell] = cells.splice(i, 1);
    cells.splice(Math.max(0, Math.min(index, cells.length)), 0, cell);
    this.cells = cells;
  }

  // ---- saving state ----

  get saving(): boolean {
    return this.dirty.size > 0 || this.inflight.length > 0 || this.outbox.length > 0;
  }

  private checkSaved() {
    if (!this.saving) this.savedAt = new Date();
  }

  toast(message: string, level = "error") {
    const t = { id: nextNoticeId++, level, message };
    this.toasts = [...this.toasts, t];
    window.setTimeout(() => this.dismissToast(t.id), 8000);
    this.changed();
  }
  dismissToast(id: number) {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.changed();
  }
  dismissNotice(id: number) {
    this.notices = this.notices.filter((t) => t.id !== id);
    this.changed();
  }
  markStarting() {
    if (this.runtimeStatus !== "connected") this.runtimeStatus = "starting";
    this.runtimeMessage = null;
    this.changed();
  }
  dismissRuntimeMessage() {
    this.runtimeMessage = null;
    this.changed();
  }

  // ---- local edits ----

  cell(id: string): CellModel | undefined {
    return this.cells.find((c) => c.id === id);
  }
  index(id: string): number {
    return this.cells.findIndex((c) => c.id === id);
  }

  /** The person typed: keep the text, send it after a short pause. */
  setLocalSource(id: string, source: string) {
    const cell = this.cell(id);
    if (!cell || cell.source === source) return;
    this.updateCell(id, (c) => ({ ...c, source }));
    this.dirty.add(id);
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      window.setTimeout(() => {
        this.timers.delete(id);
        this.sendSource(id);
      }, SOURCE_DEBOUNCE_MS),
    );
    this.changed();
  }

  private sendSource(id: string) {
    const cell = this.cell(id);
    if (!cell) return;
    this.send(
      { type: "edit", ops: [{ op: "set_source", cell_id: id, source: cell.source }] },
      { op: "set_source", cell_id: id, source: cell.source },
    );
  }

  flushSource(id: string) {
    const t = this.timers.get(id);
    if (t === undefined) return;
    clearTimeout(t);
    this.timers.delete(id);
    this.sendSource(id);
  }

  flushSources() {
    for (const id of [...this.timers.keys()]) this.flushSource(id);
  }

  /** Resolves once every edit of this tab was acknowledged (or after a few seconds). */
  whenSaved(timeoutMs = 5000): Promise<void> {
    this.flushSources();
    return new Promise((resolve) => {
      const start = Date.now();
      const check = () => {
        if ((this.inflight.length === 0 && this.outbox.length === 0) || Date.now() - start > timeoutMs) resolve();
        else window.setTimeout(check, 30);
      };
      check();
    });
  }

  insert(index: number, cellType: CellType = "code", source = ""): Promise<string> {
    this.flushSources();
    return new Promise((resolve, reject) => {
      const i = Math.max(0, Math.min(index, this.cells.length));
      this.send({ type: "edit", ops: [{ op: "insert", index: i, cell_type: cellType, source }] }, {
        op: "insert",
        resolve,
        reject,
      });
      this.changed();
    });
  }

  remove(id: string) {
    const st = this.states[id]?.state;
    if (st === "running" || st === "queued") {
      this.toast("That cell is queued or running; cancel or interrupt it first.");
      return;
    }
    const i = this.index(id);
    if (i < 0) return;
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    this.dirty.delete(id);
    this.cells = this.cells.filter((c) => c.id !== id);
    this.send({ type: "edit", ops: [{ op: "delete", cell_id: id }] }, { op: "delete", cell_id: id });
    if (this.focusedId === id) {
      const next = this.cells[Math.min(i, this.cells.length - 1)];
      this.focusedId = next?.id ?? null;
    }
    this.changed();
  }

  move(id: string, delta: number) {
    const i = this.index(id);
    const j = i + delta;
    if (i < 0 || j < 0 || j >= this.cells.length) return;
    this.moveLocal(id, j);
    this.send({ type: "edit", ops: [{ op: "move", cell_id: id, index: j }] }, { op: "move", cell_id: id });
    this.changed();
  }

  setType(id: string, cellType: CellType) {
    const cell = this.cell(id);
    if (!cell || cell.cell_type === cellType) return;
    this.flushSource(id);
    this.updateCell(id, (c) => ({ ...c, cell_type: cellType, outputs: [], execution_count: null }));
    this.send({ type: "edit", ops: [{ op: "set_type", cell_id: id, cell_type: cellType }] }, {
      op: "set_type",
      cell_id: id,
    });
    this.changed();
  }

  clearOutputs(id: string) {
    this.updateCell(id, (c) => ({ ...c, outputs: [], execution_count: null }));
    this.outQueue.delete(id);
    this.send({ type: "edit", ops: [{ op: "clear_outputs", cell_id: id }] }, {
      op: "clear_outputs",
      cell_id: id,
    });
    this.changed();
  }

  /** Set keys of a cell's metadata (null removes one), e.g. Colab's cellView for forms. */
  setMetadata(id: string, patch: Record<string, unknown>) {
    this.updateCell(id, (c) => ({ ...c, metadata: patchMetadata(c.metadata, patch) }));
    this.send({ type: "edit", ops: [{ op: "set_metadata", cell_id: id, metadata: patch }] }, {
      op: "set_metadata",
      cell_id: id,
    });
    this.changed();
  }

  clearAllOutputs() {
    for (const c of this.cells) if (c.cell_type === "code" && (c.outputs.length || c.execution_count)) this.clearOutputs(c.id);
  }

  async duplicate(id: string): Promise<string | undefined> {
    const cell = this.cell(id);
    if (!cell) return;
    return this.insert(this.index(id) + 1, cell.cell_type, cell.source);
  }

  // ---- running ----

  /** Run one code cell: its latest text goes first, then execute with that text's hash. */
  execute(id: string) {
    const cell = this.cell(id);
    if (!cell || cell.cell_type !== "code") return;
    this.flushSource(id);
    const source = cell.source;
    this.sendChain = this.sendChain.then(async () => {
      const hash = await sha256Hex(source);
      this.send({ type: "execute", cell_id: id, ...(hash ? { source_hash: hash } : {}) });
    });
  }

  /** Restart the kernel through `call` (the REST request). Cells run meanwhile are sent once it
   * has answered, so they run in the new kernel, not in the old one as it is stopped. */
  restartThen(call: () => Promise<unknown>): Promise<void> {
    const done = this.sendChain.then(async () => {
      await call();
    });
    this.sendChain = done.catch(() => undefined);
    return done;
  }

  interrupt() {
    this.send({ type: "interrupt" });
  }

  cancel(ids?: string[]) {
    this.send({ type: "cancel", ...(ids ? { cell_ids: ids } : {}) });
  }

  replyInput(value: string) {
    this.send({ type: "input_reply", value });
  }

  // ---- focus (page-level UI state shared with the side panel) ----

  setFocused(id: string | null) {
    if (this.focusedId === id) return;
    this.focusedId = id;
    if (this.editingId && this.editingId !== id) this.editingId = null;
    this.changed();
  }

  setEditing(id: string | null) {
    this.editingId = id;
    if (id) this.focusedId = id;
    this.changed();
  }

  /** Put the cursor in a cell's editor (a markdown cell switches to editing first). */
  focusCell(id: string, from?: number, to?: number) {
    const cell = this.cell(id);
    if (!cell) return;
    this.focusedId = id;
    if (cell.cell_type !== "code" && this.editingId !== id) {
      this.editingId = id;
      this.pendingFocus.set(id, [from, to]);
      this.changed();
      return;
    }
    const ed = this.editors.get(id);
    if (ed) ed.focus(from, to);
    else this.pendingFocus.set(id, [from, to]);
    this.changed();
  }

  /** Whether a cell waits for its editor to take the cursor (so a lazy editor must mount). */
  wantsFocus(id: string): boolean {
    return this.pendingFocus.has(id);
  }

  /** The cell is about to get a new editor (its type changed): that editor takes the cursor,
   * at the end of the text, as soon as it is made. Keys typed until then go to the old one. */
  focusNextEditor(id: string) {
    const cell = this.cell(id);
    if (!cell) return;
    this.focusedId = id;
    if (cell.cell_type !== "code") this.editingId = id;
    this.editors.delete(id);
    this.pendingFocus.set(id, [Number.MAX_SAFE_INTEGER, undefined]);
    this.changed();
  }

  registerEditor(id: string, api: EditorApi): () => void {
    this.editors.set(id, api);
    const pending = this.pendingFocus.get(id);
    if (pending) {
      this.pendingFocus.delete(id);
      queueMicrotask(() => api.focus(pending[0], pending[1]));
    }
    return () => {
      if (this.editors.get(id) === api) this.editors.delete(id);
    };
  }

  busy(): boolean {
    return Object.values(this.states).some((s) => s.state === "running");
  }
}
