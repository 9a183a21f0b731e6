// Accepting an invitation: /invite#<code>. The code is in the fragment, which the browser never
// sends to the server (no access log, no Referer); this page reads it and posts it in a body.
// The person chooses a password, is signed in, and lands in their drive.
import { useEffect, useState } from "preact/hooks";
import { post, type Schemas } from "../api";
import { errorText, fullDate } from "../format";
import { Logo } from "../icons";
import { goNext } from "./signin";

type Preview = Schemas["InvitationPreview"];
type SignedIn = Schemas["SignedIn"];
const MIN_PASSWORD = 8;

function codeFromAddress(): string {
  try {
    return decodeURIComponent(location.hash.replace(/^#/, "")).trim();
  } catch {
    return "";
  }
}

export function InvitePage() {
  const [code] = useState(codeFromAddress);
  const [invitation, setInvitation] = useState<Preview | null>(null);
  const [refusal, setRefusal] = useState("");
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Your invitation – Dikte";
    if (!code) {
      setRefusal("This invitation link is not complete: it ends with # and a code. Copy all of it, "
        + "or ask your administrator for a new one.");
      return;
    }
    post<Preview>("/api/auth/invitation", { code }).then(setInvitation,
      (err) => setRefusal(errorText(err)));
  }, [code]);

  async function submit(e: Event) {
    e.preventDefault();
    if (password !== again) {
      setError("The two passwords are not the same.");
      return;
    }
    setBusy(true);
    setError("");
    try {
      const signedIn = await post<SignedIn>("/api/auth/invitation/accept", { code, password });
      goNext(signedIn.next); // replaces this address, so the code leaves the history too
    } catch (err) {
      setError(errorText(err));
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
        <h1>Your invitation</h1>
        {refusal ? (
          <>
            <p class="form-error" role="alert">{refusal}</p>
            <a class="btn btn-quiet btn-block" href="/signin">Go to sign-in</a>
          </>
        ) : invitation === null ? (
          <p class="muted" aria-busy="true">Checking the invitation…</p>
        ) : (
          <>
            <p class="signin-lead">Welcome, {invitation.name}. Choose a password to finish; you
              sign in with your name and this password from now on.</p>
            <label for="invite-name" class="field-label">Name</label>
            <input id="invite-name" class="field" type="text" autocomplete="username"
              value={invitation.name} readOnly />
            <label for="invite-password" class="field-label" style={{ marginTop: "14px" }}>New password</label>
            <input id="invite-password" class="field" type="password" autocomplete="new-password"
              value={password} autofocus
              onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            <label for="invite-again" class="field-label" style={{ marginTop: "14px" }}>Repeat the password</label>
            <input id="invite-again" class="field" type="password" autocomplete="new-password"
              value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
            <p class="field-hint">At least {MIN_PASSWORD} characters. This link works once, until{" "}
              {fullDate(invitation.expires_at)}.</p>
            {error && <p class="form-error" role="alert">{error}</p>}
            <button type="submit" class="btn btn-primary btn-block"
              disabled={busy || password.length < MIN_PASSWORD || again === ""}>
              {busy ? "Signing in…" : "Set password and sign in"}
            </button>
          </>
        )}
      </form>
    </main>
  );
}
