// The state the overview and the alert banner share: every server with its
// latest values, a CPU trend of the last 30 minutes for each card, and the
// active alerts. Loaded from the API and kept live by the relay, by the rule of
// lib/live.js: a whole `fleet-update` (the latest state of every server that
// changed) is one step, and newer wins.
import { applyLive, applyLoaded, isLater, liveTracker } from '../../lib/live.js';

export const SPARK_WINDOW_MS = 30 * 60_000;
// Live points of a trend are kept at most one per this step (the latest of it):
// a server's trend stays a few dozen points, however often it reports.
export const SPARK_STEP_MS = 30_000;

export const alertKey = (alert) => `${alert.server_id}:${alert.type}`;

export const initialFleet = {
  servers: null,
  error: null,
  sparks: {},
  alerts: {},
  alertsLoaded: false,
  serversLive: liveTracker(),
  alertsLive: liveTracker(),
};

// --- servers -------------------------------------------------------------

/** A server's new state from one entry of a `fleet-update` (or a sample). */
function withEntry(server, entry) {
  if (entry.kind === 'status') {
    const renamed = entry.name !== undefined ? { name: entry.name } : null;
    const tagged = entry.tags !== undefined ? { tags: entry.tags } : null;
    return {
      ...server,
      ...renamed,
      ...tagged,
      is_active: entry.is_active ?? server.is_active,
      last_seen: entry.last_seen ?? server.last_seen,
    };
  }
  const latest = entry.latest;
  if (!latest || !isLater(latest.recorded_at, server.latest?.recorded_at)) {
    // Nothing newer than what is shown (a late sample): only when it was last
    // heard of may move on.
    return isLater(entry.last_seen, server.last_seen) ? { ...server, last_seen: entry.last_seen } : server;
  }
  return {
    ...server,
    is_active: entry.is_active ?? true,
    last_seen: isLater(server.last_seen, entry.last_seen ?? latest.recorded_at)
      ? server.last_seen
      : (entry.last_seen ?? latest.recorded_at),
    latest: latestValues(latest, server.latest),
  };
}

// What a card and a row show of a server's latest sample. The first four come
// with every sample; load per core and the fullest filesystem are optional (a
// collector that does not report them sends null): a field an entry leaves out
// (a relay that does not send it) keeps what was known.
const CORE_LATEST = ['cpu_percent', 'ram_percent', 'disk_percent', 'recorded_at'];
export const OPTIONAL_LATEST = ['load_per_core', 'fs_fullest'];

function latestValues(latest, before) {
  const out = {};
  for (const field of CORE_LATEST) out[field] = latest[field];
  for (const field of OPTIONAL_LATEST) out[field] = latest[field] !== undefined ? latest[field] : (before?.[field] ?? null);
  return out;
}

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

/** The 1-minute load per logical CPU, or null when the sample has no load. */
export function loadPerCore(sample) {
  if (!isNumber(sample?.load_1) || !isNumber(sample?.cpu_count) || sample.cpu_count < 1) return null;
  return sample.load_1 / sample.cpu_count;
}

/** The most used filesystem of a sample's list as { mount, percent }; null for
 * an empty list, undefined when the sample reported none (not told). */
export function fullestFilesystem(filesystems) {
  if (!Array.isArray(filesystems)) return undefined;
  let fullest = null;
  for (const fs of filesystems) {
    if (!isNumber(fs?.percent)) continue;
    if (!fullest || fs.percent > fullest.percent || (fs.percent === fullest.percent && fs.mount < fullest.mount)) {
      fullest = { mount: fs.mount, percent: fs.percent };
    }
  }
  return fullest;
}

/** Entries applied to the list in one pass, however many. */
function applyServers(servers, entries) {
  if (!servers || entries.length === 0) return servers;
  const index = new Map(servers.map((s, i) => [s.id, i]));
  let out = null;
  for (const entry of entries) {
    const i = index.get(entry.server_id);
    if (i === undefined) continue;
    const before = (out ?? servers)[i];
    const after = withEntry(before, entry);
    if (after === before) continue;
    out ??= [...servers];
    out[i] = after;
  }
  return out ?? servers;
}

const loadServers = (_, servers) => servers;

const withoutRemoved = (servers, removed) => (removed?.length ? servers.filter((s) => !removed.includes(s.id)) : servers);

/** A `metrics-update` payload as an entry of a `fleet-update`. */
export function sampleEntry(sample) {
  return {
    server_id: sample.server_id,
    is_active: true,
    last_seen: sample.recorded_at,
    latest: {
      recorded_at: sample.recorded_at,
      cpu_percent: sample.cpu_percent,
      ram_percent: sample.ram_percent,
      disk_percent: sample.disk_percent,
      load_per_core: loadPerCore(sample),
      // A sample without filesystems leaves the last ones known.
      fs_fullest: fullestFilesystem(sample.filesystems),
    },
  };
}

// --- trends --------------------------------------------------------------

/** A trend's points with a live value added: one point per SPARK_STEP_MS (the
 * latest), in time order, nothing older than the window. */
export function extendSpark(points = [], t, v) {
  if (typeof v !== 'number') return points;
  const last = points.at(-1);
  if (last && t <= last.t) {
    return points; // late, or the same sample again
  }
  const sameStep = last?.live && Math.floor(last.t / SPARK_STEP_MS) === Math.floor(t / SPARK_STEP_MS);
  const kept = sameStep ? points.slice(0, -1) : points;
  const from = t - SPARK_WINDOW_MS;
  const start = kept.findIndex((p) => p.t > from);
  return [...(start === -1 ? [] : start === 0 ? kept : kept.slice(start)), { t, v, live: true }];
}

/** History for a trend, with the live points newer than it kept. */
export function withHistory(points = [], history) {
  if (!history.length) return points;
  const last = history.at(-1).t;
  return [...history, ...points.filter((p) => p.live && p.t > last)];
}

// Only the trends of servers that were shown (their history loading or loaded)
// take live points: the others would hold a point a step for every server of
// the fleet, a heap growing for half an hour; a card not shown yet draws its
// current value until its history comes.
function extendSparks(sparks, entries) {
  let out = null;
  for (const entry of entries) {
    const latest = entry.latest;
    if (!latest) continue;
    const id = entry.server_id;
    const before = (out ?? sparks)[id];
    if (before === undefined) continue;
    const after = extendSpark(before, Date.parse(latest.recorded_at), latest.cpu_percent);
    if (after === before) continue;
    out ??= { ...sparks };
    out[id] = after;
  }
  return out ?? sparks;
}

// --- alerts --------------------------------------------------------------

function applyAlerts(alerts, events) {
  const out = { ...alerts };
  for (const alert of events) {
    const key = alertKey(alert);
    if (alert.state === 'resolved') delete out[key];
    else out[key] = alert;
  }
  return out;
}

function loadAlerts(_, list) {
  const alerts = {};
  for (const alert of list) if (alert.state !== 'resolved') alerts[alertKey(alert)] = alert;
  return alerts;
}

// --- the reducer ---------------------------------------------------------

// Of two entries of a server, the log keeps the one with the newer values.
const newerEntry = (a, b) => a.kind === 'status' || isLater(a.latest?.recorded_at, b.latest?.recorded_at);

function liveServers(state, entries, at) {
  const { value, tracker } = applyLive(
    { value: state.servers, tracker: state.serversLive ?? liveTracker() },
    entries.map((e) => [e.kind === 'status' ? `status:${e.server_id}` : e.server_id, e]),
    at,
    applyServers,
    { newer: newerEntry },
  );
  return { ...state, servers: value, serversLive: tracker };
}

export function fleetReducer(state, action) {
  switch (action.type) {
    case 'servers': {
      const done = applyLoaded(
        { value: state.servers, tracker: state.serversLive ?? liveTracker() },
        withoutRemoved(action.servers, state.removed),
        action.requestedAt,
        loadServers,
        applyServers,
      );
      return done ? { ...state, servers: done.value, serversLive: done.tracker, error: null } : state;
    }
    case 'error':
      return { ...state, error: action.error };
    case 'removed': {
      // `server-removed`: gone from the list and the banner, and from any list
      // that was requested before and answers after.
      const id = action.server_id;
      const alerts = Object.fromEntries(Object.entries(state.alerts).filter(([, a]) => a.server_id !== id));
      const servers = state.servers ? state.servers.filter((s) => s.id !== id) : state.servers;
      return { ...state, servers, alerts, removed: [...(state.removed ?? []), id] };
    }
    case 'fleet': {
      // One `fleet-update`: every server in it in one new state.
      const entries = action.servers ?? [];
      const next = liveServers(state, entries, action.at ?? Date.now());
      return { ...next, sparks: extendSparks(state.sparks ?? {}, entries) };
    }
    case 'metrics':
      return fleetReducer(state, { type: 'fleet', servers: [sampleEntry(action.sample)], at: action.at });
    case 'status':
      if (!state.servers) return state;
      return liveServers(state, [{ ...action.status, kind: 'status' }], action.at ?? Date.now());
    case 'spark':
      return fleetReducer(state, { type: 'sparks', series: { [action.id]: action.points } });
    case 'trends-wanted': {
      // Their history is on its way: live points from now on are kept for it.
      let sparks = null;
      for (const id of action.ids) {
        if ((sparks ?? state.sparks)[id] !== undefined) continue;
        sparks ??= { ...state.sparks };
        sparks[id] = [];
      }
      return sparks ? { ...state, sparks } : state;
    }
    case 'sparks': {
      // Trends loaded from history (one request for many servers).
      const sparks = { ...state.sparks };
      for (const [id, points] of Object.entries(action.series)) sparks[id] = withHistory(sparks[id], points);
      return { ...state, sparks };
    }
    case 'alerts': {
      const done = applyLoaded(
        { value: state.alerts, tracker: state.alertsLive ?? liveTracker() },
        action.alerts,
        action.requestedAt,
        loadAlerts,
        applyAlerts,
      );
      return done ? { ...state, alerts: done.value, alertsLive: done.tracker, alertsLoaded: true } : state;
    }
    case 'alert': {
      const { value, tracker } = applyLive(
        { value: state.alerts, tracker: state.alertsLive ?? liveTracker() },
        [[alertKey(action.alert), action.alert]],
        action.at ?? Date.now(),
        applyAlerts,
      );
      return { ...state, alerts: value, alertsLive: tracker };
    }
    default:
      return state;
  }
}
