import { useEffect, useState } from "preact/hooks";
import { ApiError, post, type Me } from "../api";
import { Logo } from "../icons";

export function SignInPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in – Dikte";
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      onSignedIn(await post<Me>("/api/auth/login", { token: token.trim() }));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "The server could not be reached.");
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <form onSubmit={submit} class="signin-card">
        <div class="signin-brand">
          <Logo />
          <span>Dikte</span>
        </div>
        <h1>Sign in</h1>
        <p class="signin-lead">to your notebooks and drive</p>
        <label for="token" class="field-label">Access token</label>
        <input id="token" class="field" type="password" autocomplete="current-password" value={token}
          placeholder="dk_…" spellcheck={false}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} autofocus />
        <p class="field-hint">The admin token is printed by <code>dikte serve</code> at first start;
          ask your administrator for yours.</p>
        {error && <p class="form-error" role="alert">{error}</p>}
        <button type="submit" class="btn btn-primary btn-block" disabled={busy || !token.trim()}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
