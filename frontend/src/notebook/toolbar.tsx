// The notebook page's header: editable title, save state, cell buttons, the runtime menu and
// the runtime's status with RAM and disk meters.
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { post } from "../api";
import { href, navigate } from "../router";
import { disconnect } from "./actions";
import type { Command } from "./handle";
import { downloadCommands } from "./download";
import type { NotebookStore } from "./store";
import { Icon } from "./icons";
import { Logo } from "../icons";

function basename(path: string) {
  return path.split("/").pop() ?? path;
}
function dirname(path: string) {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function Title({ store }: { store: NotebookStore }) {
  const name = basename(store.path);
  const [value, setValue] = useState(name);
  useEffect(() => setValue(name), [name]);
  const commit = async () => {
    let next = value.trim();
    if (!next || next === name) {
      setValue(name);
      return;
    }
    if (next.includes("/")) {
      store.toast("A notebook name cannot contain '/'.");
      setValue(name);
      return;
    }
    if (!next.endsWith(".ipynb")) next += ".ipynb";
    const dir = dirname(store.path);
    const dst = dir ? `${dir}/${next}` : next;
    try {
      await store.whenSaved();
      await post("/api/drive/rename", { src: store.path, dst });
      store.path = dst;
      navigate({ page: "notebook", path: dst });
    } catch (e) {
      store.toast((e as Error).message);
      setValue(name);
    }
  };
  return (
    <input
      class="nb-title"
      aria-label="Notebook name"
      value={value}
      size={Math.max(8, value.length)}
      spellcheck={false}
      onInput={(e) => setValue(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e) => {
        if (e.key === "Enter") e.currentTarget.blur();
        if (e.key === "Escape") {
          setValue(name);
          e.currentTarget.blur();
        }
      }}
    />
  );
}

function SaveState({ store }: { store: NotebookStore }) {
  if (store.conn === "reconnecting" || store.conn === "connecting") {
    return (
      <span class="save-state warn" role="status">
        {store.loaded ? "Reconnecting…" : "Connecting…"}
      </span>
    );
  }
  if (store.saving) return <span class="save-state" role="status">Saving…</span>;
  const at = store.savedAt;
  return (
    <span class="save-state" role="status" title={at ? `Last change acknowledged at ${at.toLocaleTimeString()}` : undefined}>
      All changes saved{at ? ` · ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : ""}
    </span>
  );
}

export function Menu({ label, items, children }: { label: string; items: Command[]; children: ComponentChildren }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (!root.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", onDown);
    root.current?.querySelector<HTMLElement>("[role=menuitem]")?.focus();
    return () => document.removeEventListener("mousedown", onDown);
  }, [open]);
  const onKey = (e: KeyboardEvent) => {
    const items = [...(root.current?.querySelectorAll<HTMLElement>("[role=menuitem]") ?? [])];
    const i = items.indexOf(document.activeElement as HTMLElement);
    if (e.key === "Escape") {
      setOpen(false);
      root.current?.querySelector<HTMLElement>("button")?.focus();
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      items[(i + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length]?.focus();
    }
  };
  return (
    <div class="menu" ref={root} onKeyDown={onKey}>
      <button type="button" class="btn ghost" aria-haspopup="menu" aria-expanded={open} aria-label={label} onClick={() => setOpen(!open)}>
        {children}
      </button>
      {open && (
        <div class="menu-list" role="menu" aria-label={label}>
          {items.map((c) => (
            <button
              type="button"
              role="menuitem"
              key={c.id}
              onClick={() => {
                setOpen(false);
                c.run();
              }}
            >
              <span>{c.title}</span>
              {c.shortcut && <kbd>{c.shortcut}</kbd>}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

function Meter({ label, used, limit }: { label: string; used?: number | null; limit?: number | null }) {
  if (used == null) return null;
  const pct = limit ? Math.min(100, (used / limit) * 100) : 0;
  const text = `${label} ${formatBytes(used)}${limit ? ` of ${formatBytes(limit)}` : ""}`;
  return (
    <span class="meter" title={text}>
      <span class="meter-label">{label}</span>
      <span class={`meter-bar${pct > 85 ? " high" : ""}`} role="meter" aria-label={text} aria-valuenow={Math.round(pct)} aria-valuemin={0} aria-valuemax={100}>
        <span style={{ width: `${pct}%` }} />
      </span>
      <span class="meter-figure">
        {formatBytes(used)}
        {limit ? ` / ${formatBytes(limit)}` : ""}
      </span>
    </span>
  );
}

/** What the runtime uses, in figures: opened from the meters. */
function ResourcePanel({ rt, onClose }: { rt: NonNullable<NotebookStore["runtime"]>; onClose(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  // before the browser paints it (as Modal): an Escape pressed as soon as it shows reaches it
  useLayoutEffect(() => {
    ref.current?.focus();
    const away = (e: PointerEvent) => {
      if (!(e.target as HTMLElement).closest(".rt-resources, .rt-meters")) onClose();
    };
    addEventListener("pointerdown", away, true);
    return () => removeEventListener("pointerdown", away, true);
  }, []);
  const row = (name: string, used?: number | null, limit?: number | null) => (
    <tr>
      <th scope="row">{name}</th>
      <td>
        {used == null ? "not measured yet" : formatBytes(used)}
        {limit ? ` of ${formatBytes(limit)}` : ""}
        {used != null && limit ? ` (${Math.round((used / limit) * 100)}%)` : ""}
      </td>
    </tr>
  );
  return (
    <div
      class="rt-resources"
      role="dialog"
      aria-label="Resources"
      tabIndex={-1}
      ref={ref}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
    >
      <h2>Resources</h2>
      <p class="muted">
        {rt.image} image, {rt.shape ?? "standard"} runtime{rt.node ? ` on ${rt.node}` : ""}
      </p>
      <table>
        <tbody>
          {row("System RAM", rt.memory_bytes, rt.memory_limit)}
          {row("Disk", rt.disk_bytes, rt.disk_limit)}
          {(rt.accelerators ?? []).map((a) => (
            <tr key={a.id}>
              <th scope="row">{a.model || a.type}</th>
              <td>
                {a.memory_used != null ? `${formatBytes(a.memory_used)}${a.memory_total ? ` of ${formatBytes(a.memory_total)}` : ""} GPU RAM` : "GPU RAM not measured yet"}
                {a.utilization != null ? `, ${a.utilization}% busy` : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!(rt.accelerators ?? []).length && <p class="muted">No GPU: change the runtime type to ask for one.</p>}
    </div>
  );
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th";
  return `${n}${suffix}`;
}

type AcceleratorUse = { id: string; type: string; model: string; memory_total?: number | null; memory_used?: number | null; utilization?: number | null };

function Accelerator({ a }: { a: AcceleratorUse }) {
  const util = a.utilization == null ? "" : ` ${a.utilization}%`;
  return (
    <span class="accel" title={`${a.model || a.type}${util ? ` —${util} busy` : ""}`}>
      <span class="meter-label">{a.type}{util}</span>
      {a.memory_used != null && <Meter label="GPU RAM" used={a.memory_used} limit={a.memory_total} />}
    </span>
  );
}

function RuntimeStatus({ store, onConnect }: { store: NotebookStore; onConnect(): void }) {
  const [resources, setResources] = useState(false);
  const s = store.runtimeStatus;
  const rt = store.runtime;
  if (s === "connected" && rt) {
    const busy = store.busy();
    return (
      <div class={`rt-status connected${busy ? " busy" : ""}`} data-status={busy ? "busy" : "connected"} role="status" aria-label={busy ? "Runtime busy" : "Runtime connected"} title={`Connected to ${rt.image}${busy ? " — busy" : ""}`}>
        <span class="rt-dot" aria-hidden="true" />
        <span class="rt-text">{busy ? "Busy" : "Connected"}</span>
        <button
          type="button"
          class="rt-meters"
          aria-label="Resources: RAM, disk and GPU use"
          aria-haspopup="dialog"
          aria-expanded={resources}
          onClick={() => setResources(!resources)}
        >
          <Meter label="RAM" used={rt.memory_bytes} limit={rt.memory_limit} />
          <Meter label="Disk" used={rt.disk_bytes} limit={rt.disk_limit} />
          {(rt.accelerators ?? []).map((a) => (
            <Accelerator key={a.id} a={a} />
          ))}
        </button>
        {resources && <ResourcePanel rt={rt} onClose={() => setResources(false)} />}
      </div>
    );
  }
  if (s === "queued" && rt) {
    const place = rt.queue_position ?? 1;
    return (
      <div class="rt-status starting queued" data-status="queued" role="status">
        <span class="spinner" aria-hidden="true" />
        <span>
          Waiting for {rt.waiting_for ?? rt.shape}: {place === 1 ? "next in line" : `${ordinal(place)} in line`}
        </span>
        <button type="button" class="btn small" onClick={() => void disconnect(store)}>
          Leave the queue
        </button>
      </div>
    );
  }
  if (s === "starting" || s === "restarting") {
    return (
      <div class="rt-status starting" data-status={s} role="status">
        <span class="spinner" aria-hidden="true" />
        {s === "starting" ? "Connecting…" : "Restarting…"}
      </div>
    );
  }
  return (
    <button type="button" class="btn connect" data-status={s} onClick={onConnect} aria-label="Connect to a runtime" title={store.runtimeMessage ?? "Connect to a runtime"}>
      <Icon name="check" size={16} />
      {s === "disconnected" ? "Reconnect" : "Connect"}
    </button>
  );
}

export function Header(p: {
  store: NotebookStore;
  /** The menu bar: File, Edit, View, Insert, Runtime, Tools, Help. */
  menus: [string, Command[]][];
  onConnect(): void;
  onAdd(type: "code" | "markdown"): void;
  onRunAll(): void;
  onShortcuts(): void;
  onToggleSide(): void;
  sideOpen: boolean;
}) {
  const { store } = p;
  const folder = dirname(store.path);
  return (
    <header class="nb-header">
      <div class="nb-titlebar">
        <button type="button" class="btn icon" aria-label={p.sideOpen ? "Hide side panel" : "Show side panel"} aria-expanded={p.sideOpen} onClick={p.onToggleSide}>
          <Icon name="menu" size={20} />
        </button>
        <a class="brand" href={href({ page: "drive", path: folder })} title={`Back to ${folder || "My Drive"}`} aria-label="Back to the drive">
          <Logo class="brand-logo" />
        </a>
        <div class="title-wrap">
          <div class="title-line">
            <Title store={store} />
            <SaveState store={store} />
          </div>
          <nav class="nb-menubar" aria-label="Menu bar">
            {p.menus.map(([name, items]) => (
              <Menu key={name} label={name} items={items}>
                {name}
              </Menu>
            ))}
          </nav>
        </div>
        <button type="button" class="btn ghost" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (Ctrl+M H)" onClick={p.onShortcuts}>
          <Icon name="keyboard" />
        </button>
      </div>
      <div class="nb-toolbar" role="toolbar" aria-label="Notebook">
        <button type="button" class="btn ghost" aria-label="Add code cell" onClick={() => p.onAdd("code")}>
          + Code
        </button>
        <button type="button" class="btn ghost" aria-label="Add text cell" onClick={() => p.onAdd("markdown")}>
          + Text
        </button>
        <span class="sep" aria-hidden="true" />
        <button type="button" class="btn ghost" onClick={p.onRunAll} title="Run all (Ctrl+F9)">
          <Icon name="play" size={16} /> Run all
        </button>
        <Menu label="Download" items={downloadCommands(store)}>
          Download <Icon name="caret" size={16} />
        </Menu>
        <span class="spacer" />
        <RuntimeStatus store={store} onConnect={p.onConnect} />
      </div>
    </header>
  );
}
