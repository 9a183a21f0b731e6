// The admin page's accelerators: every device this server hands out, who holds it, and the line.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { errorText, formatSize } from "../format";

type Device = {
  id: string;
  type: string;
  model: string;
  memory_bytes: number;
  shared: boolean;
  reserved: boolean;
  mig_parent: string | null;
  holders: string[];
};
type Waiting = { runtime_id: string; person_id: number; shape: string; priority: number; position: number };
type Snapshot = { devices: Device[]; queue: Waiting[] };

export function AcceleratorsSection() {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      get<Snapshot>("/api/admin/accelerators").then(
        (s) => live && (setSnap(s), setError(null)),
        (e: unknown) => live && setError(errorText(e)),
      );
    void load();
    const timer = setInterval(load, 5000);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, []);
  return (
    <section class="card" aria-labelledby="accel-head">
      <h2 id="accel-head">Accelerators</h2>
      {error && <p role="alert" class="error-text">{error}</p>}
      {snap === null && !error && <p class="muted" aria-busy="true">Loading…</p>}
      {snap && snap.devices.length === 0 && (
        <p class="muted">This server has no accelerators: NVML found no GPU and none is declared in the config.</p>
      )}
      {snap && snap.devices.length > 0 && (
        <div class="table-wrap">
          <table class="data-table" aria-label="Accelerators">
            <thead><tr><th>Type</th><th>Model</th><th>Memory</th><th>Device</th><th>Held by</th></tr></thead>
            <tbody>
              {snap.devices.map((d) => (
                <tr key={d.id} aria-label={d.id}>
                  <td class="strong">{d.type}{d.shared && <span class="tag">shared</span>}{d.reserved && <span class="tag">reserved</span>}</td>
                  <td>{d.model}</td>
                  <td class="num">{d.memory_bytes ? formatSize(d.memory_bytes) : "—"}</td>
                  <td class="mono small">{d.id}</td>
                  <td>{d.holders.length ? d.holders.join(", ") : <span class="muted">free</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {snap && snap.queue.length > 0 && (
        <>
          <h3>Waiting</h3>
          <ol class="queue-list" aria-label="Waiting for accelerators">
            {snap.queue.map((w) => (
              <li key={w.runtime_id}>
                {w.shape}: person {w.person_id}, priority {w.priority}, place {w.position}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
