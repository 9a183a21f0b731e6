// Messages people must see: notices (stay until dismissed), the connection and runtime state,
// and short-lived error toasts.
import type { NotebookStore } from "./store";

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
      {store.notices.map((n) => (
        <div key={n.id} class={`banner notice ${n.level}`} role="alert" data-kind="notice">
          <span>{n.message}</span>
          <button type="button" class="btn ghost small" aria-label="Dismiss notice" onClick={() => store.dismissNotice(n.id)}>
            Dismiss
          </button>
        </div>
      ))}
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
