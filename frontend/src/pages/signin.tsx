import { useState } from "preact/hooks";
import { ApiError, post, type Me } from "../api";

export function SignInPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

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
        <h1>Dikte</h1>
        <label for="token">Access token</label>
        <input id="token" type="password" autocomplete="current-password" value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)} autofocus />
        <p class="hint">The admin token is printed by <code>dikte serve</code> at first start.</p>
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy || !token.trim()}>Sign in</button>
      </form>
    </main>
  );
}
