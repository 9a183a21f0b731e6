// Applying the notebook WebSocket's output deltas (docs/api.md, `output` messages) to a cell's
// outputs. Pure: returns a new array, and a new object for the output that changed, so Preact
// re-renders exactly what moved.
import type { Output, OutputChange } from "./handle";

export function applyChange(outputs: Output[], change: OutputChange): Output[] {
  switch (change.kind) {
    case "clear":
      return outputs.length ? [] : outputs;
    case "append":
    case "replace": {
      const next = outputs.slice();
      // The server sends append with index == outputs.length; a later index would leave holes.
      next[Math.min(change.index, next.length)] = change.output;
      return next;
    }
    case "text_tail": {
      const old = outputs[change.index];
      if (!old) return outputs; // out of step: the next full view resynchronises
      const next = outputs.slice();
      next[change.index] = { ...old, text: (old.text ?? "").slice(0, change.keep) + change.text };
      return next;
    }
  }
}
