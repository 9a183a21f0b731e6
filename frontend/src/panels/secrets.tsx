// Secrets, as in Colab: your named values (API keys, passwords), stored encrypted on the server.
// Code reads one with google.colab.userdata.get(name) once "Notebook access" is on for this
// notebook. Values are write-only here: the panel never shows a stored value, only replaces it.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, get, post, type Schemas } from "../api";
import type { NotebookHandle } from "../notebook/handle";
import "../styles/secrets.css";

type Secret = Schemas["SecretEntry"];

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/;

const secretUrl = (name: string) => `/api/secrets/${encodeURIComponent(name)}`;

const svg = (d: string) => (
  <svg class="sp-file-icon" viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
    <path d={d} fill="currentColor" />
  </svg>
);
const EDIT = svg("M3 17.25V21h3.75L17.81 9.94l-3.75-3.75zM20.71 7.04a1 1 0 0 0 0-1.41l-2.34-2.34a1 1 0 0 0-1.41 0l-1.83 1.83 3.75 3.75z");
const DELETE = svg("M6 19a2 2 0 0 0 2 2h8a2 2 0 0 0 2-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z");

/** A ref that focuses its element once, when it mounts. */
function useAutofocus<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => ref.current?.focus(), []);
  return ref;
}

export function SecretsPanel({ nb }: { nb: NotebookHandle }) {
  const [secrets, setSecrets] = useState<Secret[] | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    get<Secret[]>("/api/secrets").then(
      (s) => live && (setSecrets(s), setError("")),
      (e) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [reload]);

  const refresh = () => setReload((r) => r + 1);
  const replace = (s: Secret) =>
    setSecrets((all) => (all ?? []).map((x) => (x.name === s.name ? s : x)));
  const fail = (e: unknown) => setError(e instanceof Error ? e.message : String(e));

  return (
    <div class="sp-secrets">
      <p class="sp-secrets-intro">
        Secrets are private to you and stored encrypted. A notebook's code reads one with{" "}
        <code>userdata.get('NAME')</code> (<code>from google.colab import userdata</code>) once its{" "}
        <strong>Notebook access</strong> is on for this notebook.
      </p>
      {error && (
        <p class="sp-status sp-error" role="alert">
          {error}
        </p>
      )}
      {secrets && secrets.length > 0 && (
        <ul class="sp-secret-list" aria-label="Secrets">
          <li class="sp-secret-head" aria-hidden="true">
            <span>Notebook access</span>
            <span>Name</span>
          </li>
          {secrets.map((s) => (
            <SecretRow key={s.name} nb={nb} secret={s} onChange={replace} onDeleted={refresh} onError={fail} />
          ))}
        </ul>
      )}
      {secrets && secrets.length === 0 && !adding && (
        <p class="sp-empty">You have no secrets yet.</p>
      )}
      {adding ? (
        <NewSecret
          taken={(name) => !!secrets?.some((s) => s.name === name)}
          onDone={(created) => {
            setAdding(false);
            if (created) refresh();
          }}
        />
      ) : (
        <button type="button" class="sp-btn sp-primary sp-secret-add" onClick={() => setAdding(true)}>
          Add new secret
        </button>
      )}
    </div>
  );
}

function SecretRow({ nb, secret, onChange, onDeleted, onError }: {
  nb: NotebookHandle;
  secret: Secret;
  onChange: (s: Secret) => void;
  onDeleted: () => void;
  onError: (e: unknown) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const granted = secret.notebooks.includes(nb.path);

  const toggle = async () => {
    setBusy(true);
    try {
      onChange(await post<Secret>(`${secretUrl(secret.name)}/access`, { path: nb.path, granted: !granted }));
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    try {
      await api("DELETE", secretUrl(secret.name));
      onDeleted();
    } catch (e) {
      onError(e);
    }
  };

  return (
    <li class="sp-secret">
      <div class="sp-secret-line">
        <button
          type="button"
          role="switch"
          class="sp-switch"
          aria-checked={granted}
          aria-label={`Notebook access for ${secret.name}`}
          title={granted ? "This notebook may read it" : "This notebook may not read it"}
          disabled={busy}
          onClick={toggle}
        >
          <span class="sp-switch-knob" />
        </button>
        <span class="sp-secret-name" title={secret.name}>
          {secret.name}
        </span>
        <span class="sp-secret-value" aria-label="Value hidden">
          ••••••••
        </span>
        {confirming ? (
          <span class="sp-confirm" role="group" aria-label={`Delete ${secret.name}?`}>
            <button type="button" class="sp-btn sp-danger" onClick={remove}>
              Delete
            </button>
            <button type="button" class="sp-btn" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <span class="sp-file-actions">
            <button
              type="button"
              class="sp-icon-btn"
              aria-label={`Edit value of ${secret.name}`}
              title="Edit value"
              aria-expanded={editing}
              onClick={() => setEditing(!editing)}
            >
              {EDIT}
            </button>
            <button
              type="button"
              class="sp-icon-btn"
              aria-label={`Delete ${secret.name}`}
              title="Delete"
              onClick={() => setConfirming(true)}
            >
              {DELETE}
            </button>
          </span>
        )}
      </div>
      {editing && (
        <ValueForm
          label={`New value of ${secret.name}`}
          onCancel={() => setEditing(false)}
          onSave={async (value) => {
            onChange(await api<Secret>("PUT", secretUrl(secret.name), { value }));
            setEditing(false);
          }}
        />
      )}
      {secret.notebooks.length > 0 && (
        <p class="sp-secret-grants">
          {granted ? "Granted to this notebook" : "Granted to"}
          {secret.notebooks.filter((p) => p !== nb.path).length > 0 &&
            `${granted ? " and " : " "}${secret.notebooks.filter((p) => p !== nb.path).join(", ")}`}
        </p>
      )}
    </li>
  );
}

/** A value field with a show/hide control; the stored value is never filled in. */
function ValueForm({ label, onSave, onCancel }: {
  label: string;
  onSave: (value: string) => Promise<void>;
  onCancel: () => void;
}) {
  const [value, setValue] = useState("");
  const [shown, setShown] = useState(false);
  const [error, setError] = useState("");
  const first = useAutofocus<HTMLInputElement>();
  return (
    <form
      class="sp-secret-form"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await onSave(value);
        } catch (err) {
          setError(err instanceof Error ? err.message : String(err));
        }
      }}
    >
      <div class="sp-row">
        <input
          class="sp-input"
          type="password"
          aria-label={label}
          placeholder="Value"
          autocomplete="off"
          value={value}
          ref={first}
          onInput={(e) => setValue(e.currentTarget.value)}
          onKeyDown={(e) => e.key === "Escape" && onCancel()}
        />
        <button
          type="button"
          class="sp-btn"
          aria-pressed={shown}
          onClick={() => {
            if (first.current) first.current.type = shown ? "password" : "text";
            setShown(!shown);
          }}
        >
          {shown ? "Hide" : "Show"}
        </button>
      </div>
      {error && (
        <p class="sp-status sp-error" role="alert">
          {error}
        </p>
      )}
      <div class="sp-row">
        <button type="submit" class="sp-btn sp-primary">
          Save
        </button>
        <button type="button" class="sp-btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function NewSecret({ taken, onDone }: { taken: (name: string) => boolean; onDone: (created: boolean) => void }) {
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState("");
  const first = useAutofocus<HTMLInputElement>();
  const save = async (e: Event) => {
    e.preventDefault();
    const n = name.trim();
    if (!NAME.test(n)) {
      setError("A name is 1 to 100 letters, digits, _ . or -, starting with a letter or _.");
      return;
    }
    if (taken(n)) {
      setError(`You already have a secret named ${n}: edit its value instead.`);
      return;
    }
    try {
      await api("PUT", secretUrl(n), { value });
      onDone(true);
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form class="sp-secret-form" aria-label="New secret" onSubmit={save}>
      <input
        class="sp-input"
        aria-label="Secret name"
        placeholder="Name, e.g. HF_TOKEN"
        autocomplete="off"
        spellcheck={false}
        value={name}
        ref={first}
        onInput={(e) => setName(e.currentTarget.value)}
        onKeyDown={(e) => e.key === "Escape" && onDone(false)}
      />
      <input
        class="sp-input"
        type="password"
        aria-label="Secret value"
        placeholder="Value"
        autocomplete="off"
        value={value}
        onInput={(e) => setValue(e.currentTarget.value)}
        onKeyDown={(e) => e.key === "Escape" && onDone(false)}
      />
      {error && (
        <p class="sp-status sp-error" role="alert">
          {error}
        </p>
      )}
      <div class="sp-row">
        <button type="submit" class="sp-btn sp-primary">
          Save
        </button>
        <button type="button" class="sp-btn" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
