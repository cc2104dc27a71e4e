// One server's live state for its page: details, the latest sample, and the
// points of the last minutes for the realtime chart. History fills the chart on
// load and after every reconnection or resync; `metrics-update` events extend it,
// and the part of a large write the relay did not push (`metrics-backfill`) is
// fetched from history.
import { useEffect, useReducer, useRef } from 'react';
import { applyLive, applyLoaded, isLater, liveTracker } from '../lib/live.js';
import { useLiveLoad } from '../lib/useLiveLoad.js';
import { getCurrent, getHistory, getServer } from '../services/api.js';
import { EVENTS, joinServer, on } from '../services/socket.js';
import { backfillRange } from '../utils/buckets.js';
import { fromBucket, fromSample, mergeBackfill, mergePoints, trimBefore } from '../utils/points.js';

export const REALTIME_WINDOW_MS = 10 * 60_000;
// A backfill that cannot be fetched is tried again after 1 s, 2 s, 4 s, 8 s.
const BACKFILL_RETRIES = 4;
const BACKFILL_RETRY_MS = 1000;

const initial = {
  server: null,
  latest: null, // the latest raw sample, with network rates
  points: [],
  loading: true,
  error: null,
};

function latestOf(current, sample) {
  if (!current) return sample;
  return new Date(sample.recorded_at) >= new Date(current.recorded_at) ? sample : current;
}

// A live event applied to the state: newer wins, and the same event twice is
// the same as once (it is applied again after a load that was in flight).
function applyOne(state, action) {
  if (action.type === 'sample') {
    const sample = action.sample;
    const t = Date.parse(sample.recorded_at);
    if (state.points.some((p) => p.t === t && p.size === 0)) return state; // this one, again
    // Throughput from the previous raw sample when the relay does not carry it.
    const previous = state.latest;
    const point = fromSample(sample, previous);
    const withRates = {
      ...sample,
      network_sent_mb_s: point.sent,
      network_recv_mb_s: point.recv,
    };
    const latest = latestOf(state.latest, withRates);
    const points = trimBefore(mergePoints(state.points, [point]), action.now - REALTIME_WINDOW_MS);
    const server = state.server
      ? {
          ...state.server,
          is_active: true,
          last_seen:
            state.server.last_seen && new Date(state.server.last_seen) > new Date(sample.recorded_at)
              ? state.server.last_seen
              : sample.recorded_at,
        }
      : state.server;
    return { ...state, latest, points, server };
  }
  if (action.type === 'status') {
    if (!state.server) return state;
    return {
      ...state,
      server: {
        ...state.server,
        // A rename or re-tag is announced with the status.
        ...pick(action.status, ['name', 'tags']),
        is_active: action.status.is_active ?? state.server.is_active,
        last_seen: action.status.last_seen ?? state.server.last_seen,
      },
    };
  }
  return state;
}

const pick = (object, keys) => Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]]));

const applyEvents = (state, actions) => actions.reduce(applyOne, state);

function loadWindow(state, action) {
  const history = action.history.buckets.map((b) => fromBucket(b, action.history.bucketMs));
  // Fresh buckets replace the ones loaded before (a bucket loaded while it
  // was filling, or before a resync, lacks samples); live samples stay.
  const points = trimBefore(mergePoints(state.points, history), action.now - REALTIME_WINDOW_MS);
  const latest = action.current ? latestOf(state.latest, action.current) : state.latest;
  return { ...state, server: action.server, latest, points, loading: false, error: null };
}

const live = (state) => ({ value: state, tracker: state.tracker ?? liveTracker() });
const settled = (result, state) => (result ? { ...result.value, tracker: result.tracker } : state);

export function serverMetricsReducer(state, action) {
  switch (action.type) {
    case 'reset':
      return initial;
    case 'loaded':
      // Live events that came while the load was in flight are applied again on top.
      return settled(applyLoaded(live(state), action, action.requestedAt, loadWindow, applyEvents), state);
    case 'backfill': {
      const incoming = action.history
        ? action.history.buckets.map((b) => fromBucket(b, action.history.bucketMs))
        : [];
      const points = mergeBackfill(state.points, incoming, action.now - REALTIME_WINDOW_MS);
      const latest = action.current ? latestOf(state.latest, action.current) : state.latest;
      return { ...state, points, latest };
    }
    case 'error':
      return { ...state, loading: false, error: action.error };
    case 'sample':
    case 'status':
      // The log keeps the latest of each kind: enough to replay, bounded.
      return settled(
        applyLive(live(state), [[action.type, action]], action.now ?? Date.now(), applyEvents, {
          newer: (a, b) => a.type !== 'sample' || isLater(a.sample.recorded_at, b.sample.recorded_at),
        }),
        state,
      );
    default:
      return state;
  }
}

export function useServerMetrics(serverId) {
  const [state, dispatch] = useReducer(serverMetricsReducer, initial);

  useEffect(() => {
    dispatch({ type: 'reset' });
  }, [serverId]);

  const joined = useRef(Promise.resolve());
  // Live events first, so that nothing arriving during the load is lost.
  useEffect(() => {
    const release = joinServer(serverId);
    joined.current = release.joined;
    const stops = [
      on(EVENTS.metrics, (sample) => {
        if (sample.server_id === serverId) dispatch({ type: 'sample', sample, now: Date.now() });
      }),
      on(EVENTS.status, (status) => {
        if (status.server_id === serverId) dispatch({ type: 'status', status, now: Date.now() });
      }),
    ];
    return () => {
      release();
      for (const stop of stops) stop();
    };
  }, [serverId]);

  // A write larger than the relay pushes live: fetch the part of it the live
  // window shows (and the current values, if it may hold newer ones). Retried a
  // few times, since nothing else would fill that hole.
  const latestAt = useRef(null);
  useEffect(() => {
    latestAt.current = state.latest ? Date.parse(state.latest.recorded_at) : null;
  }, [state.latest]);
  useEffect(() => {
    const controllers = new Set();
    const timers = new Set();
    const fetchBackfill = (event, attempt) => {
      const range = backfillRange(event, Date.now() - REALTIME_WINDOW_MS);
      const newer = latestAt.current == null || Date.parse(event.last) >= latestAt.current;
      if (!range && !newer) return;
      const controller = new AbortController();
      controllers.add(controller);
      const options = { signal: controller.signal };
      Promise.all([range ? getHistory(serverId, range, options) : null, newer ? getCurrent(serverId, options) : null])
        .then(([history, current]) => {
          if (!controller.signal.aborted) dispatch({ type: 'backfill', history, current, now: Date.now() });
        })
        .catch((error) => {
          if (error.name === 'AbortError' || controller.signal.aborted || attempt >= BACKFILL_RETRIES) return;
          const timer = setTimeout(() => {
            timers.delete(timer);
            fetchBackfill(event, attempt + 1);
          }, BACKFILL_RETRY_MS * 2 ** attempt);
          timers.add(timer);
        })
        .finally(() => controllers.delete(controller));
    };
    const stop = on(EVENTS.backfill, (event) => {
      if (event.server_id === serverId) fetchBackfill(event, 0);
    });
    return () => {
      stop();
      for (const controller of controllers) controller.abort();
      for (const timer of timers) clearTimeout(timer);
    };
  }, [serverId]);

  // Load, and after each reconnection or resync load the window again: the gap
  // is filled from history and merged with what the live events already brought.
  // `reload` does it on demand (after the server was renamed or silenced here).
  const reload = useLiveLoad(
    (signal) => {
      const options = { signal };
      const to = new Date();
      const from = new Date(to.getTime() - REALTIME_WINDOW_MS);
      return Promise.all([
        getServer(serverId, options),
        getCurrent(serverId, options),
        getHistory(serverId, { from, to }, options),
      ]);
    },
    [serverId],
    {
      ready: () => joined.current,
      onAnswer: ([server, current, history], requestedAt) =>
        dispatch({ type: 'loaded', server, current, history, requestedAt, now: Date.now() }),
      onError: (error) => dispatch({ type: 'error', error }),
    },
  );

  return { ...state, reload };
}
