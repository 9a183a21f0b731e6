import { useEffect, useState } from "preact/hooks";
import { get, setSignedOutHandler, type Me } from "./api";
import { useRoute } from "./router";
import { DrivePage } from "./pages/drive";
import { NotebookPage } from "./pages/notebook";
import { SessionsPage } from "./pages/sessions";
import { UsagePage } from "./pages/usage";
import { TokensPage } from "./pages/tokens";
import { AdminPage } from "./pages/admin";
import { SignInPage, goNext } from "./pages/signin";
import { InvitePage } from "./pages/invite";

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  // pages at their own address: /invite#<code> (anyone) and /signin?next=<where to go after>
  const invite = location.pathname === "/invite";
  const signInAddress = location.pathname === "/signin";

  useEffect(() => {
    if (invite) return;
    setSignedOutHandler(() => setMe(null));
    get<Me>("/api/me").then(setMe, () => setMe(null));
  }, [invite]);

  // signed in already at /signin?next=...: on to `next` (after signing out, the #/signin route)
  const onward = !!me && signInAddress && route.page !== "signin";
  useEffect(() => {
    if (onward) goNext();
  }, [onward]);

  if (invite) return <InvitePage />;
  if (me === undefined || onward) return <div class="loading" aria-busy="true" />;
  if (me === null || route.page === "signin") {
    return <SignInPage />; // signing in leaves for `next`, a new page load
  }
  switch (route.page) {
    case "notebook":
      return <NotebookPage path={route.path} me={me} />;
    case "sessions":
      return <SessionsPage me={me} />;
    case "usage":
      return <UsagePage me={me} />;
    case "tokens":
      return <TokensPage me={me} />;
    case "admin":
      return <AdminPage me={me} />;
    default:
      return <DrivePage path={route.path} me={me} />;
  }
}
