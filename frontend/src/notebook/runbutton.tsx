// A code cell's run button in Colab's states: idle (play), queued (dashed ring with its place in
// the queue), running (spinning ring; click interrupts), and the execution count after a run.
import { useEffect, useState } from "preact/hooks";
import type { CellState } from "./store";

export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${Math.round(s % 60)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

function useNow(active: boolean, every = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), every);
    return () => clearInterval(t);
  }, [active, every]);
  return now;
}

type Props = {
  state: CellState | undefined;
  count: number | null;
  started?: string;
  finished?: string;
  onRun(): void;
  onStop(): void;
};

export function RunButton({ state, count, started, finished, onRun, onStop }: Props) {
  const st = state?.state ?? "idle";
  const running = st === "running";
  const now = useNow(running || !!finished, running ? 1000 : 15000);
  const startMs = started ? Date.parse(started) : NaN;
  const endMs = finished ? Date.parse(finished) : NaN;
  const elapsed = running && !isNaN(startMs) ? formatDuration(Math.max(0, now - startMs)) : null;
  let label: string;
  let title: string;
  if (st === "running") {
    label = "Interrupt execution (running)";
    title = `Running${elapsed ? ` for ${elapsed}` : ""} — click to interrupt`;
  } else if (st === "queued") {
    label = `Cancel (queued, position ${state?.position ?? "?"})`;
    title = `Queued (${state?.position ?? "?"} in line) — click to cancel`;
  } else {
    label = "Run cell";
    title = "Run cell (Ctrl+Enter)";
  }
  const ran =
    st === "idle" && !isNaN(startMs) && !isNaN(endMs) && endMs >= startMs
      ? { ago: formatAgo(now - endMs), took: formatDuration(endMs - startMs) }
      : null;
  if (ran) title += ` · last ran ${ran.ago}, took ${ran.took}`;
  const failed = st === "idle" && state?.last_status === "error";
  return (
    <div class="run-col">
      <button
        type="button"
        class={`run-btn ${st}`}
        data-state={st}
        data-position={st === "queued" ? state?.position ?? undefined : undefined}
        aria-label={label}
        title={title}
        onClick={(e) => {
          e.stopPropagation();
          if (st === "idle") onRun();
          else onStop();
        }}
      >
        <svg viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
          {st === "idle" && (
            <>
              <circle cx="16" cy="16" r="14" class="run-disc" />
              <path d="M13 10.5v11l9-5.5z" class="run-glyph" />
            </>
          )}
          {st === "queued" && (
            <>
              <circle cx="16" cy="16" r="13" class="run-ring dashed" />
              <text x="16" y="20.5" text-anchor="middle" class="run-pos">
                {state?.position ?? ""}
              </text>
            </>
          )}
          {st === "running" && (
            <>
              <circle cx="16" cy="16" r="13" class="run-ring spin" />
              <rect x="12" y="12" width="8" height="8" rx="1" class="run-glyph" />
            </>
          )}
        </svg>
      </button>
      <span class={`exec-count${failed ? " failed" : ""}`} aria-label="Execution count">
        {running ? elapsed ?? "" : count != null ? `[${count}]` : st === "queued" ? "" : "[ ]"}
      </span>
      {ran && (
        <span class="ran-info" title={`Last ran ${ran.ago}, took ${ran.took}`}>
          {ran.took}
        </span>
      )}
    </div>
  );
}
