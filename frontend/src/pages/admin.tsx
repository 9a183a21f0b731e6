// Administration: people (tier, admin, disabled, add, invite), invitations, everyone's live
// sessions with Terminate, and everyone's usage today. Only administrators get anything here;
// the server checks too.
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, get, post, type Me, type Schemas } from "../api";
import { Shell } from "../chrome";
import { ConfirmDialog, Dialog } from "../dialog";
import { errorText, formatSize, fullDate, relativeTime } from "../format";
import { PlusIcon, RefreshIcon } from "../icons";
import { AcceleratorsSection } from "./admin-accelerators";
import { PoolSection } from "./admin-pool";
import { HoursMeter, formatDuration, formatHours, type Tiers, type Usage } from "./usage";
import {
  InvitationLink, InvitationsTable, InviteDialog, type Invitation, type IssuedInvitation,
} from "./admin-invitations";

type Person = Schemas["PersonInfo"];
type AdminSession = Schemas["AdminSessionInfo"];
type PersonUsage = Usage & { person_id: number; name: string; disabled: boolean };

const REFRESH_MS = 5000;

function AddPersonDialog({ tiers, onClose, onAdded }: {
  tiers: Tiers; onClose: () => void; onAdded: () => void;
}) {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [tier, setTier] = useState(tiers.default_tier);
  return (
    <Dialog title="Add a person" submitLabel="Add" onClose={onClose} canSubmit={name.trim() !== ""}
      onSubmit={async () => {
        await post("/api/people", { name: name.trim(), password: password || null, tier });
        onAdded();
      }}>
      <label class="field-label" for="new-name">Name</label>
      <input id="new-name" class="field" autocomplete="off" value={name}
        onInput={(e) => setName((e.target as HTMLInputElement).value)} />
      <label class="field-label spaced" for="new-password">Password</label>
      <input id="new-password" class="field" type="password" autocomplete="new-password" value={password}
        onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      <p class="field-hint">At least 8 characters. Leave it empty and they sign in with a token.</p>
      <label class="field-label spaced" for="new-tier">Tier</label>
      <select id="new-tier" class="field" value={tier} onChange={(e) => setTier((e.target as HTMLSelectElement).value)}>
        {Object.keys(tiers.tiers).map((t) => <option key={t} value={t}>{tiers.tiers[t]?.name ?? t}</option>)}
      </select>
    </Dialog>
  );
}

export function AdminPage({ me }: { me: Me }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [sessions, setSessions] = useState<AdminSession[] | null>(null);
  const [usage, setUsage] = useState<PersonUsage[] | null>(null);
  const [tiers, setTiers] = useState<Tiers | null>(null);
  const [invitations, setInvitations] = useState<Invitation[] | null>(null);
  const [inviting, setInviting] = useState(false);
  const [issued, setIssued] = useState<IssuedInvitation | null>(null);
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const [disabling, setDisabling] = useState<Person | null>(null);
  const [terminating, setTerminating] = useState<AdminSession | null>(null);
  const [now, setNow] = useState(Date.now());

  const load = useCallback(async () => {
    try {
      const [p, s, u, t, i] = await Promise.all([
        get<Person[]>("/api/people"), get<AdminSession[]>("/api/admin/sessions"),
        get<PersonUsage[]>("/api/admin/usage"), get<Tiers>("/api/tiers"),
        get<Invitation[]>("/api/invitations")]);
      setPeople(p);
      setInvitations(i);
      setSessions(s);
      setUsage(u);
      setTiers(t);
      setNow(Date.now());
    } catch (err) {
      setError(errorText(err));
    }
  }, []);

  useEffect(() => {
    document.title = "Admin – Dikte";
    if (!me.is_admin) return;
    void load();
    const t = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(t);
  }, [load, me.is_admin]);

  async function change(p: Person, body: Record<string, unknown>) {
    setError("");
    try {
      await api("PATCH", `/api/people/${p.id}`, body);
    } catch (err) {
      setError(errorText(err));
    }
    await load();
  }

  if (!me.is_admin) {
    return (
      <Shell me={me} class="wide-page">
        <div class="page-head"><div><h1>Admin</h1></div></div>
        <p class="alert-bar alert-error" role="alert">Only an administrator may see this page.</p>
      </Shell>
    );
  }

  return (
    <Shell me={me} class="wide-page">
      <div class="page-head">
        <div>
          <h1>Admin</h1>
          <p class="muted">People, everyone's live sessions and today's usage.</p>
        </div>
        <div class="toolbar">
          <button type="button" class="btn btn-primary" onClick={() => setAdding(true)} disabled={!tiers}>
            <PlusIcon /><span>Add person</span>
          </button>
          <button type="button" class="btn" onClick={() => setInviting(true)} disabled={!tiers}>
            <PlusIcon /><span>Invite person</span>
          </button>
          <button type="button" class="btn" onClick={() => void load()}><RefreshIcon /><span>Refresh</span></button>
        </div>
      </div>
      {error && <p class="alert-bar alert-error" role="alert">{error}</p>}
      {issued && <InvitationLink issued={issued} onDone={() => setIssued(null)} />}

      <section class="card" aria-labelledby="people-head">
        <h2 id="people-head">People</h2>
        {people === null || tiers === null ? <p class="muted" aria-busy="true">Loading…</p> : (
          <div class="table-wrap">
            <table class="data-table" aria-label="People">
              <thead><tr><th>Name</th><th>Tier</th><th>Admin</th><th>Disabled</th><th>Added</th></tr></thead>
              <tbody>
                {people.map((p) => (
                  <tr key={p.id} aria-label={p.name} class={p.disabled ? "is-disabled" : ""}>
                    <td class="strong">{p.name}{p.id === me.id && <span class="muted"> (you)</span>}</td>
                    <td>
                      <select class="field field-small" aria-label={`Tier of ${p.name}`} value={p.tier}
                        onChange={(e) => void change(p, { tier: (e.target as HTMLSelectElement).value })}>
                        {Object.keys(tiers.tiers).map((t) => <option key={t} value={t}>{tiers.tiers[t]?.name ?? t}</option>)}
                        {!(p.tier in tiers.tiers) && <option value={p.tier}>{p.tier}</option>}
                      </select>
                    </td>
                    <td>
                      <input type="checkbox" class="switch" aria-label={`${p.name} is an administrator`} checked={p.is_admin}
                        onChange={(e) => void change(p, { is_admin: (e.target as HTMLInputElement).checked })} />
                    </td>
                    <td>
                      <input type="checkbox" class="switch" aria-label={`${p.name} is disabled`} checked={p.disabled}
                        onChange={(e) => {
                          const on = (e.target as HTMLInputElement).checked;
                          (e.target as HTMLInputElement).checked = p.disabled;
                          if (on) setDisabling(p);
                          else void change(p, { disabled: false });
                        }} />
                    </td>
                    <td class="muted" title={fullDate(p.created_at)}>{relativeTime(p.created_at, now)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="invitations-head">
        <h2 id="invitations-head">Invitations</h2>
        {invitations === null ? <p class="muted" aria-busy="true">Loading…</p> : (
          <InvitationsTable invitations={invitations} now={now} onRevoke={setRevoking} />
        )}
      </section>

      <section class="card" aria-labelledby="live-head">
        <h2 id="live-head">Live sessions</h2>
        {sessions === null ? <p class="muted" aria-busy="true">Loading…</p> : sessions.length === 0 ? (
          <p class="muted">No one has a runtime now.</p>
        ) : (
          <div class="table-wrap">
            <table class="data-table" aria-label="Live sessions">
              <thead><tr><th>Person</th><th>Notebook</th><th>Machine</th><th>Started</th><th>Status</th><th>RAM</th><th /></tr></thead>
              <tbody>
                {sessions.map((s) => (
                  <tr key={s.runtime_id} aria-label={`${s.person_name}: ${s.notebook_path}`}>
                    <td class="strong">{s.person_name}</td>
                    <td class="ellipsis" title={s.notebook_path}>{s.notebook_path}</td>
                    <td>{s.node || "this server"}</td>
                    <td title={fullDate(s.started_at)}>{relativeTime(s.started_at, now)}</td>
                    <td><span class={`chip ${s.busy ? "chip-busy" : "chip-idle"}`}>{s.busy ? "Busy" : "Idle"}</span></td>
                    <td class="num">{formatSize(s.memory_bytes)}{s.memory_limit ? ` / ${formatSize(s.memory_limit)}` : ""}</td>
                    <td class="actions">
                      <button type="button" class="btn btn-small btn-danger-outline"
                        aria-label={`Terminate ${s.person_name}'s ${s.notebook_path}`}
                        onClick={() => setTerminating(s)}>Terminate</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section class="card" aria-labelledby="usage-head">
        <h2 id="usage-head">Usage today</h2>
        {usage === null ? <p class="muted" aria-busy="true">Loading…</p> : (
          <div class="table-wrap">
            <table class="data-table" aria-label="Usage today">
              <thead><tr><th>Name</th><th>Tier</th><th>Runtime today</th><th class="meter-col">Accelerator hours</th></tr></thead>
              <tbody>
                {usage.map((u) => (
                  <tr key={u.person_id} aria-label={u.name}>
                    <td class="strong">{u.name}</td>
                    <td>{u.limits.name}</td>
                    <td class="num">{formatDuration(Object.values(u.runtime_seconds_today).reduce((a, b) => a + b, 0))}</td>
                    <td class="meter-col">
                      <HoursMeter label={`${formatHours(u.accelerator_hours_left)} left`}
                        used={u.accelerator_hours_used} limit={u.limits.daily_accelerator_hours} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <AcceleratorsSection />
      <PoolSection />

      {inviting && tiers && (
        <InviteDialog tiers={tiers} onClose={() => setInviting(false)}
          onIssued={(inv) => { setIssued(inv); void load(); }} />
      )}
      {revoking && (
        <ConfirmDialog title={`Revoke the invitation of ${revoking.name}?`} submitLabel="Revoke" danger
          message={<>Its link stops working at once. You can invite {revoking.name} again later.</>}
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api("DELETE", `/api/invitations/${revoking.id}`);
            await load();
          }} />
      )}
      {adding && tiers && <AddPersonDialog tiers={tiers} onClose={() => setAdding(false)} onAdded={() => void load()} />}
      {disabling && (
        <ConfirmDialog title={`Disable ${disabling.name}?`} submitLabel="Disable" danger
          message={<>They are signed out everywhere, every token of theirs is revoked and their runtimes stop.
            Enabling them again does not bring the tokens back.</>}
          onClose={() => setDisabling(null)}
          onConfirm={async () => {
            await api("PATCH", `/api/people/${disabling.id}`, { disabled: true });
            await load();
          }} />
      )}
      {terminating && (
        <ConfirmDialog title="Terminate this session?" submitLabel="Terminate" danger
          message={<>The runtime of <strong>{terminating.notebook_path}</strong> ({terminating.person_name}) stops;
            they are told an administrator terminated it. Their notebook and drive stay.</>}
          onClose={() => setTerminating(null)}
          onConfirm={async () => {
            await api("DELETE", `/api/admin/sessions/${encodeURIComponent(terminating.runtime_id)}`);
            await load();
          }} />
      )}
    </Shell>
  );
}
