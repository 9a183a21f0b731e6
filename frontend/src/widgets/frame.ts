// The widget manager of one sandboxed output frame (built on its own into
// static/assets/widget-manager.js and loaded only by frames that show a widget).
//
// Jupyter widgets render here with their own classes (@jupyter-widgets/base and controls), in the
// frame's opaque origin: they never touch the app's page, cookies or API. The page
// (notebook/widgets.ts) holds every model's state and relays the kernel's comm messages; this
// frame asks it for the models it shows, as it needs them, and sends the widgets' changes back
// through it. Only JSON crosses, by postMessage; binary buffers travel as base64.
import * as base from "@jupyter-widgets/base";
import { ManagerBase } from "@jupyter-widgets/base-manager";
import * as controls from "@jupyter-widgets/controls";
import { Widget } from "@lumino/widgets";
import baseCss from "@jupyter-widgets/base/css/index.css?inline";
import controlsCss from "@jupyter-widgets/controls/css/widgets.css?inline";
import { AnyModel, AnyView } from "./anywidget";
import { OutputModel, OutputView } from "./output";
import type { WidgetModelState } from "../notebook/widgets";

type Msg = Record<string, any>;
type Serialised = WidgetModelState; // what the page hands over for one model

function post(msg: Msg): void {
  parent.postMessage(msg, "*");
}

function toBase64(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function fromBase64(text: string): DataView {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new DataView(bytes.buffer);
}

let nextId = 1;
const comms = new Map<string, FrameComm>();
const waiting = new Map<string, base.ICallbacks>();

/** A model's comm, through the page to the server to the kernel. */
class FrameComm implements base.IClassicComm {
  target_name = "jupyter.widget";
  live = true;
  private onMsg: ((msg: Msg) => void) | null = null;
  private onClose: ((msg: Msg) => void) | null = null;
  private early: Msg[] = [];

  constructor(readonly comm_id: string) {
    comms.set(comm_id, this);
  }

  open(): string {
    throw new Error("Widgets cannot be created from the page.");
  }

  send(data: any, callbacks?: base.ICallbacks, _metadata?: any, buffers?: (ArrayBuffer | ArrayBufferView)[]): string {
    const msg_id = `w${Date.now().toString(36)}-${nextId++}`;
    if (!this.live) {
      // nothing listens any more: let the model stop waiting for an answer
      queueMicrotask(() => callbacks?.iopub?.status?.({ content: { execution_state: "idle" } } as any));
      return msg_id;
    }
    if (callbacks) waiting.set(msg_id, callbacks);
    post({ dikte: "comm-send", msg_id, comm_id: this.comm_id, data, buffers: (buffers ?? []).map(toBase64) });
    return msg_id;
  }

  close(): string {
    return "";
  }

  on_msg(callback: (msg: Msg) => void): void {
    this.onMsg = callback;
    const early = this.early;
    this.early = [];
    for (const m of early) callback(m);
  }

  on_close(callback: (msg: Msg) => void): void {
    this.onClose = callback;
  }

  deliver(msg: Msg): void {
    if (this.onMsg) this.onMsg(msg);
    else this.early.push(msg);
  }

  closed(): void {
    this.live = false;
    comms.delete(this.comm_id);
    this.onClose?.({ content: { comm_id: this.comm_id, data: {} } });
  }
}

const stateAsks = new Map<number, (m: Serialised | null) => void>();

function askState(modelId: string): Promise<Serialised | null> {
  const id = nextId++;
  return new Promise((resolve) => {
    stateAsks.set(id, resolve);
    post({ dikte: "widget-state", id, model_id: modelId });
  });
}

class FrameManager extends ManagerBase {
  private loading = new Map<string, Promise<base.WidgetModel>>();

  protected async loadClass(className: string, moduleName: string, moduleVersion: string): Promise<any> {
    let found: any;
    if (moduleName === "@jupyter-widgets/base") found = (base as any)[className];
    else if (moduleName === "@jupyter-widgets/controls") found = (controls as any)[className];
    else if (moduleName === "@jupyter-widgets/output") found = ({ OutputModel, OutputView } as any)[className];
    else if (moduleName === "anywidget") found = ({ AnyModel, AnyView } as any)[className];
    if (!found) {
      throw new Error(`${moduleName} ${moduleVersion} (${className}) is not a widget library this notebook can show.`);
    }
    return found;
  }

  protected async _create_comm(_target: string, model_id?: string, data?: any): Promise<base.IClassicComm> {
    if (data !== undefined || !model_id) throw new Error("Widgets cannot be created from the page.");
    return comms.get(model_id) ?? new FrameComm(model_id);
  }

  protected async _get_comm_info(): Promise<{}> {
    return {};
  }

  /** A model this frame has not loaded yet comes from the page, the models it refers to after it. */
  async get_model(model_id: string): Promise<base.WidgetModel> {
    if (this.has_model(model_id)) return super.get_model(model_id);
    let pending = this.loading.get(model_id);
    if (!pending) {
      pending = this.load(model_id);
      this.loading.set(model_id, pending);
    }
    return pending;
  }

  private async load(model_id: string): Promise<base.WidgetModel> {
    const found = await askState(model_id);
    if (this.has_model(model_id)) return super.get_model(model_id);
    if (!found) throw new Error(`The widget ${model_id} is not in this notebook any more; run its cell again.`);
    const state: any = { ...found.state };
    const buffers = found.buffers ?? [];
    base.put_buffers(state, buffers.map((b) => b.path), buffers.map((b) => fromBase64(b.data)));
    return this.new_model({
      model_id,
      model_name: found.model_name,
      model_module: found.model_module,
      model_module_version: found.model_module_version,
      comm: found.live ? (comms.get(model_id) ?? new FrameComm(model_id)) : undefined,
    }, state);
  }
}

const manager = new FrameManager();

addEventListener("message", (e: MessageEvent) => {
  if (e.source !== parent || !e.data || typeof e.data !== "object") return;
  const d = e.data as Msg;
  if (d.dikte === "widget-state-reply") {
    const resolve = stateAsks.get(d.id);
    stateAsks.delete(d.id);
    resolve?.(d.model ?? null);
  } else if (d.dikte === "comm") {
    const m = d.msg as Msg;
    const comm = comms.get(m.comm_id);
    if (!comm) return;
    if (m.type === "comm_close") comm.closed();
    else if (m.type === "comm_msg") {
      comm.deliver({
        content: { comm_id: m.comm_id, data: m.data },
        buffers: (m.buffers ?? []).map(fromBase64),
        parent_header: m.parent ? { msg_id: m.parent } : {},
        metadata: {},
      });
    }
  } else if (d.dikte === "comm-idle") {
    const callbacks = waiting.get(d.msg_id);
    waiting.delete(d.msg_id);
    callbacks?.iopub?.status?.({ content: { execution_state: "idle" } } as any);
  } else if (d.dikte === "widgets-reset") {
    location.reload(); // this page's srcdoc again: every model from the page's fresh state
  } else if (d.dikte === "widgets-gone") {
    for (const comm of [...comms.values()]) comm.closed();
    for (const [id, callbacks] of [...waiting]) {
      waiting.delete(id);
      callbacks.iopub?.status?.({ content: { execution_state: "idle" } } as any);
    }
  }
});

const DARK = `@media (prefers-color-scheme:dark){:root{
--jp-layout-color0:#0d1117;--jp-layout-color1:#0d1117;--jp-layout-color2:#161b22;--jp-layout-color3:#30363d;
--jp-ui-font-color0:#ffffff;--jp-ui-font-color1:#e6edf3;--jp-ui-font-color2:#8d96a0;--jp-ui-font-color3:#6e7681;
--jp-content-font-color1:#e6edf3;--jp-border-color1:#30363d;--jp-border-color2:#30363d;
--jp-widgets-input-color:#e6edf3;--jp-widgets-input-background-color:#0d1117;--jp-widgets-input-border-color:#30363d;
--jp-widgets-slider-handle-background-color:#0d1117;--jp-widgets-slider-handle-border-color:#8d96a0;
--jp-widgets-slider-active-handle-color:#4493f8;--jp-widgets-label-color:#e6edf3;--jp-widgets-readout-color:#e6edf3}}`;

function addStyles(): void {
  const style = document.createElement("style");
  style.textContent = `${baseCss}\n${controlsCss}\n${DARK}\n.dikte-widget-fallback{margin:0;white-space:pre-wrap;font:13px ui-monospace,monospace}
.dikte-widget-note{font:12px system-ui,sans-serif;color:var(--muted,#656d76)}`;
  document.head.appendChild(style);
}

async function show(el: HTMLElement): Promise<void> {
  const modelId = el.dataset.modelId ?? "";
  try {
    const model = await manager.get_model(modelId);
    const view = await manager.create_view(model);
    Widget.attach(view.luminoWidget, el);
  } catch (err) {
    // as JupyterLab does: the text the kernel gave for it, and why the widget is not there
    const pre = document.createElement("pre");
    pre.className = "dikte-widget-fallback";
    pre.textContent = el.dataset.fallback ?? "";
    const note = document.createElement("div");
    note.className = "dikte-widget-note";
    note.textContent = err instanceof Error ? err.message : String(err);
    el.replaceChildren(pre, note);
  }
}

addStyles();
document.body.classList.add("jp-Notebook"); // where the widgets' stylesheet scopes some rules
for (const el of document.querySelectorAll<HTMLElement>("[data-model-id]")) void show(el);
