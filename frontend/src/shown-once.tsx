// A secret shown only once (a new token, an invitation link): a card to copy it from.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { CopyIcon } from "./icons";

export function ShownOnce(p: {
  id: string;
  title: ComponentChildren;
  value: string;
  label: string;
  onDone: () => void;
  children: ComponentChildren;
}) {
  const [copied, setCopied] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(p.value);
      setCopied("Copied.");
    } catch {
      (document.getElementById(p.id) as HTMLInputElement | null)?.select();
      setCopied("Press Ctrl+C to copy.");
    }
  }
  return (
    <section class="card card-ok" aria-labelledby={`${p.id}-head`}>
      <h2 id={`${p.id}-head`}>{p.title}</h2>
      {p.children}
      <div class="secret">
        <input id={p.id} class="field mono" readOnly value={p.value} aria-label={p.label}
          onFocus={(e) => (e.target as HTMLInputElement).select()} />
        <button type="button" class="btn" onClick={() => void copy()}><CopyIcon /><span>Copy</span></button>
        <button type="button" class="btn btn-quiet" onClick={p.onDone}>Done</button>
      </div>
      {copied && <p class="field-hint" role="status">{copied}</p>}
    </section>
  );
}
