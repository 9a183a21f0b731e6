import { useEffect, useState } from "preact/hooks";
import { ApiError, post, type Me } from "../api";
import { Logo } from "../icons";

// The way of signing in used last on this browser (never the secret itself).
const MODE_KEY = "dikte.signin.mode";
type Mode = "password" | "token";

function savedMode(): Mode {
  try {
    return localStorage.getItem(MODE_KEY) === "token" ? "token" : "password";
  } catch {
    return "password";
  }
}

export function SignInPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [mode, setMode] = useState<Mode>(savedMode);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in – Dikte";
  }, []);

  function switchTo(next: Mode) {
    setMode(next);
    setError("");
  }

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const body = mode === "token" ? { token: token.trim() } : { name: name.trim(), password };
      const me = await post<Me>("/api/auth/login", body);
      try {
        localStorage.setItem(MODE_KEY, mode);
      } catch {
        /* private mode: nothing to remember */
      }
      onSignedIn(me);
    } catch (err) {
      // the server's sentence, e.g. "Too many failed sign-ins ... Try again in 5 minutes."
      setError(err instanceof ApiError ? err.message : "The server could not be reached.");
    } finally {
      setBusy(false);
    }
  }

  const ready = mode === "token" ? token.trim() !== "" : name.trim() !== "" && password !== "";

  return (
    <main class="signin">
      <form onSubmit={submit} class="signin-card">
        <div class="signin-brand">
          <Logo />
          <span>Dikte</span>
        </div>
        <h1>Sign in</h1>
        <p class="signin-lead">to your notebooks and drive</p>
        {mode === "password" ? (
          <>
            <label for="name" class="field-label">Name</label>
            <input id="name" class="field" type="text" autocomplete="username" value={name}
              spellcheck={false} autocapitalize="none"
              onInput={(e) => setName((e.target as HTMLInputElement).value)} autofocus />
            <label for="password" class="field-label" style={{ marginTop: "14px" }}>Password</label>
            <input id="password" class="field" type="password" autocomplete="current-password"
              value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            <p class="field-hint">Your administrator gives you your name and password; there is no
              sign-up.</p>
          </>
        ) : (
          <>
            <label for="token" class="field-label">Access token</label>
            <input id="token" class="field" type="password" autocomplete="current-password"
              value={token} placeholder="dk_…" spellcheck={false}
              onInput={(e) => setToken((e.target as HTMLInputElement).value)} autofocus />
            <p class="field-hint">The admin token is printed by <code>dikte serve</code> at first
              start; ask your administrator for yours.</p>
          </>
        )}
        {error && <p class="form-error" role="alert">{error}</p>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy || !ready}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <button type="button" class="btn btn-quiet btn-block" style={{ marginTop: "8px" }}
          onClick={() => switchTo(mode === "token" ? "password" : "token")}>
          {mode === "token" ? "Use your name and password instead" : "Use an access token instead"}
        </button>
      </form>
    </main>
  );
}
