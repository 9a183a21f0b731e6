// Modal dialogs of the notebook page: keyboard shortcuts and "Change runtime type".
import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { get, type Schemas } from "../api";

let dialogSeq = 0;

export function Modal(p: { title: string; onClose(): void; children: ComponentChildren; wide?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const [titleId] = useState(() => `dlg-${++dialogSeq}`);
  const close = useRef(p.onClose);
  close.current = p.onClose;
  useLayoutEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = box.current?.querySelector<HTMLElement>("input, select, button:not(.dlg-close), [tabindex]");
    (first ?? box.current)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        close.current();
      }
    };
    addEventListener("keydown", onKey, true);
    return () => {
      removeEventListener("keydown", onKey, true);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="dlg-backdrop" onMouseDown={(e) => e.target === e.currentTarget && p.onClose()}>
      <div
        class={`dlg${p.wide ? " wide" : ""}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        tabIndex={-1}
        ref={box}
      >
        <div class="dlg-head">
          <h2 id={titleId}>{p.title}</h2>
          <button type="button" class="dlg-close" aria-label="Close" onClick={p.onClose}>
            ×
          </button>
        </div>
        {p.children}
      </div>
    </div>
  );
}

export const SHORTCUTS: [string, string][] = [
  ["Shift+Enter", "Run cell and select the next one (adds one at the end)"],
  ["Ctrl+Enter", "Run cell in place"],
  ["Alt+Enter", "Run cell and insert a code cell below"],
  ["Enter / double-click", "Edit the selected cell"],
  ["Esc", "Leave the editor (select the cell)"],
  ["↑ / ↓", "Select the previous / next cell"],
  ["Ctrl+M A / B", "Insert a code cell above / below"],
  ["Ctrl+M D", "Delete the selected cell"],
  ["Ctrl+M Y / M", "Turn the cell into code / text"],
  ["Ctrl+M K / J", "Move the cell up / down"],
  ["Ctrl+M I", "Interrupt execution"],
  ["Ctrl+M .", "Restart session"],
  ["Ctrl+F9", "Run all"],
  ["Ctrl+F8 / Ctrl+F10", "Run before / run after the selected cell"],
  ["Ctrl+Shift+P", "Command palette"],
  ["Ctrl+M H", "This list"],
];

export function ShortcutsDialog({ onClose }: { onClose(): void }) {
  return (
    <Modal title="Keyboard shortcuts" onClose={onClose} wide>
      <table class="shortcuts">
        <tbody>
          {SHORTCUTS.map(([k, what]) => (
            <tr key={k}>
              <td>
                <kbd>{k}</kbd>
              </td>
              <td>{what}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}

type Image = Schemas["Image"];
type ShapeOffer = {
  shape: string;
  label: string;
  accelerator?: string | null;
  devices: number;
  free: number;
  waiting: number;
  memory?: number | null;
  allowed: boolean;
  reason?: string | null;
};
type Choice = { image?: string; shape?: string; background?: boolean };

function gib(bytes: number): string {
  const g = bytes / 2 ** 30;
  return `${Number.isInteger(g) ? g : g.toFixed(1)} GiB RAM`;
}

function shapeNote(s: ShapeOffer): string {
  const parts = s.memory ? [gib(s.memory)] : [];
  if (s.accelerator) {
    parts.push(`${s.free} of ${s.devices} free`);
    if (s.waiting) parts.push(`${s.waiting} waiting`);
  }
  return parts.join(" · ");
}

/** "Python 3.11.7 · 591 packages · built 2 Dec 2026", as Colab shows its runtime version. */
function imageFacts(img: Image): string {
  const parts: string[] = [];
  if (img.python_version) parts.push(`Python ${img.python_version}`);
  if (img.packages != null) parts.push(`${img.packages} packages`);
  if (img.built_at) parts.push(`built ${new Date(img.built_at).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })}`);
  return parts.join(" · ");
}

export function RuntimeTypeDialog(p: {
  current: string | null;
  currentShape: string | null;
  onClose(): void;
  onChoose(choice: Choice): void;
}) {
  const [images, setImages] = useState<Image[] | null>(null);
  const [shapes, setShapes] = useState<ShapeOffer[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [choice, setChoice] = useState<string | null>(p.current);
  const [shape, setShape] = useState<string>(p.currentShape ?? "standard");
  const [background, setBackground] = useState(false);
  useEffect(() => {
    get<Image[]>("/api/images").then(
      (list) => {
        setImages(list);
        setChoice((c) => c ?? list.find((i) => i.default && i.built)?.name ?? list.find((i) => i.built)?.name ?? null);
      },
      (e: Error) => setError(e.message),
    );
    get<ShapeOffer[]>("/api/shapes").then(setShapes, (e: Error) => setError(e.message));
  }, []);
  const picked = shapes?.find((s) => s.shape === shape);
  return (
    <Modal title="Change runtime type" onClose={p.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (choice) p.onChoose({ image: choice, shape, ...(background ? { background } : {}) });
        }}
      >
        <fieldset class="image-list">
          <legend>Runtime image</legend>
          {error && <p role="alert" class="error-text">{error}</p>}
          {!images && !error && <p class="muted">Loading…</p>}
          {images?.map((img) => (
            <label key={img.name} class={`image-choice${img.built ? "" : " unavailable"}`} data-image={img.name}>
              <input
                type="radio"
                name="image"
                value={img.name}
                checked={choice === img.name}
                disabled={!img.built}
                onChange={() => setChoice(img.name)}
              />
              <span>
                <strong>{img.name}</strong>
                {img.version && <span class="image-version"> · {img.version}</span>}
                {img.default && <span class="tag">default</span>}
                {p.current === img.name && <span class="tag">current</span>}
                <br />
                <span class="muted">{img.description}</span>
                {img.built && (img.python_version || img.packages != null) && (
                  <>
                    <br />
                    <span class="muted small image-facts">{imageFacts(img)}</span>
                  </>
                )}
                {!img.built && (
                  <>
                    <br />
                    <span class="muted why-not">
                      Not built on this server: an administrator runs <code>{img.build_command ?? `dikte image build ${img.name}`}</code>.
                    </span>
                  </>
                )}
              </span>
            </label>
          ))}
        </fieldset>
        <fieldset class="image-list shape-list">
          <legend>Hardware</legend>
          {!shapes && !error && <p class="muted">Loading…</p>}
          {shapes?.map((s) => (
            <label key={s.shape} class={`image-choice${s.allowed ? "" : " unavailable"}`} data-shape={s.shape}>
              <input
                type="radio"
                name="shape"
                value={s.shape}
                checked={shape === s.shape}
                disabled={!s.allowed}
                onChange={() => setShape(s.shape)}
              />
              <span>
                <strong>{s.accelerator ? `${s.label} GPU` : s.label === "standard" ? "CPU" : `CPU, ${s.label}`}</strong>
                {p.currentShape === s.shape && <span class="tag">current</span>}
                {shapeNote(s) && (
                  <>
                    <br />
                    <span class="muted">{shapeNote(s)}</span>
                  </>
                )}
                {!s.allowed && s.reason && (
                  <>
                    <br />
                    <span class="muted why-not">{s.reason}</span>
                  </>
                )}
              </span>
            </label>
          ))}
          {picked?.accelerator && picked.free === 0 && (
            <p class="muted small">All {picked.label} accelerators are in use: you will wait in line and can leave it at any time.</p>
          )}
        </fieldset>
        <label class="check-line">
          <input type="checkbox" checked={background} onChange={(e) => setBackground((e.target as HTMLInputElement).checked)} />
          Background execution (keeps running with no browser open, where your tier allows it)
        </label>
        <p class="muted small">Changing the runtime type disconnects this notebook's runtime: files in /content and variables are lost.</p>
        <div class="dlg-actions">
          <button type="button" class="btn" onClick={p.onClose}>
            Cancel
          </button>
          <button type="submit" class="btn primary" disabled={!choice || (picked != null && !picked.allowed)}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}
