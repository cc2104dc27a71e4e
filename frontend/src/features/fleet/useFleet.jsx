// The fleet's state for the overview and the alert banner (fleetState.js), kept
// live by the relay and loaded again from the API after every reconnection and
// resync (useLiveLoad).
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef } from 'react';
import { useLiveEpoch } from '../../hooks/useConnection.js';
import { useLiveLoad } from '../../lib/useLiveLoad.js';
import { getFleetHistory, getHistory, listAlerts, listServers } from '../../services/api.js';
import { EVENTS, followAll, on } from '../../services/socket.js';
import { onServerRemoved } from '../ops/removals.js';
import { sortByTrouble } from '../../utils/levels.js';
import { fleetReducer, initialFleet, sampleEntry } from './fleetState.js';
import { createTrendLoader } from './trendLoader.js';

export { alertKey, fleetReducer } from './fleetState.js';

// A safety net for events the relay does not send (a server registered while
// nobody listened, say): the list is reloaded this often anyway.
const REFRESH_MS = 60_000;
// Trends loaded with the list, before the overview says what is on screen: about
// two screens of cards, trouble first.
const FIRST_TRENDS = 48;
// A relay that still sends every sample to the overview: the samples of this
// long are applied together, as one fleet update.
const SAMPLE_BATCH_MS = 250;

const FleetContext = createContext(null);

// What a browser test can read: how many `fleet-update` events this page got and
// how many server entries they held, as window.__vigieFleetEvents = { count, servers }.
function countFleetEvent(servers) {
  if (typeof window === 'undefined') return;
  const seen = window.__vigieFleetEvents ?? { count: 0, servers: 0 };
  window.__vigieFleetEvents = { count: seen.count + 1, servers: seen.servers + servers };
}

export function FleetProvider({ children }) {
  const [state, dispatch] = useReducer(fleetReducer, initialFleet);
  const known = useRef(new Set());
  const joined = useRef(Promise.resolve());
  const alertsNow = useRef([]);
  const trends = useRef(null);
  trends.current ??= createTrendLoader({
    fetchFleet: getFleetHistory,
    fetchOne: getHistory,
    onSeries: (series) => dispatch({ type: 'sparks', series }),
    onLoading: (ids) => dispatch({ type: 'trends-wanted', ids }),
  });
  useEffect(() => () => trends.current.stop(), []);

  const epoch = useLiveEpoch();
  const firstEpoch = useRef(epoch);
  useEffect(() => {
    if (epoch !== firstEpoch.current) trends.current.reset();
  }, [epoch]);

  // Live events first, so the loads below race with events already flowing.
  const reload = useRef(() => {});
  useEffect(() => {
    const release = followAll();
    joined.current = release.joined;
    // A server the list does not know yet was just registered.
    const learn = (ids) => {
      let fresh = false;
      for (const id of ids) {
        if (known.current.has(id)) continue;
        known.current.add(id);
        fresh = true;
      }
      if (fresh) reload.current();
    };
    let samples = [];
    let timer = null;
    const flushSamples = () => {
      timer = null;
      const servers = samples;
      samples = [];
      dispatch({ type: 'fleet', servers, at: Date.now() });
    };
    const stops = [
      on(EVENTS.fleet, (payload) => {
        const servers = Array.isArray(payload?.servers) ? payload.servers : [];
        countFleetEvent(servers.length);
        learn(servers.map((s) => s.server_id));
        dispatch({ type: 'fleet', servers, at: Date.now() });
      }),
      on(EVENTS.metrics, (sample) => {
        learn([sample.server_id]);
        samples.push(sampleEntry(sample));
        timer ??= setTimeout(flushSamples, SAMPLE_BATCH_MS);
      }),
      on(EVENTS.status, (status) => dispatch({ type: 'status', status, at: Date.now() })),
      on(EVENTS.alert, (alert) => dispatch({ type: 'alert', alert, at: Date.now() })),
      on(EVENTS.server, () => reload.current()),
      onServerRemoved(({ server_id }) => dispatch({ type: 'removed', server_id })),
    ];
    return () => {
      release();
      clearTimeout(timer);
      for (const stop of stops) stop();
    };
  }, []);

  const ready = () => joined.current;
  const reloadServers = useLiveLoad((signal) => listServers({ signal }), [], {
    ready,
    refreshMs: REFRESH_MS,
    onAnswer: (servers, requestedAt) => {
      known.current = new Set(servers.map((s) => s.id));
      dispatch({ type: 'servers', servers, requestedAt });
      const first = sortByTrouble(servers.filter((s) => s.latest), alertsNow.current).slice(0, FIRST_TRENDS);
      trends.current.want(first.map(({ server }) => server.id));
    },
    onError: (error) => dispatch({ type: 'error', error }),
  });
  useLiveLoad((signal) => listAlerts({ signal }), [], {
    ready,
    refreshMs: REFRESH_MS,
    onAnswer: (alerts, requestedAt) => dispatch({ type: 'alerts', alerts, requestedAt }),
  });

  reload.current = reloadServers;

  const activeAlerts = useMemo(() => Object.values(state.alerts), [state.alerts]);
  alertsNow.current = activeAlerts;
  const wantTrends = useCallback((ids) => trends.current.want(ids), []);
  const value = useMemo(
    () => ({
      servers: state.servers,
      error: state.error,
      sparks: state.sparks,
      alerts: state.alerts,
      alertsLoaded: state.alertsLoaded,
      activeAlerts,
      reload: reloadServers,
      wantTrends,
    }),
    [state.servers, state.error, state.sparks, state.alerts, state.alertsLoaded, activeAlerts, reloadServers, wantTrends],
  );
  return <FleetContext.Provider value={value}>{children}</FleetContext.Provider>;
}

export function useFleet() {
  const value = useContext(FleetContext);
  if (!value) throw new Error('useFleet needs a FleetProvider');
  return value;
}
