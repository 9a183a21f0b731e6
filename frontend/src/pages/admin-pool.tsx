// The admin page's runtimes started ahead: how many each image keeps ready, and start-up turns.
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { errorText, formatSize } from "../format";

type Shelf = { image: string; disk_bytes: number; ready: string[]; starting: number; last_error: string };
type Pool = {
  size: number;
  on: boolean;
  off_reason: string;
  given: number;
  start_slots: number;
  starts_running: number;
  starts_waiting: number;
  shelves: Shelf[];
};

export function PoolSection() {
  const [pool, setPool] = useState<Pool | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    const load = () =>
      get<Pool>("/api/admin/pool").then(
        (p) => live && (setPool(p), setError(null)),
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
    <section class="card" aria-labelledby="pool-head">
      <h2 id="pool-head">Runtimes started ahead</h2>
      {error && <p role="alert" class="error-text">{error}</p>}
      {pool === null && !error && <p class="muted" aria-busy="true">Loading…</p>}
      {pool && (
        <p class="muted">
          {pool.on
            ? `${pool.size} kept ready per image and disk size (runtime_pool); ${pool.given} given since the server started.`
            : `Off: ${pool.off_reason}. Every connect starts a runtime.`}{" "}
          Starts: {pool.starts_running} of {pool.start_slots} at once, {pool.starts_waiting} waiting their turn.
        </p>
      )}
      {pool && pool.shelves.length > 0 && (
        <div class="table-wrap">
          <table class="data-table" aria-label="Runtimes started ahead">
            <thead><tr><th>Image</th><th>Disk</th><th>Ready</th><th>Starting</th><th>Last failure</th></tr></thead>
            <tbody>
              {pool.shelves.map((s) => (
                <tr key={`${s.image}-${s.disk_bytes}`} aria-label={s.image}>
                  <td class="strong">{s.image}</td>
                  <td class="num">{formatSize(s.disk_bytes)}</td>
                  <td class="num">{s.ready.length}</td>
                  <td class="num">{s.starting}</td>
                  <td>{s.last_error || <span class="muted">none</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
