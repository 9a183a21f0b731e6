// The Help panel: documentation from the runtime's kernel, as `name?` shows it in a cell (Colab
// opens the same in a side pane), and a box to look up any name (`name??` with the source).
import { useState } from "preact/hooks";
import type { NotebookHandle } from "../notebook/handle";
import { ansiToHtml } from "../notebook/ansi";
import { useNotebook } from "./bus";

export function HelpPanel({ nb }: { nb: NotebookHandle }) {
  useNotebook(nb);
  const [name, setName] = useState("");
  const [source, setSource] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const page = nb.help();
  const lookUp = async (e: Event) => {
    e.preventDefault();
    const wanted = name.trim();
    if (!wanted) return;
    setError(null);
    try {
      await nb.lookUp(wanted, source ? 1 : 0);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="help-panel">
      <form class="help-form" onSubmit={lookUp}>
        <input
          type="search"
          class="sp-input"
          aria-label="Name to look up"
          placeholder="Look up a name, e.g. os.path.join"
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
        <label class="help-source">
          <input type="checkbox" checked={source} onChange={(e) => setSource((e.target as HTMLInputElement).checked)} />
          with source (??)
        </label>
        <button type="submit" class="sp-btn sp-primary">Look up</button>
      </form>
      {error && <p class="sp-status sp-error" role="alert">{error}</p>}
      {page ? (
        <article aria-label={`Help: ${page.title}`}>
          <pre class="kernel-help help-page" dangerouslySetInnerHTML={{ __html: ansiToHtml(page.text) }} />
        </article>
      ) : (
        <p class="sp-empty">
          Run <code>name?</code> in a cell, press Shift+Tab on a name, or look one up here. Help comes from the
          runtime's kernel, so connect a runtime first.
        </p>
      )}
    </div>
  );
}
