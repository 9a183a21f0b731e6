// The Variables panel, like Colab's {x}: the kernel's names with their types, shapes and short
// values, asked again whenever a cell finishes (and with Refresh).
import { useEffect, useState } from "preact/hooks";
import type { NotebookHandle } from "../notebook/handle";
import { useNotebook } from "./bus";

type Row = { name: string; type: string; shape: string; value: string };

export function VariablesPanel({ nb }: { nb: NotebookHandle }) {
  useNotebook(nb);
  const [rows, setRows] = useState<Row[] | null>(null);
  const [more, setMore] = useState(0);
  const [note, setNote] = useState<string | null>(null);
  const [asked, setAsked] = useState(0);
  const rt = nb.runtime();
  // changes whenever a cell starts or finishes, or the runtime comes or goes
  const busy = nb.busy();
  const ran = `${rt ? "on" : "off"}:${busy}:${nb.cells().map((c) => c.execution_count ?? "").join(",")}`;
  useEffect(() => {
    if (!rt) {
      setRows(null);
      setNote("Connect a runtime to see its variables.");
      return;
    }
    if (busy) {
      setNote("A cell is running: the variables are listed again when it ends.");
      return;
    }
    let live = true;
    nb.variables().then(
      (v) => {
        if (!live) return;
        setRows(v.variables);
        setMore(v.more);
        setNote(null);
      },
      (e: Error) => live && setNote(e.message),
    );
    return () => {
      live = false;
    };
  }, [ran, asked]);
  return (
    <div class="vars-panel">
      <div class="sp-row">
        <button type="button" class="sp-btn" onClick={() => setAsked(asked + 1)} disabled={!rt}>
          Refresh
        </button>
      </div>
      {note && <p class="sp-status">{note}</p>}
      {rows && rows.length === 0 && <p class="sp-empty">No variables yet: run a cell that defines some.</p>}
      {rows && rows.length > 0 && (
        <table class="vars-table" aria-label="Variables">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Type</th>
              <th scope="col">Shape</th>
              <th scope="col">Value</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name}>
                <td class="vars-name">{r.name}</td>
                <td>{r.type}</td>
                <td>{r.shape}</td>
                <td class="vars-value" title={r.value}>
                  {r.value}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {more > 0 && <p class="sp-status">and {more} more names</p>}
    </div>
  );
}
