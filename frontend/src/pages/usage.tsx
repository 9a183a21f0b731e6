// My usage: my tier and its limits in plain words, what I used today, and when it resets.
import { useCallback, useEffect, useState } from "preact/hooks";
import { get, type Me } from "../api";
import { Shell } from "../chrome";
import { errorText, formatSize } from "../format";
import { KeyIcon, RefreshIcon } from "../icons";
import { href } from "../router";

export type ShapeLimits = { max_sessions: number; memory: number; disk: number; available: boolean };
export type TierLimits = {
  name: string;
  shapes: Record<string, ShapeLimits>;
  background_execution: boolean;
  background_sessions: number;
  idle_timeout_s: number;
  max_lifetime_s: number;
  disconnect_grace_s: number;
  daily_accelerator_hours: number;
  drive_quota: number;
  warn_before_stop_s: number;
};
export type Tiers = { default_tier: string; reset: { time: string; timezone: string }; tiers: Record<string, TierLimits> };
export type Usage = {
  tier: string;
  limits: TierLimits;
  runtime_seconds_today: Record<string, number>;
  accelerator_hours_used: number;
  accelerator_hours_left: number;
  resets_at: number;
  reset: { time: string; timezone: string };
};

/** 5400 -> "90 min", 43200 -> "12 h", 45 -> "45 s". */
export function formatDuration(s: number): string {
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3 * 3600 && s % 3600 !== 0) return `${Math.round(s / 60)} min`;
  const h = s / 3600;
  return `${Number.isInteger(h) ? h : h.toFixed(1)} h`;
}

export function formatHours(h: number): string {
  return `${Number.isInteger(h) ? h : h.toFixed(h < 10 ? 2 : 1).replace(/0$/, "")} h`;
}

const shapeName = (shape: string) => (shape === "high_ram" ? "high-RAM" : shape);

export function offeredShapes(t: TierLimits): [string, ShapeLimits][] {
  return Object.entries(t.shapes).filter(([, s]) => s.available && s.max_sessions > 0);
}

/** A meter of hours used against a daily allowance. */
export function HoursMeter({ label, used, limit }: { label: string; used: number; limit: number }) {
  const pct = limit > 0 ? Math.min(100, (used / limit) * 100) : 0;
  const level = limit <= 0 ? "" : pct >= 90 ? "is-high" : pct >= 70 ? "is-mid" : "";
  const text = limit > 0 ? `${formatHours(used)} / ${formatHours(limit)}` : "none in this tier";
  return (
    <div class="usage">
      <div class="usage-label"><span>{label}</span><span class="usage-text">{text}</span></div>
      <div class={`usage-bar ${level}`} role="meter" aria-label={`${label} used`}
        aria-valuemin={0} aria-valuemax={limit} aria-valuenow={used} aria-valuetext={text}>
        <div class="usage-fill" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

function Limits({ t }: { t: TierLimits }) {
  const shapes = offeredShapes(t);
  return (
    <dl class="facts">
      <div><dt>Sessions at once</dt><dd>{shapes.length
        ? shapes.map(([k, s]) => `${s.max_sessions} ${shapeName(k)}`).join(", ")
        : "none"}</dd></div>
      <div><dt>RAM per runtime</dt><dd>{shapes.length
        ? shapes.map(([k, s]) => `${formatSize(s.memory)} ${shapeName(k)}`).join(", ")
        : "—"}</dd></div>
      <div><dt>Idle timeout</dt><dd>{formatDuration(t.idle_timeout_s)} without activity</dd></div>
      <div><dt>Maximum lifetime</dt><dd>{formatDuration(t.max_lifetime_s)} per runtime</dd></div>
      <div><dt>Disconnect grace</dt><dd>{t.background_execution
        ? "not needed (background execution)"
        : `${formatDuration(t.disconnect_grace_s)} after you close the tab`}</dd></div>
      <div><dt>Background execution</dt><dd>{t.background_execution
        ? `on, up to ${t.background_sessions} ${t.background_sessions === 1 ? "runtime" : "runtimes"}`
        : "off"}</dd></div>
      <div><dt>Accelerator time</dt><dd>{formatHours(t.daily_accelerator_hours)} a day</dd></div>
      <div><dt>Drive</dt><dd>{formatSize(t.drive_quota)}</dd></div>
    </dl>
  );
}

export function UsagePage({ me }: { me: Me }) {
  const [usage, setUsage] = useState<Usage | null>(null);
  const [tiers, setTiers] = useState<Tiers | null>(null);
  const [error, setError] = useState("");

  const load = useCallback(async () => {
    try {
      const [u, t] = await Promise.all([get<Usage>("/api/usage"), get<Tiers>("/api/tiers")]);
      setUsage(u);
      setTiers(t);
      setError("");
    } catch (err) {
      setError(errorText(err));
    }
  }, []);

  useEffect(() => {
    document.title = "My usage – Dikte";
    void load();
    const t = setInterval(() => void load(), 30_000);
    return () => clearInterval(t);
  }, [load]);

  const runtime = usage ? Object.values(usage.runtime_seconds_today).reduce((a, b) => a + b, 0) : 0;
  const resets = usage ? new Date(usage.resets_at * 1000) : null;
  const tier = usage ? (tiers?.tiers[usage.tier] ?? usage.limits) : null;

  return (
    <Shell me={me} class="narrow-page">
      <div class="page-head">
        <div>
          <h1>My usage</h1>
          <p class="muted">Your tier's limits and what you used today. Limits are the same for everyone
            in a tier; an administrator sets your tier.</p>
        </div>
        <div class="toolbar">
          <a class="btn" href={href({ page: "tokens" })}><KeyIcon /><span>API tokens</span></a>
          <button type="button" class="btn" onClick={() => void load()}>
            <RefreshIcon /><span>Refresh</span>
          </button>
        </div>
      </div>
      {error && <p class="alert-bar alert-error" role="alert">{error}</p>}
      {usage === null || tier === null || resets === null ? (
        !error && <div class="empty muted" aria-busy="true">Loading…</div>
      ) : (
        <>
          <section class="card" aria-labelledby="today">
            <h2 id="today">Today</h2>
            <dl class="facts">
              <div><dt>Tier</dt><dd data-testid="tier"><span class="chip chip-tier">{tier.name}</span></dd></div>
              <div><dt>Runtime time today</dt><dd>{formatDuration(runtime)}</dd></div>
              <div><dt>Accelerator hours left</dt><dd>{formatHours(usage.accelerator_hours_left)}</dd></div>
              <div><dt>Usage resets</dt><dd data-testid="resets" title={`${usage.reset.time} ${usage.reset.timezone}`}>
                {resets.toLocaleString(undefined, { weekday: "short", hour: "numeric", minute: "2-digit" })}
                {" "}<span class="muted">(your time)</span>
              </dd></div>
            </dl>
            <HoursMeter label="Accelerator hours" used={usage.accelerator_hours_used}
              limit={usage.limits.daily_accelerator_hours} />
          </section>
          <section class="card" aria-labelledby="limits">
            <h2 id="limits">Limits of the {tier.name} tier</h2>
            <Limits t={usage.limits} />
          </section>
        </>
      )}
    </Shell>
  );
}
