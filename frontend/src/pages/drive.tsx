import type { Me } from "../api";

export function DrivePage({ path }: { path: string; me: Me }) {
  return <main class="drive">Drive: {path || "/"}</main>;
}
