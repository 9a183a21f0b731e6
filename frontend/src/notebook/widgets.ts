// The page's side of Jupyter widgets: the models' state (from the notebook's snapshot and the
// kernel's comm messages, relayed by the server) and the go-between for the output frames that
// show widgets (widgets/frame.ts runs in each, sandboxed, in an opaque origin).
//
// A frame asks for the models it shows, one at a time, as it needs them; every comm message is
// passed on to every widget frame (each ignores the models it has not loaded); a widget's change
// goes from its frame to the server, which sends it to the kernel. Only JSON crosses.

type Msg = Record<string, any>;

export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

export type WidgetModelState = {
  model_name: string;
  model_module: string;
  model_module_version: string;
  state: Record<string, unknown>;
  buffers?: { path: (string | number)[]; encoding: string; data: string }[];
  live: boolean;
};

type Path = (string | number)[];

function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** Widget frames of this page: their windows are the only ones whose widget messages count. */
function widgetFrames(): Window[] {
  const wins: Window[] = [];
  for (const frame of document.querySelectorAll<HTMLIFrameElement>("iframe[data-widget]")) {
    if (frame.contentWindow) wins.push(frame.contentWindow);
  }
  return wins;
}

export class WidgetHub {
  private models = new Map<string, WidgetModelState>();
  private sent = new Map<string, Window>();
  private warned = false;

  constructor(private send: (msg: Msg) => void, private toast: (text: string) => void) {
    window.addEventListener("message", this.onFrameMessage);
  }

  close() {
    window.removeEventListener("message", this.onFrameMessage);
  }

  has(modelId: string): boolean {
    return this.models.has(modelId);
  }

  /** The models as a snapshot of the notebook holds them (on every (re)connection). */
  reset(widgets: Record<string, WidgetModelState> | undefined) {
    this.models = new Map(Object.entries(widgets ?? {}));
    this.sent.clear();
    // frames of an earlier connection hold models that may have changed meanwhile: redrawn
    for (const win of widgetFrames()) win.postMessage({ dikte: "widgets-reset" }, "*");
  }

  handle(msg: Msg) {
    switch (msg.type) {
      case "comm_open": {
        this.warned = false;
        const data = msg.data ?? {};
        const state = { ...(data.state ?? {}) } as Record<string, unknown>;
        this.models.set(msg.comm_id, {
          model_name: String(state._model_name ?? ""),
          model_module: String(state._model_module ?? ""),
          model_module_version: String(state._model_module_version ?? ""),
          state,
          buffers: this.buffers(data.buffer_paths, msg.buffers),
          live: true,
        });
        break;
      }
      case "comm_msg": {
        const model = this.models.get(msg.comm_id);
        const data = msg.data ?? {};
        if (model && (data.method === "update" || data.method === "echo_update")) {
          const update = (data.state ?? {}) as Record<string, unknown>;
          const kept = (model.buffers ?? []).filter((b) => !(String(b.path[0]) in update));
          this.models.set(msg.comm_id, {
            ...model,
            state: { ...model.state, ...update },
            buffers: [...kept, ...this.buffers(data.buffer_paths, msg.buffers)],
          });
        }
        break;
      }
      case "comm_close":
        this.models.delete(msg.comm_id);
        break;
      case "widgets_gone":
        for (const [id, model] of this.models) this.models.set(id, { ...model, live: false });
        for (const win of widgetFrames()) win.postMessage({ dikte: "widgets-gone" }, "*");
        this.sent.clear();
        return;
      case "comm_idle": {
        const win = this.sent.get(msg.msg_id);
        this.sent.delete(msg.msg_id);
        win?.postMessage({ dikte: "comm-idle", msg_id: msg.msg_id }, "*");
        return;
      }
    }
    for (const win of widgetFrames()) win.postMessage({ dikte: "comm", msg }, "*");
  }

  private buffers(paths: unknown, buffers: unknown): { path: Path; encoding: string; data: string }[] {
    if (!Array.isArray(paths) || !Array.isArray(buffers)) return [];
    const out = new Map<string, { path: Path; encoding: string; data: string }>();
    paths.forEach((path, i) => {
      if (Array.isArray(path) && typeof buffers[i] === "string") {
        out.set(pathKey(path), { path, encoding: "base64", data: buffers[i] });
      }
    });
    return [...out.values()];
  }

  private onFrameMessage = (e: MessageEvent) => {
    const d = e.data;
    if (!d || typeof d !== "object" || typeof d.dikte !== "string") return;
    if (d.dikte !== "widget-state" && d.dikte !== "comm-send") return;
    const win = widgetFrames().find((w) => w === e.source);
    if (!win) return; // only frames this page made to show widgets
    if (d.dikte === "widget-state") {
      const model = typeof d.model_id === "string" ? this.models.get(d.model_id) ?? null : null;
      win.postMessage({ dikte: "widget-state-reply", id: d.id, model }, "*");
      return;
    }
    const model = typeof d.comm_id === "string" ? this.models.get(d.comm_id) : undefined;
    const msgId = typeof d.msg_id === "string" ? d.msg_id.slice(0, 100) : "";
    if (!model?.live || !msgId || !d.data || typeof d.data !== "object") {
      win.postMessage({ dikte: "comm-idle", msg_id: msgId }, "*");
      if (!this.warned) {
        this.warned = true;
        this.toast("This widget is no longer connected to the runtime; run its cell again to use it.");
      }
      return;
    }
    const buffers = Array.isArray(d.buffers) ? d.buffers.filter((b: unknown) => typeof b === "string") : [];
    this.sent.set(msgId, win);
    this.send({ type: "comm_msg", msg_id: msgId, comm_id: d.comm_id, data: d.data, buffers });
  };
}
