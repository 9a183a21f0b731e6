// Modal dialogs on the native <dialog> element: focus stays inside, Escape closes, and a refusal
// from the server shows its sentence inside the dialog, which stays open to try again.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { errorText } from "./format";

type DialogProps = {
  title: string;
  onClose: () => void;
  children?: ComponentChildren;
  /** When given, the dialog is a form: Enter submits, errors show inside. */
  onSubmit?: () => Promise<void> | void;
  submitLabel?: string;
  danger?: boolean;
  canSubmit?: boolean;
};

export function Dialog({ title, onClose, children, onSubmit, submitLabel = "OK", danger,
                         canSubmit = true }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");

  useEffect(() => {
    const el = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    if (!el.open) el.showModal();
    return () => {
      if (el.open) el.close();
      opener?.focus?.();
    };
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    if (!onSubmit || busy) return;
    setBusy(true);
    setError("");
    try {
      await onSubmit();
      onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  return (
    <dialog ref={ref} class="dialog" aria-labelledby={titleId}
      onCancel={(e) => { e.preventDefault(); onClose(); }}
      onClick={(e) => { if (e.target === ref.current) onClose(); }}>
      <form onSubmit={submit} class="dialog-body">
        <h2 id={titleId}>{title}</h2>
        {children}
        {error && <p class="form-error" role="alert">{error}</p>}
        <div class="dialog-actions">
          <button type="button" class="btn" onClick={onClose}>Cancel</button>
          {onSubmit && (
            <button type="submit" class={`btn ${danger ? "btn-danger" : "btn-primary"}`}
              disabled={busy || !canSubmit} aria-busy={busy}>
              {submitLabel}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}

type PromptProps = {
  title: string;
  label: string;
  initial?: string;
  submitLabel?: string;
  /** Characters of `initial` to select at first (e.g. the name without its extension). */
  selectTo?: number;
  hint?: string;
  suggestions?: string[];
  onSubmit: (value: string) => Promise<void> | void;
  onClose: () => void;
};

/** Asks for one line of text. */
export function PromptDialog({ title, label, initial = "", submitLabel = "OK", selectTo, hint,
                               suggestions, onSubmit, onClose }: PromptProps) {
  const [value, setValue] = useState(initial);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();
  const listId = useId();

  useEffect(() => {
    const el = input.current!;
    el.focus();
    el.setSelectionRange(0, selectTo ?? initial.length);
  }, []);

  return (
    <Dialog title={title} onClose={onClose} submitLabel={submitLabel}
      canSubmit={value.trim() !== "" || suggestions !== undefined}
      onSubmit={() => onSubmit(value.trim())}>
      <label for={id} class="field-label">{label}</label>
      <input id={id} ref={input} class="field" value={value} autocomplete="off" spellcheck={false}
        list={suggestions ? listId : undefined}
        onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      {suggestions && (
        <datalist id={listId}>
          {suggestions.map((s) => <option key={s} value={s} />)}
        </datalist>
      )}
      {hint && <p class="field-hint">{hint}</p>}
    </Dialog>
  );
}

type ConfirmProps = {
  title: string;
  message: ComponentChildren;
  submitLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<void> | void;
  onClose: () => void;
};

export function ConfirmDialog({ title, message, submitLabel, danger, onConfirm, onClose }: ConfirmProps) {
  return (
    <Dialog title={title} onClose={onClose} submitLabel={submitLabel} danger={danger} onSubmit={onConfirm}>
      <p class="dialog-message">{message}</p>
    </Dialog>
  );
}
