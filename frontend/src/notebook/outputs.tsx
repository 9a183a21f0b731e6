// A code cell's outputs: streams and tracebacks with ANSI colours, rich data by MIME priority,
// HTML and JavaScript in sandboxed iframes, and long outputs clipped so the DOM stays small.
//
// Every output element carries data-output-type (the nbformat output_type: stream,
// display_data, execute_result, error); rich ones also data-mime (the MIME type shown) and
// streams data-stream (stdout / stderr).
import { ansiToHtml } from "./ansi";
import type { ComponentChildren } from "preact";
import { memo } from "preact/compat";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Output } from "./handle";
import { Markdown, latexToHtml, markdownToHtml, useKatex } from "./markdown";
import { PORT_MIME, PortFrame } from "./port-frame";
import { FRAME_BRIDGE } from "./colab-frame";
import { WIDGET_VIEW_MIME } from "./widgets";

/** Taller than this, an output scrolls inside a box with a "Show all" control. */
const MAX_PX = 600;
/** Longer than this, only the last MAX_LINES lines (and MAX_CHARS characters) are in the DOM. */
const MAX_LINES = 2000;
const MAX_CHARS = 200_000;
/** A sandboxed frame never grows past this (content sized to the viewport could grow forever). */
const MAX_FRAME_PX = 20_000;

/** Richest first, as JupyterLab ranks them. */
const MIME_ORDER = [
  WIDGET_VIEW_MIME, // a Jupyter widget, drawn by its own classes in a sandboxed frame
  PORT_MIME, // a port the runtime serves, through the proxy (port-frame.tsx)
  "application/javascript",
  "text/html",
  "text/markdown",
  "text/latex",
  "image/svg+xml",
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
  "application/json",
  "text/plain",
];

export function Outputs({ cellId, outputs }: { cellId: string; outputs: Output[] }) {
  if (!outputs.length) return null;
  return (
    <div class="outputs" data-outputs-for={cellId}>
      {outputs.map((o, i) => (
        <OutputView key={i} output={o} />
      ))}
    </div>
  );
}

// applyChange keeps unchanged outputs the same objects: only the one that changed re-renders.
const OutputView = memo(function OutputView({ output }: { output: Output }) {
  switch (output.output_type) {
    case "stream": {
      const name = output.name ?? "stdout";
      return (
        <div class={`output out-stream out-${name}`} data-output-type="stream" data-stream={name}>
          <TextBlock text={output.text ?? ""} follow />
        </div>
      );
    }
    case "error":
      return (
        <div class="output out-error" data-output-type="error" role="alert">
          <div class="out-ename">
            <strong>{output.ename ?? "Error"}</strong>
            {output.evalue ? `: ${output.evalue}` : ""}
          </div>
          <TextBlock text={(output.traceback ?? []).join("\n")} />
        </div>
      );
    default:
      return <RichOutput output={output} />;
  }
});

// ---- text ------------------------------------------------------------------------------------

function asText(v: unknown): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.join("");
  return v == null ? "" : JSON.stringify(v, null, 2);
}

function countLines(text: string): number {
  if (!text) return 0;
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return text.endsWith("\n") ? n : n + 1;
}

/** The last `maxLines` lines (at most `maxChars` characters) of text, and how much is left out. */
export function tail(text: string, maxLines: number, maxChars: number): { shown: string; hiddenLines: number; cut: boolean } {
  const total = countLines(text);
  if (total <= maxLines && text.length <= maxChars) return { shown: text, hiddenLines: 0, cut: false };
  const end = text.endsWith("\n") ? text.length - 1 : text.length;
  let begin = end;
  for (let k = 0; k < maxLines && begin > 0; k++) {
    begin = begin >= 2 ? text.lastIndexOf("\n", begin - 2) + 1 : 0;
  }
  let shown = text.slice(begin);
  if (shown.length > maxChars) shown = shown.slice(shown.length - maxChars);
  return { shown, hiddenLines: total - countLines(shown), cut: true };
}

/** Preformatted text with ANSI colours, keeping only its tail in the DOM until "Show all". */
function TextBlock({ text, follow = false }: { text: string; follow?: boolean }) {
  const [expanded, setExpanded] = useState(false);
  const { shown, hiddenLines, cut } = useMemo(
    () => (expanded ? { shown: text, hiddenLines: 0, cut: false } : tail(text, MAX_LINES, MAX_CHARS)),
    [text, expanded],
  );
  const html = useMemo(() => ansiToHtml(shown), [shown]);
  const hidden = cut ? (hiddenLines > 0 ? `… ${hiddenLines.toLocaleString("en")} earlier lines hidden` : "… earlier output hidden") : null;
  return (
    <Clip expanded={expanded} onExpand={setExpanded} hidden={hidden} follow={follow}>
      <pre class="out-text" dangerouslySetInnerHTML={{ __html: html }} />
    </Clip>
  );
}

/**
 * A scroll box of at most MAX_PX for tall content, with one control: "Show all" (which also
 * brings back lines left out of the DOM) or, once expanded, "Show less".
 * `follow` keeps the box scrolled to the bottom while it is there (a growing log).
 */
function Clip({ expanded, onExpand, hidden, follow, children }: {
  expanded: boolean;
  onExpand: (v: boolean) => void;
  hidden: string | null;
  follow: boolean;
  children: ComponentChildren;
}) {
  const box = useRef<HTMLDivElement>(null);
  const inner = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [tall, setTall] = useState(false);

  useEffect(() => {
    const el = inner.current;
    if (!el) return;
    const ro = new ResizeObserver(() => {
      setTall(el.getBoundingClientRect().height > MAX_PX + 1);
      if (follow && atBottom.current && box.current) box.current.scrollTop = box.current.scrollHeight;
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [follow]);

  useLayoutEffect(() => {
    if (follow && atBottom.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  });

  const clipped = !expanded && (tall || hidden !== null);
  const onScroll = () => {
    const b = box.current;
    if (b) atBottom.current = b.scrollTop + b.clientHeight >= b.scrollHeight - 4;
  };
  return (
    <div class="out-clip">
      {hidden !== null && (
        <div class="out-hidden" data-hidden-lines>
          {hidden} ·{" "}
          <button type="button" class="out-show-all" onClick={() => onExpand(true)}>Show all</button>
        </div>
      )}
      <div ref={box} class={clipped ? "out-scroll clipped" : "out-scroll"} onScroll={onScroll}>
        <div ref={inner}>{children}</div>
      </div>
      {hidden === null && tall && !expanded && (
        <button type="button" class="out-show-all out-toggle" onClick={() => onExpand(true)}>Show all</button>
      )}
      {expanded && tall && (
        <button type="button" class="out-toggle" onClick={() => onExpand(false)}>Show less</button>
      )}
    </div>
  );
}

function ClipState({ children }: { children: ComponentChildren }) {
  const [expanded, setExpanded] = useState(false);
  return (
    <Clip expanded={expanded} onExpand={setExpanded} hidden={null} follow={false}>
      {children}
    </Clip>
  );
}

// ---- rich data -------------------------------------------------------------------------------

function pickMime(data: Record<string, unknown>): string | undefined {
  return MIME_ORDER.find((m) => m in data && data[m] != null);
}

/** Whether an output shows in a sandboxed frame (where eval_js can run: colab.ts). */
export function rendersInFrame(output: Output): boolean {
  if (output.output_type !== "display_data" && output.output_type !== "execute_result") return false;
  const mime = pickMime(output.data ?? {});
  return mime === "text/html" || mime === "application/javascript" || mime === WIDGET_VIEW_MIME;
}

function RichOutput({ output }: { output: Output }) {
  const data = output.data ?? {};
  const mime = pickMime(data);
  const meta = (output.metadata ?? {}) as Record<string, unknown>;
  let body: ComponentChildren;
  if (mime === undefined) {
    const kinds = Object.keys(data).join(", ") || "nothing";
    body = <div class="out-unsupported">Output of type {kinds} cannot be shown here.</div>;
  } else if (mime === "text/plain" || mime === "application/json") {
    const text = mime === "application/json" ? JSON.stringify(data[mime], null, 2) : asText(data[mime]);
    return (
      <div class="output out-rich out-plain" data-output-type={output.output_type} data-mime={mime}>
        <TextBlock text={text} />
      </div>
    );
  } else if (mime === WIDGET_VIEW_MIME) {
    const view = data[mime] as { model_id?: unknown } | null;
    body = <SandboxedFrame widget srcdoc={frameDoc(widgetBody(String(view?.model_id ?? ""), asText(data["text/plain"])))} />;
  } else if (mime === PORT_MIME) {
    const cached = data["text/html"] != null ? <SandboxedFrame srcdoc={frameDoc(asText(data["text/html"]))} /> : null;
    body = <PortFrame value={data[mime]} fallback={cached} />;
  } else if (mime === "text/html") {
    body = <SandboxedFrame srcdoc={frameDoc(asText(data[mime]))} />;
  } else if (mime === "application/javascript") {
    body = <SandboxedFrame srcdoc={frameDoc(jsBody(asText(data[mime])))} />;
  } else if (mime === "text/markdown") {
    body = <Markdown source={asText(data[mime])} />;
  } else if (mime === "text/latex") {
    body = <Latex source={asText(data[mime])} />;
  } else {
    const own = meta[mime] && typeof meta[mime] === "object" ? (meta[mime] as Record<string, unknown>) : {};
    body = <Image mime={mime} value={asText(data[mime])} meta={{ ...meta, ...own }} />;
  }
  return (
    <div class="output out-rich" data-output-type={output.output_type} data-mime={mime ?? ""}>
      <ClipState>{body}</ClipState>
    </div>
  );
}

function utf8Base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function Image({ mime, value, meta }: { mime: string; value: string; meta: Record<string, unknown> }) {
  // SVG goes through <img> too: markup in an image is never scripted and never joins the page.
  const src = useMemo(
    () => `data:${mime};base64,${mime === "image/svg+xml" ? utf8Base64(value) : value.replace(/\s+/g, "")}`,
    [mime, value],
  );
  const width = typeof meta.width === "number" ? meta.width : undefined;
  const height = typeof meta.height === "number" ? meta.height : undefined;
  // matplotlib marks transparent figures drawn for a light page.
  const light = meta.needs_background === "light";
  return (
    <img class={light ? "out-image needs-light" : "out-image"} src={src} alt="" width={width}
      height={height} />
  );
}

function Latex({ source }: { source: string }) {
  const ready = useKatex(true);
  const html = useMemo(() => {
    const s = source.trim();
    const m =
      /^\$\$((?:(?!\$\$)[\s\S])*)\$\$$/.exec(s) ?? /^\\\[([\s\S]*)\\\]$/.exec(s) ??
      /^\$([^$]*)\$$/.exec(s) ?? /^\\\(([\s\S]*)\\\)$/.exec(s);
    if (m) return latexToHtml(m[1]);
    if (/^\\begin\{/.test(s)) return latexToHtml(s);
    return markdownToHtml(s); // text with formulas in it
  }, [source, ready]);
  return <div class="out-latex" dangerouslySetInnerHTML={{ __html: html }} />;
}

// ---- sandboxed HTML / JavaScript -------------------------------------------------------------

// Inside the frame: page-like defaults that follow the system theme, a script reporting
// the content's height (a plain number) to the parent, and google.colab's bridge (colab.ts).
const FRAME_HEAD = `<meta charset="utf-8"><style>
:root{color-scheme:light dark;--fg:#1f2328;--muted:#656d76;--border:#d8dee4;--stripe:#f6f8fa;--hover:#e7f0fd;--link:#1a73e8}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--border:#30363d;--stripe:#161b22;--hover:#1c2a3d;--link:#4493f8}}
html{overflow-y:hidden}
body{margin:0;padding:2px 6px;background:transparent;color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;display:flow-root}
a{color:var(--link)}
pre,code{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace}
table{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
table.dataframe th,table.dataframe td{padding:4px 10px;border:none;text-align:right;white-space:nowrap}
table.dataframe thead th{border-bottom:1px solid var(--border);vertical-align:bottom}
table.dataframe tbody tr:nth-child(odd){background:var(--stripe)}
table.dataframe tbody tr:hover{background:var(--hover)}
table.dataframe tbody th{font-weight:600}
</style><script>(function(){var last=-1;function post(){var d=document.documentElement;var h=Math.ceil(d.getBoundingClientRect().height+Math.max(0,innerHeight-d.clientHeight));if(h!==last){last=h;parent.postMessage(h,"*")}}
new ResizeObserver(post).observe(document.documentElement);addEventListener("load",post);addEventListener("resize",post);
addEventListener("message",function(e){if(e.source===parent&&e.data==="dikte:size"){last=-1;post()}})})()</script><script>${FRAME_BRIDGE}</script>`;

export function frameDoc(body: string): string {
  return `<!DOCTYPE html><html><head>${FRAME_HEAD}</head><body>${body}</body></html>`;
}

function jsBody(code: string): string {
  // Jupyter's JavaScript outputs write into `element`; "</script" would end the tag early.
  const safe = code.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
  return `<div id="output"></div><script>var element = document.getElementById("output");</script><script>${safe}</script>`;
}

function escapeAttr(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A widget's view: the frame loads the widget manager (widgets/frame.ts), which asks this page
 * for the model's state; the kernel's text for it shows if the widget cannot be drawn. */
function widgetBody(modelId: string, fallback: string): string {
  return `<div data-model-id="${escapeAttr(modelId)}" data-fallback="${escapeAttr(fallback)}"></div>` +
    `<script src="${new URL("/assets/widget-manager.js", location.href).href}"></script>`;
}

/**
 * sandbox="allow-scripts" without allow-same-origin: the frame's scripts run in an opaque
 * origin, so they cannot reach the app's DOM, cookies or API. What the page takes from it: a
 * number (its height) and, from google.colab's bridge (colab.ts), JSON values only.
 */
export function SandboxedFrame({ srcdoc, widget = false }: { srcdoc: string; widget?: boolean }) {
  const ref = useRef<HTMLIFrameElement>(null);
  const [height, setHeight] = useState(24);
  useEffect(() => {
    const onMessage = (e: MessageEvent) => {
      const frame = ref.current;
      if (!frame || e.source !== frame.contentWindow) return;
      if (typeof e.data !== "number" || !Number.isFinite(e.data)) return;
      setHeight(Math.max(0, Math.min(MAX_FRAME_PX, Math.ceil(e.data))));
    };
    window.addEventListener("message", onMessage);
    askSize(); // a height posted before this listener existed is lost: ask again
    return () => window.removeEventListener("message", onMessage);
  }, []);
  function askSize() {
    ref.current?.contentWindow?.postMessage("dikte:size", "*");
  }
  return (
    <iframe
      ref={ref}
      onLoad={askSize}
      class="out-frame"
      data-bridge=""
      data-widget={widget ? "" : undefined}
      title={widget ? "Widget" : "Output"}
      sandbox="allow-scripts"
      referrerpolicy="no-referrer"
      srcdoc={srcdoc}
      style={{ height: `${height}px` }}
    />
  );
}
