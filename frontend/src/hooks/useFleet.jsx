// Every server with its latest values, a little CPU history for sparklines, and
// the active alerts: the state the overview and the alert banner share, kept
// live by the relay and reloaded from the API after every reconnection and
// resync.
import { createContext, useContext, useEffect, useMemo, useReducer, useRef } from 'react';
import { getHistory, listAlerts, listServers } from '../services/api.js';
import { EVENTS, followAll, on } from '../services/socket.js';
import { useLiveEpoch } from './useConnection.js';

const SPARK_WINDOW_MS = 30 * 60_000;
// A safety net for events the relay does not send (a server registered while
// nobody listened, say): the list is reloaded this often anyway.
const REFRESH_MS = 60_000;
const SPARK_CONCURRENCY = 4;

export const alertKey = (alert) => `${alert.server_id}:${alert.type}`;

const initial = { servers: null, error: null, sparks: {}, alerts: {}, alertEvents: {}, alertsLoaded: false };

function withSample(server, sample) {
  const at = sample.recorded_at;
  const previous = server.latest?.recorded_at;
  if (previous && new Date(previous) > new Date(at)) return server; // an old sample, late
  return {
    ...server,
    is_active: true,
    last_seen: server.last_seen && new Date(server.last_seen) > new Date(at) ? server.last_seen : at,
    latest: {
      cpu_percent: sample.cpu_percent,
      ram_percent: sample.ram_percent,
      disk_percent: sample.disk_percent,
      recorded_at: at,
    },
  };
}

export function fleetReducer(state, action) {
  switch (action.type) {
    case 'servers': {
      // A list requested before a live sample arrived must not take it back.
      const known = new Map((state.servers ?? []).map((s) => [s.id, s]));
      const servers = action.servers.map((fresh) => {
        const mine = known.get(fresh.id);
        const newer = (a, b) => a && (!b || new Date(a.recorded_at) > new Date(b.recorded_at));
        return mine && newer(mine.latest, fresh.latest)
          ? { ...fresh, latest: mine.latest, last_seen: mine.last_seen, is_active: mine.is_active }
          : fresh;
      });
      return { ...state, servers, error: null };
    }
    case 'error':
      return { ...state, error: action.error };
    case 'metrics': {
      const sample = action.sample;
      if (!state.servers) return state;
      const servers = state.servers.map((s) => (s.id === sample.server_id ? withSample(s, sample) : s));
      const t = new Date(sample.recorded_at).getTime();
      const spark = state.sparks[sample.server_id];
      const sparks = spark
        ? {
            ...state.sparks,
            [sample.server_id]: [...spark.filter((p) => p.t < t && p.t > t - SPARK_WINDOW_MS), { t, v: sample.cpu_percent, live: true }],
          }
        : state.sparks;
      return { ...state, servers, sparks };
    }
    case 'status': {
      if (!state.servers) return state;
      const { server_id: id, is_active: active, last_seen: lastSeen } = action.status;
      const servers = state.servers.map((s) =>
        s.id === id ? { ...s, is_active: active, last_seen: lastSeen ?? s.last_seen } : s,
      );
      return { ...state, servers };
    }
    case 'spark': {
      // Live points that arrived while the history was loading are kept.
      const live = (state.sparks[action.id] ?? []).filter((p) => p.live);
      const last = action.points.at(-1)?.t ?? -Infinity;
      return {
        ...state,
        sparks: { ...state.sparks, [action.id]: [...action.points, ...live.filter((p) => p.t > last)] },
      };
    }
    case 'alerts': {
      const alerts = {};
      for (const alert of action.alerts) if (alert.state !== 'resolved') alerts[alertKey(alert)] = alert;
      // An event that arrived after the list was requested is newer than the list.
      for (const [key, { at, alert }] of Object.entries(state.alertEvents ?? {})) {
        if (at < action.requestedAt) continue;
        if (alert.state === 'resolved') delete alerts[key];
        else alerts[key] = alert;
      }
      return { ...state, alerts, alertsLoaded: true };
    }
    case 'alert': {
      const key = alertKey(action.alert);
      const alerts = { ...state.alerts };
      if (action.alert.state === 'resolved') delete alerts[key];
      else alerts[key] = action.alert;
      const alertEvents = { ...state.alertEvents, [key]: { at: action.at, alert: action.alert } };
      return { ...state, alerts, alertEvents };
    }
    default:
      return state;
  }
}

const FleetContext = createContext(null);

async function loadSparks(ids, dispatch, signal) {
  const queue = [...ids];
  const worker = async () => {
    while (queue.length && !signal.aborted) {
      const id = queue.shift();
      const to = new Date();
      try {
        const { buckets } = await getHistory(
          id,
          { from: new Date(to - SPARK_WINDOW_MS), to, interval: '1m' },
          { signal },
        );
        const points = buckets.map((b) => ({ t: new Date(b.recorded_at).getTime(), v: b.cpu_percent }));
        if (!signal.aborted) dispatch({ type: 'spark', id, points });
      } catch {
        // A sparkline is a nicety: the card shows without it.
      }
    }
  };
  await Promise.all(Array.from({ length: SPARK_CONCURRENCY }, worker));
}

export function FleetProvider({ children }) {
  const [state, dispatch] = useReducer(fleetReducer, initial);
  const epoch = useLiveEpoch();
  const known = useRef(new Set());
  const reload = useRef(() => {});

  const joined = useRef(Promise.resolve());
  const sparksAt = useRef(0);
  useEffect(() => {
    const controller = new AbortController();
    const load = async () => {
      await joined.current;
      try {
        const servers = await listServers({ signal: controller.signal });
        if (controller.signal.aborted) return;
        known.current = new Set(servers.map((s) => s.id));
        dispatch({ type: 'servers', servers });
        // Sparklines once a minute at most: the first connection right after
        // the first load does not fetch them all again.
        if (Date.now() - sparksAt.current > REFRESH_MS - 1000) {
          sparksAt.current = Date.now();
          loadSparks(
            servers.filter((s) => s.latest).map((s) => s.id),
            dispatch,
            controller.signal,
          );
        }
      } catch (error) {
        if (error.name !== 'AbortError') dispatch({ type: 'error', error });
      }
      try {
        const requestedAt = Date.now();
        const alerts = await listAlerts({ signal: controller.signal });
        if (!controller.signal.aborted) dispatch({ type: 'alerts', alerts, requestedAt });
      } catch {
        // Alerts come back with the next reload.
      }
    };
    reload.current = load;
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [epoch]);

  useEffect(() => {
    const release = followAll();
    joined.current = release.joined;
    const stops = [
      on(EVENTS.metrics, (sample) => {
        // A server the list does not know yet: it was just registered.
        if (!known.current.has(sample.server_id)) {
          known.current.add(sample.server_id);
          reload.current();
        }
        dispatch({ type: 'metrics', sample });
      }),
      on(EVENTS.status, (status) => dispatch({ type: 'status', status })),
      on(EVENTS.alert, (alert) => dispatch({ type: 'alert', alert, at: Date.now() })),
      on(EVENTS.server, () => reload.current()),
      // The relay lost track of what was written: the reload this brings
      // (useLiveEpoch) fetches the sparklines again too, whatever their age.
      on(EVENTS.resync, () => {
        sparksAt.current = 0;
      }),
    ];
    return () => {
      release();
      for (const stop of stops) stop();
    };
  }, []);

  const value = useMemo(
    () => ({ ...state, activeAlerts: Object.values(state.alerts), reload: () => reload.current() }),
    [state],
  );
  return <FleetContext.Provider value={value}>{children}</FleetContext.Provider>;
}

export function useFleet() {
  const value = useContext(FleetContext);
  if (!value) throw new Error('useFleet needs a FleetProvider');
  return value;
}
