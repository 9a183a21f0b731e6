// Messages people must see: notices (stay until dismissed), the connection and runtime state,
// and short-lived error toasts.
import { useEffect, useState } from "preact/hooks";
import type { Notice, NotebookStore } from "./store";

/** Seconds left until a warned stop, ticking. */
function Countdown({ at }: { at: number }) {
  const [now, setNow] = useState(Date.now() / 1000);
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(t);
  }, []);
  const left = Math.max(0, Math.round(at - now));
  return <strong class="countdown" aria-live="off"> ({left} s left)</strong>;
}

function NoticeBanner({ store, n }: { store: NotebookStore; n: Notice }) {
  return (
    <div class={`banner notice ${n.level}`} role="alert" data-kind="notice" data-code={n.code}>
      <span>{n.message}{n.at !== undefined && <Countdown at={n.at} />}</span>
      {n.code === "idle_timeout" && (
        <button type="button" class="btn small" onClick={() => store.stillHere(n.id)}>
          I'm still here
        </button>
      )}
      <button type="button" class="btn ghost small" aria-label="Dismiss notice" onClick={() => store.dismissNotice(n.id)}>
        Dismiss
      </button>
    </div>
  );
}

export function Banners({ store }: { store: NotebookStore }) {
  return (
    <div class="nb-banners">
      {store.gone && (
        <div class="banner error" role="alert">
          <span>{store.gone}</span>
        </div>
      )}
      {store.conn === "reconnecting" && !store.gone && (
        <div class="banner warn" role="status">
          <span class="spinner" aria-hidden="true" /> Reconnecting… Your changes are kept and sent once the connection is back.
        </div>
      )}
      {store.runtimeStatus === "disconnected" && store.runtimeMessage && (
        <div class="banner info" role="status" data-kind="runtime">
          <span>
            <strong>Runtime disconnected.</strong> {store.runtimeMessage}
          </span>
          <button type="button" class="btn ghost small" aria-label="Dismiss" onClick={() => store.dismissRuntimeMessage()}>
            Dismiss
          </button>
        </div>
      )}
      {store.notices.map((n) => <NoticeBanner key={n.id} store={store} n={n} />)}
    </div>
  );
}

export function Toasts({ store }: { store: NotebookStore }) {
  if (!store.toasts.length) return null;
  return (
    <div class="toasts" aria-live="assertive">
      {store.toasts.map((t) => (
        <div key={t.id} class={`toast ${t.level}`} role="alert">
          <span>{t.message}</span>
          <button type="button" aria-label="Dismiss" onClick={() => store.dismissToast(t.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
