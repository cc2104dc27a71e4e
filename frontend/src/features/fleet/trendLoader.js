// The cards' CPU trends of the last 30 minutes, loaded from history for the
// servers on screen: their ids gathered while the viewer scrolls, then one
// request per 500 of them (GET /api/metrics/fleet-history), each server loaded
// once until the next reconnection or resync. Live updates extend them (see
// fleetState.js). An API without the fleet endpoint (404) gets one history
// request per server on screen instead, a few at a time.
import { SPARK_WINDOW_MS } from './fleetState.js';

const PER_SERVER_CONCURRENCY = 4;

const toPoints = (rows) =>
  (rows ?? [])
    .map((row) => ({ t: Date.parse(row.recorded_at), v: row.cpu_percent }))
    .filter((p) => Number.isFinite(p.t) && typeof p.v === 'number')
    .sort((a, b) => a.t - b.t);

function chunks(list, size) {
  const out = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * `fetchFleet(ids, range, options)` answers [{server_id, points}] or null (no
 * such endpoint); `fetchOne(id, range, options)` answers { buckets }.
 * `onSeries({ id: points })` receives what was loaded, a batch at a time;
 * `onLoading(ids)` hears which servers' trends are about to be requested.
 */
export function createTrendLoader({ fetchFleet, fetchOne, onSeries, onLoading = () => {}, maxIds = 500, debounceMs = 200, now = Date.now }) {
  const loaded = new Set();
  const pending = new Set();
  let shown = [];
  let timer = null;
  let fleetMissing = false;
  let controller = new AbortController();

  async function perServer(ids, signal, range) {
    const queue = [...ids];
    const worker = async () => {
      while (queue.length && !signal.aborted) {
        const id = queue.shift();
        try {
          const { buckets } = await fetchOne(id, range, { signal });
          if (!signal.aborted) onSeries({ [id]: toPoints(buckets) });
        } catch {
          if (!signal.aborted) loaded.delete(id); // tried again when next wanted
        }
      }
    };
    await Promise.all(Array.from({ length: PER_SERVER_CONCURRENCY }, worker));
  }

  async function flush() {
    timer = null;
    const ids = [...pending];
    pending.clear();
    if (!ids.length) return;
    for (const id of ids) loaded.add(id);
    onLoading(ids);
    const { signal } = controller;
    const to = new Date(now());
    const range = { from: new Date(to.getTime() - SPARK_WINDOW_MS), to, interval: '1m' };
    for (const batch of chunks(ids, maxIds)) {
      if (signal.aborted) return;
      if (!fleetMissing) {
        try {
          const answer = await fetchFleet(batch, range, { signal });
          if (signal.aborted) return;
          if (answer !== null) {
            const series = {};
            for (const id of batch) series[id] = [];
            for (const row of answer) series[row.server_id] = toPoints(row.points);
            onSeries(series);
            continue;
          }
          fleetMissing = true;
        } catch {
          if (!signal.aborted) for (const id of batch) loaded.delete(id);
          continue;
        }
      }
      await perServer(batch, signal, range);
    }
  }

  return {
    /** The servers on screen now (replaces the previous call's). */
    want(ids) {
      shown = ids;
      for (const id of ids) if (!loaded.has(id)) pending.add(id);
      if (pending.size && timer === null) timer = setTimeout(flush, debounceMs);
    },
    /** After a reconnection or resync: what is on screen is loaded again. */
    reset() {
      controller.abort();
      controller = new AbortController();
      loaded.clear();
      fleetMissing = false;
      this.want(shown);
    },
    stop() {
      controller.abort();
      clearTimeout(timer);
      timer = null;
    },
  };
}
