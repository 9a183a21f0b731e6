// Manage sessions: every runtime of this person, its use of RAM and disk, and Terminate.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, get, type Me, type SessionInfo } from "../api";
import { Shell } from "../chrome";
import { ConfirmDialog } from "../dialog";
import { errorText, formatSize, fullDate, relativeTime } from "../format";
import { NotebookIcon, RefreshIcon } from "../icons";
import { href } from "../router";

const REFRESH_MS = 3000;

function Meter({ label, used, limit }: { label: string; used: number | null; limit: number | null }) {
  const pct = used !== null && limit ? Math.min(100, (used / limit) * 100) : null;
  const level = pct === null ? "" : pct >= 90 ? "is-high" : pct >= 70 ? "is-mid" : "";
  const text = used === null
    ? "not measured"
    : limit ? `${formatSize(used)} / ${formatSize(limit)}` : `${formatSize(used)} (no limit)`;
  return (
    <div class="usage">
      <div class="usage-label"><span>{label}</span><span class="usage-text">{text}</span></div>
      <div class={`usage-bar ${level}`} role="meter" aria-label={`${label} used`}
        aria-valuemin={0} aria-valuemax={limit ?? undefined} aria-valuenow={used ?? undefined}
        aria-valuetext={text}>
        <div class="usage-fill" style={{ width: `${pct ?? 0}%` }} />
      </div>
    </div>
  );
}

function useVisible(): boolean {
  const [visible, setVisible] = useState(document.visibilityState === "visible");
  useEffect(() => {
    const on = () => setVisible(document.visibilityState === "visible");
    document.addEventListener("visibilitychange", on);
    return () => document.removeEventListener("visibilitychange", on);
  }, []);
  return visible;
}

export function SessionsPage({ me }: { me: Me }) {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null);
  const [error, setError] = useState("");
  const [confirm, setConfirm] = useState<SessionInfo | null>(null);
  const [now, setNow] = useState(Date.now());
  const visible = useVisible();
  const inFlight = useRef(false);

  const load = useCallback(async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const list = await get<SessionInfo[]>("/api/sessions");
      setSessions(list);
      setError("");
    } catch (err) {
      setError(errorText(err));
    } finally {
      inFlight.current = false;
      setNow(Date.now());
    }
  }, []);

  useEffect(() => {
    document.title = "Manage sessions – Dikte";
  }, []);

  useEffect(() => {
    if (!visible) return;
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [visible, load]);

  const sorted = sessions ? [...sessions].sort((a, b) => b.started_at - a.started_at) : null;

  return (
    <Shell me={me} class="sessions">
      <div class="page-head">
        <div>
          <h1>Manage sessions</h1>
          <p class="muted">Your runtimes, their memory and disk. Terminating one ends its kernel and deletes
            its <code>/content</code>; the notebook stays in your drive.</p>
        </div>
        <button type="button" class="btn" onClick={() => void load()}>
          <RefreshIcon /><span>Refresh</span>
        </button>
      </div>
      {error && <p class="alert-bar alert-error" role="alert">{error}</p>}
      {sorted === null ? (
        !error && <div class="empty muted" aria-busy="true">Loading…</div>
      ) : sorted.length === 0 ? (
        <div class="empty">
          <p class="empty-title">No active sessions</p>
          <p class="muted">Connect a runtime from a notebook and it shows here.</p>
        </div>
      ) : (
        <ul class="session-list" aria-label="Active sessions">
          {sorted.map((s) => {
            const name = s.notebook_path.split("/").pop() ?? s.notebook_path;
            return (
              <li key={s.runtime_id} class="session" aria-label={s.notebook_path}>
                <div class="session-title">
                  <NotebookIcon class="ic-notebook" />
                  <div class="session-name">
                    <a href={href({ page: "notebook", path: s.notebook_path })}>{name}</a>
                    <span class="session-path muted" title={s.notebook_path}>{s.notebook_path}</span>
                  </div>
                </div>
                <dl class="session-facts">
                  <div><dt>Image</dt><dd>{s.image}</dd></div>
                  {s.node && <div><dt>Machine</dt><dd>{s.node}</dd></div>}
                  <div><dt>Started</dt><dd title={fullDate(s.started_at)}>{relativeTime(s.started_at, now)}</dd></div>
                  <div><dt>Status</dt><dd>
                    <span class={`chip ${s.busy ? "chip-busy" : "chip-idle"}`}>{s.busy ? "Busy" : "Idle"}</span>
                  </dd></div>
                </dl>
                <div class="session-meters">
                  <Meter label="RAM" used={s.memory_bytes} limit={s.memory_limit} />
                  <Meter label="Disk" used={s.disk_bytes} limit={s.disk_limit} />
                </div>
                <button type="button" class="btn btn-danger-outline" onClick={() => setConfirm(s)}
                  aria-label={`Terminate ${s.notebook_path}`}>
                  Terminate
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {confirm && (
        <ConfirmDialog title="Terminate this session?" submitLabel="Terminate" danger
          message={<>The runtime of <strong>{confirm.notebook_path}</strong> stops: running cells end and
            {" "}<code>/content</code> is deleted. The notebook and your drive stay.</>}
          onClose={() => setConfirm(null)}
          onConfirm={async () => {
            await api("DELETE", `/api/sessions/${encodeURIComponent(confirm.runtime_id)}`);
            setSessions((list) => list?.filter((x) => x.runtime_id !== confirm.runtime_id) ?? null);
            void load();
          }} />
      )}
    </Shell>
  );
}
