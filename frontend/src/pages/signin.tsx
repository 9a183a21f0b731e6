import { useEffect, useLayoutEffect, useState } from "preact/hooks";
import { ApiError, post, type Schemas } from "../api";
import { Logo } from "../icons";

type SignedIn = Schemas["SignedIn"];

// Where to go after signing in. The sign-in page lives at /signin?next=<where you were going>;
// `next` comes from a link anyone can write, so it is followed only when it is a path on this
// server (the server applies the same rule first and answers the target with the sign-in).
export const DRIVE = "/#/drive";
const MAX_NEXT = 2048;

/** An absolute URL on this origin for `next`, or the drive. */
export function sameSite(next: string | null | undefined): string {
  const fallback = new URL(DRIVE, location.origin).href;
  // one leading slash, then printable ASCII without backslashes: no //host, /\host, schemes,
  // whitespace or control characters
  if (!next || next.length > MAX_NEXT || !/^\/(?![/\\])[\x21-\x7e]*$/.test(next) || next.includes("\\")) {
    return fallback;
  }
  let url: URL;
  try {
    url = new URL(next, location.origin);
  } catch {
    return fallback;
  }
  // the whole URL, not its path: a path such as /.//x resolves to //x, which alone would be a host
  return url.origin === location.origin ? url.href : fallback;
}

/** The page's `next` parameter (only the sign-in page has one). */
function nextParam(): string | null {
  return location.pathname === "/signin" ? new URLSearchParams(location.search).get("next") : null;
}

/** Go where signing in should lead. `replace`: the sign-in page leaves no history entry. */
export function goNext(next: string | null = nextParam()) {
  location.replace(sameSite(next));
}

/** Show /signin?next=<this page> in the address bar, so a reload keeps where to go afterwards. */
function moveToSignInAddress() {
  if (location.pathname === "/signin") return;
  const here = location.pathname + location.search + location.hash;
  const pointless = here === "/" || here === DRIVE || /^\/#\/?signin$/.test(here);
  history.replaceState(null, "", pointless ? "/signin" : `/signin?next=${encodeURIComponent(here)}`);
}

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

export function SignInPage() {
  const [mode, setMode] = useState<Mode>(savedMode);
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useLayoutEffect(moveToSignInAddress, []); // before the page shows
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
      const next = nextParam();
      const body = mode === "token" ? { token: token.trim(), next } : { name: name.trim(), password, next };
      const signedIn = await post<SignedIn>("/api/auth/login", body);
      try {
        localStorage.setItem(MODE_KEY, mode);
      } catch {
        /* private mode: nothing to remember */
      }
      goNext(signedIn.next);
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
