// The one client for Dikte's REST API. The web app authenticates with the HttpOnly session
// cookie set by /api/auth/login; every error has the server's one shape.
import type { components } from "./api-types";

export type Schemas = components["schemas"];
export type DriveEntry = Schemas["DriveEntry"];
export type NotebookView = Schemas["NotebookView"];
export type RuntimeInfo = Schemas["RuntimeInfo"];
export type SessionInfo = Schemas["SessionInfo"];
export type Me = Schemas["Me"];

export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

async function parse<T>(r: Response): Promise<T> {
  if (r.ok) {
    if (r.status === 204) return undefined as T;
    return (await r.json()) as T;
  }
  let code = "http_error";
  let message = `The server answered ${r.status}.`;
  try {
    const body = await r.json();
    code = body.error.code;
    message = body.error.message;
  } catch {
    /* not our error shape: keep the generic sentence */
  }
  if (r.status === 401) onSignedOut();
  throw new ApiError(r.status, code, message);
}

let signedOutHandler: () => void = () => {};
export function setSignedOutHandler(fn: () => void) {
  signedOutHandler = fn;
}
function onSignedOut() {
  signedOutHandler();
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  init: RequestInit = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  let payload: BodyInit | undefined;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    payload = body as BodyInit;
    headers["Content-Type"] = "application/octet-stream";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, { method, headers, body: payload, credentials: "same-origin", ...init });
  return parse<T>(r);
}

export const get = <T>(path: string, params?: Record<string, string>) =>
  api<T>("GET", params ? `${path}?${new URLSearchParams(params)}` : path);
export const post = <T>(path: string, body?: unknown) => api<T>("POST", path, body);

/** A drive path as a URL path: each segment escaped, so the server judges the real path. */
export function filePath(path: string): string {
  return path
    .split("/")
    .map((p) => encodeURIComponent(p).replace(/\./g, "%2E"))
    .join("/");
}

export function wsUrl(path: string): string {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}
