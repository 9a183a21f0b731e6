// Hash routes: #/drive/<folder>, #/notebook/<path>, #/sessions, #/usage, #/tokens, #/admin, #/signin.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { page: "drive"; path: string }
  | { page: "notebook"; path: string }
  | { page: "sessions" }
  | { page: "usage" }
  | { page: "tokens" }
  | { page: "admin" }
  | { page: "signin" };

export function parseRoute(hash: string): Route {
  const h = decodeURIComponent(hash.replace(/^#\/?/, ""));
  if (h.startsWith("notebook/")) return { page: "notebook", path: h.slice("notebook/".length) };
  if (h === "sessions") return { page: "sessions" };
  if (h === "usage" || h === "tokens" || h === "admin") return { page: h };
  if (h === "signin") return { page: "signin" };
  if (h.startsWith("drive")) return { page: "drive", path: h.slice("drive".length).replace(/^\//, "") };
  return { page: "drive", path: "" };
}

export function href(route: Route): string {
  switch (route.page) {
    case "notebook":
      return `#/notebook/${encodeURI(route.path)}`;
    case "drive":
      return route.path ? `#/drive/${encodeURI(route.path)}` : "#/drive";
    default:
      return `#/${route.page}`;
  }
}

export function navigate(route: Route) {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const on = () => {
      const next = parseRoute(location.hash);
      setRoute((was) => (JSON.stringify(was) === JSON.stringify(next) ? was : next));
    };
    addEventListener("hashchange", on);
    // effects run after the first paint: a hash changed before this listener was there
    // (a link followed while the page was still starting) is read now
    on();
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}
