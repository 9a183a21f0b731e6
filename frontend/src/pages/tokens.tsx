// API tokens: list mine, create one (its secret is shown once), revoke.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, get, post, type Me, type Schemas } from "../api";
import { Shell } from "../chrome";
import { ConfirmDialog } from "../dialog";
import { errorText, fullDate, relativeTime } from "../format";
import { PlusIcon } from "../icons";
import { ShownOnce } from "../shown-once";

type ApiToken = Schemas["ApiToken"];
type Issued = Schemas["IssuedApiToken"];
type Scope = ApiToken["scopes"][number];

const SCOPES: { scope: Scope; hint: string }[] = [
  { scope: "read", hint: "look only" },
  { scope: "write", hint: "everything you may do" },
  { scope: "admin", hint: "administration too" },
];

function when(t: number | null | undefined, none: string) {
  return t ? <span title={fullDate(t)}>{new Date(t * 1000).toLocaleDateString()}</span> : <span class="muted">{none}</span>;
}

function NewTokenForm({ me, onIssued }: { me: Me; onIssued: (t: Issued) => void }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["read", "write"]);
  const [days, setDays] = useState("90");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const offered = SCOPES.filter((s) => s.scope !== "admin" || me.is_admin);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const d = days.trim();
      const issued = await post<Issued>("/api/tokens", {
        name: name.trim(), scopes, expires_in_days: d === "" ? null : Number(d),
      });
      setName("");
      onIssued(issued);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-token">
      <h2 id="new-token">Create a token</h2>
      <div class="form-row">
        <div class="form-cell grow">
          <label class="field-label" for="token-name">Name</label>
          <input id="token-name" class="field" value={name} maxLength={200} placeholder="e.g. laptop script"
            onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <div class="form-cell">
          <label class="field-label" for="token-days">Expires after (days)</label>
          <input id="token-days" class="field" type="number" min="1" max="3650" value={days}
            placeholder="never" onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      <fieldset class="scopes">
        <legend class="field-label">Scopes</legend>
        {offered.map(({ scope, hint }) => (
          <label key={scope} class="check">
            <input type="checkbox" checked={scopes.includes(scope)}
              onChange={(e) => {
                const on = (e.target as HTMLInputElement).checked;
                setScopes((s) => (on ? [...s, scope] : s.filter((x) => x !== scope)));
              }} />
            <span>{scope}</span> <span class="muted">({hint})</span>
          </label>
        ))}
      </fieldset>
      <p class="field-hint">Leave the days empty for a token that never expires. Scopes nest: write includes read.</p>
      {error && <p class="form-error" role="alert">{error}</p>}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy || name.trim() === "" || scopes.length === 0}>
          <PlusIcon /><span>Create token</span>
        </button>
      </div>
    </form>
  );
}

function Secret({ issued, onDone }: { issued: Issued; onDone: () => void }) {
  return (
    <ShownOnce id="token-secret" title={<>Token “{issued.name}” created</>} value={issued.token}
      label="New token secret" onDone={onDone}>
      <p>Copy it now: it is shown only this once. Send it as <code>Authorization: Bearer …</code>.</p>
    </ShownOnce>
  );
}

export function TokensPage({ me }: { me: Me }) {
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [error, setError] = useState("");
  const [issued, setIssued] = useState<Issued | null>(null);
  const [revoke, setRevoke] = useState<ApiToken | null>(null);

  const load = useCallback(async () => {
    try {
      setTokens(await get<ApiToken[]>("/api/tokens"));
      setError("");
    } catch (err) {
      setError(errorText(err));
    }
  }, []);

  useEffect(() => {
    document.title = "API tokens – Dikte";
    void load();
  }, [load]);

  const now = Date.now();
  return (
    <Shell me={me} class="narrow-page">
      <div class="page-head">
        <div>
          <h1>API tokens</h1>
          <p class="muted">Tokens let programs use Dikte as you. Only a hash is stored; revoking one stops it at once.</p>
        </div>
      </div>
      {error && <p class="alert-bar alert-error" role="alert">{error}</p>}
      {issued && <Secret issued={issued} onDone={() => setIssued(null)} />}
      <NewTokenForm me={me} onIssued={(t) => { setIssued(t); void load(); }} />
      <section class="card" aria-labelledby="my-tokens">
        <h2 id="my-tokens">Your tokens</h2>
        {tokens === null ? (
          !error && <p class="muted" aria-busy="true">Loading…</p>
        ) : tokens.length === 0 ? (
          <p class="muted">No tokens yet.</p>
        ) : (
          <div class="table-wrap">
            <table class="data-table" aria-label="Your tokens">
              <thead><tr><th>Name</th><th>Scopes</th><th>Created</th><th>Expires</th><th>Last used</th><th /></tr></thead>
              <tbody>
                {tokens.map((t) => (
                  <tr key={t.id} aria-label={t.name}>
                    <td class="strong">{t.name}</td>
                    <td>{t.scopes.map((s) => <span key={s} class="chip chip-scope">{s}</span>)}</td>
                    <td>{when(t.created_at, "—")}</td>
                    <td>{when(t.expires_at, "never")}</td>
                    <td>{t.last_used_at ? <span title={fullDate(t.last_used_at)}>{relativeTime(t.last_used_at, now)}</span>
                      : <span class="muted">never</span>}</td>
                    <td class="actions">
                      <button type="button" class="btn btn-small btn-danger-outline" aria-label={`Revoke ${t.name}`}
                        onClick={() => setRevoke(t)}>Revoke</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {revoke && (
        <ConfirmDialog title="Revoke this token?" submitLabel="Revoke" danger
          message={<>Programs using <strong>{revoke.name}</strong> stop working at once. This cannot be undone.</>}
          onClose={() => setRevoke(null)}
          onConfirm={async () => {
            await api("DELETE", `/api/tokens/${revoke.id}`);
            if (issued?.id === revoke.id) setIssued(null);
            await load();
          }} />
      )}
    </Shell>
  );
}
