// The Admin page's invitations: invite someone (a single-use link to pass on, shown once), the
// list of invitations with their status, and Revoke for those still pending.
import { useState } from "preact/hooks";
import { post, type Schemas } from "../api";
import { Dialog } from "../dialog";
import { fullDate, relativeTime } from "../format";
import { ShownOnce } from "../shown-once";
import type { Tiers } from "./usage";

export type Invitation = Schemas["InvitationInfo"];
export type IssuedInvitation = Schemas["IssuedInvitation"];

const DAYS = [1, 7, 30];
const STATUS: Record<Invitation["status"], { text: string; chip: string }> = {
  pending: { text: "Pending", chip: "chip-busy" },
  used: { text: "Used", chip: "chip-idle" },
  expired: { text: "Expired", chip: "chip-scope" },
  revoked: { text: "Revoked", chip: "chip-scope" },
};

export function InviteDialog({ tiers, onClose, onIssued }: {
  tiers: Tiers; onClose: () => void; onIssued: (inv: IssuedInvitation) => void;
}) {
  const [name, setName] = useState("");
  const [tier, setTier] = useState(tiers.default_tier);
  const [admin, setAdmin] = useState(false);
  const [days, setDays] = useState(7);
  return (
    <Dialog title="Invite a person" submitLabel="Create link" onClose={onClose} canSubmit={name.trim() !== ""}
      onSubmit={async () => {
        onIssued(await post<IssuedInvitation>("/api/invitations", {
          name: name.trim(), tier, is_admin: admin, expires_in_days: days,
        }));
      }}>
      <p class="muted">They get a link to choose their password; it works once.</p>
      <label class="field-label" for="invite-name">Name</label>
      <input id="invite-name" class="field" autocomplete="off" value={name}
        onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <p class="field-hint">What they sign in with: letters, digits or . _ @ + -</p>
      <label class="field-label spaced" for="invite-tier">Tier</label>
      <select id="invite-tier" class="field" value={tier} onChange={(e) => setTier((e.target as HTMLSelectElement).value)}>
        {Object.keys(tiers.tiers).map((t) => <option key={t} value={t}>{tiers.tiers[t]?.name ?? t}</option>)}
      </select>
      <label class="field-label spaced" for="invite-days">The link works for</label>
      <select id="invite-days" class="field" value={String(days)}
        onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
        {DAYS.map((d) => <option key={d} value={String(d)}>{d === 1 ? "1 day" : `${d} days`}</option>)}
      </select>
      <label class="check spaced">
        <input type="checkbox" checked={admin} onChange={(e) => setAdmin((e.target as HTMLInputElement).checked)} />
        <span>Administrator</span>
      </label>
    </Dialog>
  );
}

/** The link of a new invitation: shown once, to copy and pass on. */
export function InvitationLink({ issued, onDone }: { issued: IssuedInvitation; onDone: () => void }) {
  return (
    <ShownOnce id="invitation-link" title={<>Invitation for {issued.name} created</>}
      value={issued.link} label="Invitation link" onDone={onDone}>
      <p>Send them this link; it is shown only this once. It works once, until {fullDate(issued.expires_at)}.</p>
    </ShownOnce>
  );
}

export function InvitationsTable({ invitations, now, onRevoke }: {
  invitations: Invitation[]; now: number; onRevoke: (inv: Invitation) => void;
}) {
  if (invitations.length === 0) return <p class="muted">No invitations yet.</p>;
  return (
    <div class="table-wrap">
      <table class="data-table" aria-label="Invitations">
        <thead><tr><th>Name</th><th>Tier</th><th>Status</th><th>Until</th><th>Invited by</th><th /></tr></thead>
        <tbody>
          {invitations.map((inv) => (
            <tr key={inv.id} aria-label={`Invitation of ${inv.name}`}>
              <td class="strong">{inv.name}{inv.is_admin && <span class="muted"> (admin)</span>}</td>
              <td>{inv.tier}</td>
              <td><span class={`chip ${STATUS[inv.status].chip}`}>{STATUS[inv.status].text}</span></td>
              <td title={fullDate(inv.used_at ?? inv.revoked_at ?? inv.expires_at)}>
                {inv.status === "pending" ? fullDate(inv.expires_at)
                  : relativeTime(inv.used_at ?? inv.revoked_at ?? inv.expires_at, now)}
              </td>
              <td>{inv.invited_by ?? <span class="muted">command line</span>}</td>
              <td class="actions">
                {inv.status === "pending" && (
                  <button type="button" class="btn btn-small btn-danger-outline"
                    aria-label={`Revoke the invitation of ${inv.name}`} onClick={() => onRevoke(inv)}>Revoke</button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
