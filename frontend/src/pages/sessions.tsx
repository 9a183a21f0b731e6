import type { Me } from "../api";

export function SessionsPage(_: { me: Me }) {
  return <main class="sessions">Sessions</main>;
}
