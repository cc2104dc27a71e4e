// What the server page derives from the stream of latest samples: each device's
// throughput (the API's rates, or derived from the previous sample), a trail of
// them over the live window for the charts, and the latest top processes and
// process count (a collector sends them once a minute, not with every sample).
import { useMemo, useRef } from 'react';
import { devicesWithRates, latestTop } from '../utils/host.js';

/** One trail row per sample: { t, disks: {name: {read, write, busy}}, interfaces: {name: {sent, recv}} }. */
export function trailRow(sample, disks, interfaces) {
  return {
    t: Date.parse(sample.recorded_at),
    disks: Object.fromEntries(disks.map((d) => [d.name, { read: d.read_mb_s, write: d.write_mb_s, busy: d.busy_percent }])),
    interfaces: Object.fromEntries(interfaces.map((i) => [i.name, { sent: i.sent_mb_s, recv: i.recv_mb_s }])),
  };
}

/** The trail with `row` added (once per time, in order) and rows before `fromMs` dropped. */
export function extendTrail(trail, row, fromMs) {
  if (trail.some((r) => r.t === row.t)) return trail.filter((r) => r.t >= fromMs);
  return [...trail, row].sort((a, b) => a.t - b.t).filter((r) => r.t >= fromMs);
}

export function useWideLive(latest, windowMs) {
  // The sample shown and the one before it (for rates), the trail, the top processes.
  const memory = useRef({ current: null, previous: null, trail: [], top: null });
  return useMemo(() => {
    const state = memory.current;
    if (!latest) return { disks: [], interfaces: [], trail: [], top: null, processCount: null };
    if (state.current?.recorded_at !== latest.recorded_at) {
      state.previous = state.current;
      state.current = latest;
    }
    const disks = devicesWithRates(latest, state.previous, 'disks');
    const interfaces = devicesWithRates(latest, state.previous, 'interfaces');
    if (latest.disks || latest.interfaces) {
      const row = trailRow(latest, disks, interfaces);
      state.trail = extendTrail(state.trail, row, row.t - windowMs);
    }
    state.top = latestTop(latest, state.top);
    // Counted with the top processes, so not in every sample either.
    state.processCount = latest.process_count ?? state.processCount ?? null;
    return { disks, interfaces, trail: state.trail, top: state.top, processCount: state.processCount };
  }, [latest, windowMs]);
}
