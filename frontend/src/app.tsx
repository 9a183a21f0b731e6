import { useEffect, useState } from "preact/hooks";
import { get, setSignedOutHandler, type Me } from "./api";
import { navigate, useRoute } from "./router";
import { DrivePage } from "./pages/drive";
import { NotebookPage } from "./pages/notebook";
import { SessionsPage } from "./pages/sessions";
import { UsagePage } from "./pages/usage";
import { TokensPage } from "./pages/tokens";
import { AdminPage } from "./pages/admin";
import { SignInPage } from "./pages/signin";

export function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    setSignedOutHandler(() => setMe(null));
    get<Me>("/api/me").then(setMe, () => setMe(null));
  }, []);

  if (me === undefined) return <div class="loading" aria-busy="true" />;
  if (me === null || route.page === "signin") {
    return (
      <SignInPage
        onSignedIn={(who) => {
          setMe(who);
          if (route.page === "signin") navigate({ page: "drive", path: "" });
        }}
      />
    );
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
