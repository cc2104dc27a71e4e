// How worrying a value or a server is: the colour of a number and the order of
// the overview both come from here.

// Warning and critical levels, in percent. Alerts (with their own per-server
// thresholds) are the authority; these colour the numbers in between.
export const LEVELS = {
  cpu: { warning: 75, critical: 90 },
  ram: { warning: 80, critical: 90 },
  disk: { warning: 80, critical: 90 },
};

/** 'ok' | 'warning' | 'critical' | 'unknown' for a percentage of a metric. */
export function levelOf(metric, value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'unknown';
  const { warning, critical } = LEVELS[metric] ?? LEVELS.cpu;
  if (value >= critical) return 'critical';
  if (value >= warning) return 'warning';
  return 'ok';
}

/** Tailwind classes for the text of a value at a level (light and dark). */
export const LEVEL_TEXT = {
  ok: 'text-emerald-700 dark:text-emerald-400',
  warning: 'text-amber-700 dark:text-amber-300',
  critical: 'text-red-700 dark:text-red-400',
  unknown: 'text-slate-500 dark:text-slate-400',
  stale: 'text-slate-400 dark:text-slate-500',
};

/** Bar fill colours for a value at a level. */
export const LEVEL_BAR = {
  ok: 'bg-emerald-500',
  warning: 'bg-amber-500',
  critical: 'bg-red-500',
  unknown: 'bg-slate-300 dark:bg-slate-600',
  stale: 'bg-slate-300 dark:bg-slate-600',
};

// A sample older than this many collection intervals is no longer "current".
export const STALE_AFTER_INTERVALS = 3;
const DEFAULT_INTERVAL_SECONDS = 5;

/** True when the latest sample is too old to be shown as the present. */
export function isStale(recordedAt, intervalSeconds, now = Date.now()) {
  if (!recordedAt) return true;
  const time = new Date(recordedAt).getTime();
  if (Number.isNaN(time)) return true;
  const interval = intervalSeconds > 0 ? intervalSeconds : DEFAULT_INTERVAL_SECONDS;
  // Never less than 30 s: a fast collector should not flicker to stale on one
  // late sample.
  const limit = Math.max(STALE_AFTER_INTERVALS * interval, 30) * 1000;
  return now - time > limit;
}

// A silent server (stale) is about to be offline: it outranks a warning.
export const RANK = { critical: 0, offline: 1, stale: 2, warning: 3, nodata: 4, ok: 5 };

/**
 * The state of a server as a whole, worst first: critical (a firing alert or
 * a value past critical), offline, stale (no recent sample, not yet marked
 * offline), warning, nodata (registered, never sent), ok.
 */
export function serverHealth(server, alerts = [], now = Date.now()) {
  return healthOf(server, alerts.filter((a) => a.server_id === server.id), now);
}

// `alerts`: this server's own.
function healthOf(server, alerts, now) {
  const firing = alerts.filter((a) => a.state !== 'resolved');
  if (firing.some((a) => a.type !== 'offline') && server.is_active) return 'critical';
  if (!server.is_active || firing.some((a) => a.type === 'offline')) {
    return server.latest || server.last_seen ? 'offline' : 'nodata';
  }
  const latest = server.latest;
  if (!latest) return 'nodata';
  if (isStale(latest.recorded_at, server.interval_seconds, now)) return 'stale';
  const levels = [
    levelOf('cpu', latest.cpu_percent),
    levelOf('ram', latest.ram_percent),
    levelOf('disk', latest.disk_percent),
  ];
  if (levels.includes('critical')) return 'critical';
  if (levels.includes('warning')) return 'warning';
  return 'ok';
}

/** Each server's alerts, by server id: one pass, however many servers. */
export function alertsByServer(alerts = []) {
  const out = new Map();
  for (const alert of alerts) {
    const list = out.get(alert.server_id);
    if (list) list.push(alert);
    else out.set(alert.server_id, [alert]);
  }
  return out;
}

const collator = new Intl.Collator();
const NONE = [];

/** Trouble first (the RANK above), then by name, then by id: the overview's order. */
export function compareTrouble(a, b) {
  return RANK[a.health] - RANK[b.health] || collator.compare(a.name, b.name) || a.server.id - b.server.id;
}

/** Servers sorted so that trouble comes first, then by name: each as
 * { server, health, name (lower case), alertCount }. */
export function sortByTrouble(servers, alerts = [], now = Date.now()) {
  const byServer = alertsByServer(alerts);
  return servers
    .map((server) => {
      const own = byServer.get(server.id) ?? NONE;
      return {
        server,
        health: healthOf(server, own, now),
        name: (server.name || server.hostname || '').toLowerCase(),
        alertCount: own.filter((a) => a.state !== 'resolved').length,
      };
    })
    .sort(compareTrouble);
}

export const HEALTH_LABEL = {
  critical: 'Critical',
  offline: 'Offline',
  warning: 'Warning',
  nodata: 'Waiting for data',
  stale: 'No recent data',
  ok: 'Healthy',
};
