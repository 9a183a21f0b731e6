// The folder's path as links: My Drive › Course › Week 1.
import { href } from "../router";

export function Breadcrumb({ path }: { path: string }) {
  const parts = path ? path.split("/") : [];
  const crumbs = [{ name: "My Drive", path: "" }];
  parts.forEach((name, i) => crumbs.push({ name, path: parts.slice(0, i + 1).join("/") }));
  return (
    <nav class="breadcrumb" aria-label="Folder">
      <ol>
        {crumbs.map((c, i) => {
          const last = i === crumbs.length - 1;
          return (
            <li key={c.path}>
              {last ? (
                <h1 class="crumb crumb-current" aria-current="page">{c.name}</h1>
              ) : (
                <>
                  <a class="crumb" href={href({ page: "drive", path: c.path })}>{c.name}</a>
                  <span class="crumb-sep" aria-hidden="true">›</span>
                </>
              )}
            </li>
          );
        })}
      </ol>
    </nav>
  );
}
