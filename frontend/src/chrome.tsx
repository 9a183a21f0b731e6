// The app's chrome: the top bar every signed-in page shows. The notebook page places its own
// title and toolbar in it as children.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { post, type Me } from "./api";
import { errorText } from "./format";
import { AdminIcon, DriveIcon, Logo, SessionsIcon, SignOutIcon, UsageIcon } from "./icons";
import { href, navigate, useRoute } from "./router";

export function TopBar({ me, children }: { me: Me; children?: ComponentChildren }) {
  const route = useRoute();
  const [signingOut, setSigningOut] = useState(false);

  async function signOut() {
    setSigningOut(true);
    try {
      await post("/api/auth/logout");
    } catch (err) {
      // The cookie is gone either way once the server answered; say so only when it did not.
      setSigningOut(false);
      alert(errorText(err));
      return;
    }
    navigate({ page: "signin" });
  }

  const here = (page: string) => (route.page === page ? "page" : undefined);

  return (
    <header class="topbar">
      <a class="app-brand" href={href({ page: "drive", path: "" })} aria-label="Dikte — My Drive">
        <Logo />
        <span class="app-brand-name">Dikte</span>
      </a>
      {children !== undefined && <div class="topbar-slot">{children}</div>}
      <nav class="topnav" aria-label="Main">
        <a href={href({ page: "drive", path: "" })} aria-current={here("drive")} class="topnav-link">
          <DriveIcon /><span class="topnav-label">Drive</span>
        </a>
        <a href={href({ page: "sessions" })} aria-current={here("sessions")} class="topnav-link">
          <SessionsIcon /><span class="topnav-label">Manage sessions</span>
        </a>
        <a href={href({ page: "usage" })} aria-current={here("usage") ?? here("tokens")} class="topnav-link">
          <UsageIcon /><span class="topnav-label">My usage</span>
        </a>
        {me.is_admin && (
          <a href={href({ page: "admin" })} aria-current={here("admin")} class="topnav-link">
            <AdminIcon /><span class="topnav-label">Admin</span>
          </a>
        )}
      </nav>
      <div class="me" title={me.is_admin ? `${me.name} (administrator)` : me.name}>
        <span class="avatar" aria-hidden="true">{(me.name[0] ?? "?").toUpperCase()}</span>
        <span class="me-name">{me.name}</span>
      </div>
      <button type="button" class="signout" onClick={signOut} disabled={signingOut}>
        <SignOutIcon /><span class="signout-label">Sign out</span>
      </button>
    </header>
  );
}

/** A page with the top bar and a scrolling body. */
export function Shell({ me, children, class: cls }: { me: Me; children: ComponentChildren; class?: string }) {
  return (
    <div class="shell">
      <TopBar me={me} />
      <main class={`page ${cls ?? ""}`}>{children}</main>
    </div>
  );
}
