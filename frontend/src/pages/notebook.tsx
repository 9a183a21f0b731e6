import type { Me } from "../api";

export function NotebookPage({ path }: { path: string; me: Me }) {
  return <main class="notebook">{path}</main>;
}
