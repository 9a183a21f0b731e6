// Terminal: a shell in the runtime over a WebSocket. xterm.js is loaded only when this panel
// first opens, so the notebook's main bundle stays small.
import { useEffect, useRef, useState } from "preact/hooks";
import { wsUrl } from "../api";
import type { NotebookHandle } from "../notebook/handle";
import type { Terminal } from "@xterm/xterm";
import type { FitAddon } from "@xterm/addon-fit";

type State = "loading" | "no-runtime" | "connecting" | "open" | "closed";

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

export function TerminalPanel({ nb, active }: { nb: NotebookHandle; active: boolean }) {
  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const sockRef = useRef<WebSocket | null>(null);
  const [state, setState] = useState<State>("loading");
  const [reason, setReason] = useState("");
  const [attempt, setAttempt] = useState(0);
  const [loadError, setLoadError] = useState("");
  const stateRef = useRef<State>(state);
  stateRef.current = state;

  // Load xterm and create the terminal once.
  useEffect(() => {
    let disposed = false;
    let ro: ResizeObserver | null = null;
    Promise.all([import("@xterm/xterm"), import("@xterm/addon-fit"), import("@xterm/xterm/css/xterm.css")])
      .then(([{ Terminal }, { FitAddon }]) => {
        if (disposed || !hostRef.current) return;
        const term = new Terminal({
          cursorBlink: true,
          fontFamily: cssVar("--mono", "monospace"),
          fontSize: 13,
          scrollback: 5000,
          theme: {
            background: cssVar("--code-bg", "#f6f8fa"),
            foreground: cssVar("--fg", "#1f2328"),
            cursor: cssVar("--fg", "#1f2328"),
            selectionBackground: "#1a73e855",
          },
        });
        const fit = new FitAddon();
        term.loadAddon(fit);
        term.open(hostRef.current);
        termRef.current = term;
        fitRef.current = fit;
        const send = (msg: unknown) => {
          const s = sockRef.current;
          if (s && s.readyState === WebSocket.OPEN) s.send(JSON.stringify(msg));
        };
        term.onData((data) => send({ type: "input", data }));
        term.onBinary((data) => send({ type: "input", data }));
        term.onResize(({ cols, rows }) => send({ type: "resize", cols, rows }));
        ro = new ResizeObserver(() => {
          if (hostRef.current && hostRef.current.offsetWidth > 0) {
            try {
              fit.fit();
            } catch {
              /* not laid out yet */
            }
          }
        });
        ro.observe(hostRef.current);
        try {
          fit.fit();
        } catch {
          /* not laid out yet */
        }
        setState("connecting");
        setAttempt((a) => a + 1);
      })
      .catch((e) => !disposed && setLoadError(`The terminal could not load: ${(e as Error).message}`));
    return () => {
      disposed = true;
      ro?.disconnect();
      sockRef.current?.close();
      sockRef.current = null;
      termRef.current?.dispose();
      termRef.current = null;
    };
  }, []);

  // Without a runtime there is no shell: wait for one, then connect by itself.
  useEffect(
    () =>
      nb.subscribe(() => {
        if (nb.runtime()?.status === "connected" && stateRef.current === "no-runtime") {
          stateRef.current = "connecting";
          setAttempt((a) => a + 1);
        }
      }),
    [nb],
  );

  // One WebSocket per attempt (the first, then each Reconnect).
  useEffect(() => {
    const term = termRef.current;
    if (attempt === 0 || !term) return;
    if (nb.runtime()?.status !== "connected") {
      setState("no-runtime");
      return;
    }
    const q = new URLSearchParams({ path: nb.path, cols: String(term.cols), rows: String(term.rows) });
    const sock = new WebSocket(wsUrl(`/api/runtime/terminal?${q}`));
    sock.binaryType = "arraybuffer";
    sockRef.current = sock;
    setState("connecting");
    setReason("");
    sock.onopen = () => {
      setState("open");
      try {
        fitRef.current?.fit();
      } catch {
        /* not laid out yet */
      }
      sock.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
      if (active) term.focus();
    };
    sock.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) term.write(new Uint8Array(ev.data));
      else if (typeof ev.data === "string") {
        // Text frames carry messages from the server (e.g. an error), never pty bytes.
        try {
          const msg = JSON.parse(ev.data);
          const text = msg?.error?.message ?? msg?.message;
          if (text) setReason(String(text));
        } catch {
          term.write(ev.data);
        }
      }
    };
    let opened = false;
    sock.addEventListener("open", () => (opened = true));
    sock.onclose = (ev) => {
      if (sockRef.current !== sock) return;
      sockRef.current = null;
      if (!opened && nb.runtime()?.status !== "connected") return setState("no-runtime");
      setState("closed");
      if (ev.reason) setReason(ev.reason);
      else if (!opened) setReason("the runtime's shell could not be reached");
    };
    return () => {
      sock.onclose = null;
      sock.close();
      if (sockRef.current === sock) sockRef.current = null;
    };
  }, [attempt, nb]);

  // Fit and focus when the panel becomes visible again.
  useEffect(() => {
    if (!active) return;
    requestAnimationFrame(() => {
      try {
        fitRef.current?.fit();
      } catch {
        /* not laid out yet */
      }
      termRef.current?.focus();
    });
  }, [active]);

  const connectCmd = nb.commands().find((c) => /^connect/i.test(c.id) || /^connect\b/i.test(c.title));

  const reconnect = () => {
    termRef.current?.reset();
    setAttempt((a) => a + 1);
  };

  return (
    <div class="sp-terminal">
      {loadError && (
        <p class="sp-status sp-error" role="alert">
          {loadError}
        </p>
      )}
      {state === "loading" && !loadError && <p class="sp-status">Loading the terminal…</p>}
      {state === "connecting" && <p class="sp-status">Connecting…</p>}
      {state === "no-runtime" && (
        <div class="sp-term-closed" role="status">
          <span>Connect a runtime to open a terminal in it.</span>
          {connectCmd && (
            <button type="button" class="sp-btn sp-primary" onClick={() => connectCmd.run()}>
              Connect
            </button>
          )}
        </div>
      )}
      {state === "closed" && (
        <div class="sp-term-closed" role="status">
          <span>Terminal closed{reason ? `: ${reason}` : "."}</span>
          <button type="button" class="sp-btn sp-primary" onClick={reconnect}>
            Reconnect
          </button>
        </div>
      )}
      <div class="sp-term-host" ref={hostRef} />
    </div>
  );
}
