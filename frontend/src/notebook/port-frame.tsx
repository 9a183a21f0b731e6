// A port the runtime serves (google.colab.output.serve_kernel_port_as_iframe / _as_window),
// shown through the control plane's proxy. The page asks the API for a short-lived capability
// URL each time it shows the output: the URL is never stored in the notebook.
//
// The iframe is sandboxed without allow-same-origin, and the proxy adds the same sandbox as a
// Content-Security-Policy header (which also covers the window): the served page runs in an
// opaque origin and cannot read the app's cookies or call its API as the person.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, post, type Schemas } from "../api";
import "../styles/port-frame.css";

export const PORT_MIME = "application/vnd.dikte.port-proxy+json";

type Capability = Schemas["ProxyCapability"];

interface PortSpec {
  runtime_id: string;
  port: number;
  path: string;
  mode: "iframe" | "window";
  width: string;
  height: string;
  anchor_text: string;
}

function parseSpec(value: unknown): PortSpec | null {
  if (!value || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  if (typeof v.runtime_id !== "string" || typeof v.port !== "number") return null;
  const size = (x: unknown, dflt: string) =>
    typeof x === "number" ? `${x}px` : typeof x === "string" && x ? (/^\d+$/.test(x) ? `${x}px` : x) : dflt;
  return {
    runtime_id: v.runtime_id,
    port: v.port,
    path: typeof v.path === "string" ? v.path : "/",
    mode: v.mode === "window" ? "window" : "iframe",
    width: size(v.width, "100%"),
    height: size(v.height, "400px"),
    anchor_text: typeof v.anchor_text === "string" && v.anchor_text ? v.anchor_text : `Open port ${v.port}`,
  };
}

const mint = (s: PortSpec) =>
  post<Capability>("/api/runtime/proxy", { runtime_id: s.runtime_id, port: s.port, path: s.path });

const SANDBOX = "allow-scripts allow-forms allow-popups allow-modals allow-downloads";

export function PortFrame({ value, fallback }: { value: unknown; fallback: ComponentChildren }) {
  const spec = parseSpec(value);
  if (!spec) return <div class="out-unsupported">This output names no port of the runtime.</div>;
  return spec.mode === "window" ? <PortLink spec={spec} /> : <PortIframe spec={spec} fallback={fallback} />;
}

function PortIframe({ spec, fallback }: { spec: PortSpec; fallback: ComponentChildren }) {
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    mint(spec).then(
      (c) => live && setUrl(c.url),
      (e) => live && setError(e instanceof ApiError ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [spec.runtime_id, spec.port, spec.path]);
  if (error) {
    // a copy cached in the notebook (cache_in_notebook=True) stands in once the runtime is gone
    if (fallback) return <>{fallback}</>;
    return <PortGone port={spec.port} message={error} />;
  }
  if (!url) return <div class="out-port-wait">Opening port {spec.port} of the runtime…</div>;
  return (
    <iframe
      class="out-port-frame"
      title={`Port ${spec.port} of the runtime`}
      src={url}
      sandbox={SANDBOX}
      referrerpolicy="no-referrer"
      data-port={spec.port}
      style={{ width: spec.width, height: spec.height }}
    />
  );
}

function PortLink({ spec }: { spec: PortSpec }) {
  const [error, setError] = useState<string | null>(null);
  const open = async (e: Event) => {
    e.preventDefault();
    try {
      const c = await mint(spec);
      window.open(c.url, "_blank", "noopener,noreferrer");
      setError(null);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <div class="out-port-link">
      <a href="#" role="button" data-port={spec.port} onClick={open}>
        {spec.anchor_text}
      </a>
      {error && <PortGone port={spec.port} message={error} />}
    </div>
  );
}

function PortGone({ port, message }: { port: number; message: string }) {
  return (
    <div class="out-port-gone" role="status">
      Port {port} of the runtime cannot be shown: {message}
    </div>
  );
}
