// Small shared pieces: health badges and the server's presence line.
import { formatAgo, formatFull } from '../utils/formatters.js';
import { HEALTH_LABEL } from '../utils/levels.js';

export const HEALTH_STYLE = {
  critical: 'bg-red-100 text-red-800 ring-red-600/30 dark:bg-red-500/15 dark:text-red-300 dark:ring-red-400/40',
  offline: 'bg-slate-200 text-slate-800 ring-slate-500/40 dark:bg-slate-700/60 dark:text-slate-200 dark:ring-slate-400/40',
  warning: 'bg-amber-100 text-amber-900 ring-amber-600/30 dark:bg-amber-500/15 dark:text-amber-200 dark:ring-amber-400/40',
  nodata: 'bg-sky-100 text-sky-900 ring-sky-600/30 dark:bg-sky-500/15 dark:text-sky-200 dark:ring-sky-400/40',
  stale: 'bg-slate-100 text-slate-700 ring-slate-400/40 dark:bg-slate-800 dark:text-slate-300 dark:ring-slate-500/40',
  ok: 'bg-emerald-100 text-emerald-800 ring-emerald-600/30 dark:bg-emerald-500/15 dark:text-emerald-300 dark:ring-emerald-400/40',
};

export const HEALTH_EDGE = {
  critical: 'border-l-red-500',
  offline: 'border-l-slate-500',
  warning: 'border-l-amber-500',
  nodata: 'border-l-sky-400',
  stale: 'border-l-slate-300 dark:border-l-slate-600',
  ok: 'border-l-emerald-500',
};

const DOT = {
  critical: 'bg-red-500',
  offline: 'bg-slate-500',
  warning: 'bg-amber-500',
  nodata: 'bg-sky-500',
  stale: 'bg-slate-400',
  ok: 'bg-emerald-500',
};

export function HealthBadge({ health }) {
  return (
    <span
      className={`inline-flex shrink-0 items-center gap-1.5 rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${HEALTH_STYLE[health]}`}
      data-health={health}
    >
      <span className={`h-1.5 w-1.5 rounded-full ${DOT[health]}`} aria-hidden="true" />
      {HEALTH_LABEL[health]}
    </span>
  );
}

/** "online · last sample 3 s ago" / "offline · last seen 2 min ago". */
export function Presence({ server, now }) {
  const seen = server.latest?.recorded_at ?? server.last_seen;
  if (!seen) return <span>registered, no sample yet</span>;
  return (
    <span title={formatFull(seen)}>
      {server.is_active ? 'online' : 'offline'} · last seen {formatAgo(seen, now)}
    </span>
  );
}
