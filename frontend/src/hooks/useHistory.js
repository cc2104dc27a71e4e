import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { getHistory } from '../services/api.js';
import { EVENTS, on } from '../services/socket.js';
import { fromBucket } from '../utils/points.js';
import { RANGES, rangeBounds } from '../utils/ranges.js';
import { useLiveLoad } from '../lib/useLiveLoad.js';

// A preset range ending "now" is reloaded this often (at least one bucket) so the
// history keeps up with time.
const REFRESH_MS = 60_000;

/**
 * History for a range: { key: '1h' | '6h' | ... } or { key: 'custom', from, to }.
 * The API picks the bucket (the chart gets at most ~500 points, so it stays
 * fast over 30 days) and says which one. Loaded again after a reconnection or a
 * resync, and when a backfilled write (a collector's spool) falls in the range.
 */
export function useHistory(serverId, range, { metrics, toPoint = fromBucket } = {}) {
  const [state, setState] = useState({ points: [], bucketMs: 0, interval: null, loading: true, error: null });
  const [tick, setTick] = useState(0);
  const requested = useRef(null); // { from, to } in ms of the last request
  const custom = range.key === 'custom';
  const fromMs = custom ? range.from.getTime() : null;
  const toMs = custom ? range.to.getTime() : null;
  // The groups of series to ask for (`?metrics=`); default: the API's `core`.
  const groups = metrics?.join(',') ?? '';

  // No live event changes a history answer (a backfill asks for it again), so
  // there is no race to settle: only the shared loading rule, again after every
  // reconnection or resync.
  useLiveLoad(
    (signal) => {
      const { from, to } = custom ? { from: new Date(fromMs), to: new Date(toMs) } : rangeBounds(range.key);
      requested.current = { from: from.getTime(), to: to.getTime() };
      setState((s) => ({ ...s, loading: true }));
      return getHistory(serverId, { from, to, metrics: groups ? groups.split(',') : undefined }, { signal }).then(
        (answer) => ({ ...answer, from, to }),
      );
    },
    [serverId, range.key, custom, fromMs, toMs, tick, groups],
    {
      onAnswer: ({ buckets, bucketMs, interval, from, to }) =>
        setState({
          points: buckets.map((b) => toPoint(b, bucketMs)),
          bucketMs,
          interval,
          from: from.getTime(),
          to: to.getTime(),
          loading: false,
          error: null,
        }),
      onError: (error) => setState((s) => ({ ...s, loading: false, error })),
    },
  );

  useEffect(
    () =>
      on(EVENTS.backfill, (event) => {
        const shown = requested.current;
        if (event.server_id !== serverId || !shown) return;
        if (Date.parse(event.first) <= shown.to && Date.parse(event.last) >= shown.from) setTick((t) => t + 1);
      }),
    [serverId],
  );

  useEffect(() => {
    if (custom) return undefined;
    const timer = setInterval(() => setTick((t) => t + 1), Math.max(REFRESH_MS, state.bucketMs));
    return () => clearInterval(timer);
  }, [custom, state.bucketMs]);

  return state;
}

// The range is kept in the address (?range=7d), so a link shows the same view.
function initialRange() {
  const key = new URLSearchParams(window.location.search).get('range');
  return RANGES.some((r) => r.key === key) ? key : '1h';
}

function rememberRange(key) {
  const url = new URL(window.location.href);
  if (key === '1h' || key === 'custom') url.searchParams.delete('range');
  else url.searchParams.set('range', key);
  window.history.replaceState(window.history.state, '', url);
}

/** The range a history view shows: its preset, or its custom range once applied. */
export function shownRange(rangeKey, custom) {
  return rangeKey === 'custom' && custom ? { key: 'custom', ...custom } : { key: rangeKey === 'custom' ? '1h' : rangeKey };
}

/** The history section's state: range (preset or custom), metric, and the data. */
export function useHistoryRange(serverId) {
  const [rangeKey, setRangeKeyState] = useState(initialRange);
  const [custom, setCustom] = useState(null);
  const [metric, setMetric] = useState('cpu');
  const setRangeKey = useCallback((key) => {
    rememberRange(key);
    setRangeKeyState(key);
  }, []);
  // "Custom" shows the form; until it is applied the last preset stays shown.
  const range = shownRange(rangeKey, custom);
  const history = useHistory(serverId, range);
  // One object per change, so a memoised chart skips the page's clock ticks.
  return useMemo(
    () => ({ rangeKey, setRangeKey, custom, setCustom, metric, setMetric, history }),
    [rangeKey, setRangeKey, custom, metric, history],
  );
}
