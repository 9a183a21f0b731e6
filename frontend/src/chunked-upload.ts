// Sending a file's bytes to an upload of /api/uploads (docs/api.md), resuming after dropped chunks:
// the one loop behind the drive's uploads (drive/uploads.ts) and a notebook's files.upload
// (notebook/colab.ts).
//
// The bytes go up one chunk at a time (PUT /api/uploads/{id}?offset=N). When a chunk does not
// arrive (a dropped connection, a server restart, a 5xx) the loop waits with backoff, asks the
// server where the upload got to (GET /api/uploads/{id}) and goes on from there; a refusal (4xx)
// ends it with the server's sentence. After MAX_FAILURES failures in a row it gives up (GaveUp):
// a minute of waiting in all, enough to ride out a server restart.
import { ApiError, get, type Schemas } from "./api";

type Progress = Schemas["UploadStatus"];

export const MAX_FAILURES = 8;
/** The wait before the next try after the first, second... failure in a row (then the last). */
export const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];

/** The upload was cancelled (its signal aborted). */
export class Cancelled extends Error {}

/** A chunk that did not arrive: the connection dropped, or no answer came. */
export class Dropped extends Error {}

/** MAX_FAILURES chunks in a row did not arrive; the server keeps what it got. */
export class GaveUp extends Error {
  constructor() {
    super("The connection to the server keeps dropping.");
  }
}

export type SendEvents = {
  /** Bytes the server has, plus those of the chunk on the way. */
  progress(loaded: number): void;
  /** `attempt` chunks in a row failed (the last with `err`) and the loop waits before the next
   *  try; 0: a chunk arrived again after failures. */
  retrying?(attempt: number, err: unknown): void;
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Cancelled());
    const t = setTimeout(() => { signal.removeEventListener("abort", stop); resolve(); }, ms);
    const stop = () => { clearTimeout(t); reject(new Cancelled()); };
    signal.addEventListener("abort", stop, { once: true });
  });
}

function errorFromXhr(xhr: XMLHttpRequest): ApiError {
  try {
    const body = JSON.parse(xhr.responseText);
    return new ApiError(xhr.status, body.error.code, body.error.message);
  } catch {
    return new ApiError(xhr.status, "http_error", `The server answered ${xhr.status}.`);
  }
}

/** PUT one chunk with XMLHttpRequest, which (unlike fetch) reports upload progress. */
function putChunk(url: string, chunk: Blob, onProgress: (sent: number) => void,
                  signal: AbortSignal): Promise<Progress> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    signal.addEventListener("abort", abort, { once: true });
    const done = () => signal.removeEventListener("abort", abort);
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      done();
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as Progress);
        } catch {
          reject(new Dropped("The server's answer was cut off."));
        }
      } else {
        reject(errorFromXhr(xhr));
      }
    };
    xhr.onerror = () => { done(); reject(new Dropped("The connection dropped.")); };
    xhr.ontimeout = () => { done(); reject(new Dropped("The server did not answer in time.")); };
    xhr.onabort = () => { done(); reject(signal.aborted ? new Cancelled() : new Dropped("The upload was interrupted.")); };
    xhr.send(chunk);
  });
}

/** Worth trying again: the request never got a real answer, or the server was briefly unwell. */
export function transient(err: unknown): boolean {
  if (err instanceof Dropped || err instanceof TypeError) return true;
  return err instanceof ApiError && (err.status >= 500 || err.status === 408 || err.status === 429
    || err.status === 0);
}

/** Where upload `uploadId` stands on the server: the bytes it has. */
export async function uploadOffset(uploadId: string): Promise<number> {
  return (await get<Progress>(`/api/uploads/${encodeURIComponent(uploadId)}`)).offset;
}

/** Send `file` from byte `start` on to upload `uploadId` in chunks of `chunkSize` until the server
 *  has all of it. Throws Cancelled when `signal` aborts, GaveUp, or the server's refusal. */
export async function sendChunks(uploadId: string, file: Blob, start: number, chunkSize: number,
                                 signal: AbortSignal, events: SendEvents): Promise<void> {
  const id = encodeURIComponent(uploadId);
  let offset = start;
  let failures = 0;
  while (offset < file.size) {
    const base = offset;
    try {
      const chunk = file.slice(base, Math.min(file.size, base + chunkSize));
      offset = (await putChunk(`/api/uploads/${id}?offset=${base}`, chunk,
        (sent) => events.progress(base + sent), signal)).offset;
      if (failures) events.retrying?.(0, null);
      failures = 0;
      events.progress(offset);
    } catch (err) {
      if (err instanceof Cancelled || signal.aborted) throw new Cancelled();
      if (err instanceof ApiError && err.code === "wrong_offset") {
        // The server has more (or less) than we thought: go on from where it is.
        offset = await uploadOffset(uploadId);
        events.progress(offset);
        continue;
      }
      if (!transient(err)) throw err;
      if (++failures > MAX_FAILURES) throw new GaveUp();
      events.retrying?.(failures, err);
      await sleep(BACKOFF_MS[Math.min(failures - 1, BACKOFF_MS.length - 1)], signal);
      try {
        offset = await uploadOffset(uploadId);
        events.progress(offset);
      } catch (e) {
        if (!transient(e)) throw e;
        // Still unreachable: the next PUT fails again and waits longer.
      }
    }
  }
}
