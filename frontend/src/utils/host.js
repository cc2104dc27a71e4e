// The wide sample as the server page reads it: load against the CPU count, the
// CPU split, swap, uptime, temperatures, each device's throughput. Every part is
// optional: a sample from an older collector has none of it, and its sections
// are not shown.
import { counterRate } from './counters.js';

const DASH = '—';

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value);

/** A load average: "0.42", "3.1", "12". */
export function formatLoad(value) {
  if (!isNumber(value)) return DASH;
  if (value >= 10) return value.toFixed(0);
  if (value >= 1) return value.toFixed(1);
  return value.toFixed(2);
}

/** Load as a percent of the CPUs: a load of 2 on 4 CPUs is 50 %. */
export function loadPercent(load, cpuCount) {
  if (!isNumber(load) || !isNumber(cpuCount) || cpuCount < 1) return null;
  return (load / cpuCount) * 100;
}

/** 'ok' under one runnable task per CPU, 'warning' up to 1.5 per CPU, then 'critical'. */
export function loadLevel(load, cpuCount) {
  const percent = loadPercent(load, cpuCount);
  if (percent == null) return 'unknown';
  if (percent >= 150) return 'critical';
  if (percent >= 100) return 'warning';
  return 'ok';
}

/** Seconds since boot: "42 s", "17 min", "5 h 12 min", "12 d 3 h". */
export function formatUptime(seconds) {
  if (!isNumber(seconds) || seconds < 0) return DASH;
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** "52 °C" (whole degrees: a sensor's noise is a degree). */
export function formatCelsius(value) {
  if (!isNumber(value)) return DASH;
  return `${Math.round(value)} °C`;
}

/** 'ok' below 70 °C, 'warning' below 85 °C, then 'critical'. */
export function temperatureLevel(celsius) {
  if (!isNumber(celsius)) return 'unknown';
  if (celsius >= 85) return 'critical';
  if (celsius >= 70) return 'warning';
  return 'ok';
}

// The parts of the CPU split, in the order they stack.
export const CPU_PARTS = [
  { key: 'cpu_user_percent', label: 'user', color: '#0ea5e9' },
  { key: 'cpu_system_percent', label: 'system', color: '#8b5cf6' },
  { key: 'cpu_iowait_percent', label: 'iowait', color: '#f59e0b' },
  { key: 'cpu_steal_percent', label: 'steal', color: '#ef4444' },
];

/** The split of a sample (or a history point), or null when it has none. */
export function cpuSplit(sample) {
  if (!sample || !CPU_PARTS.some((p) => isNumber(sample[p.key]))) return null;
  return CPU_PARTS.map((p) => ({ ...p, value: isNumber(sample[p.key]) ? sample[p.key] : 0 }));
}

// Counters of each kind of device, and the rates the API derives from them.
export const DEVICE_RATES = {
  disks: { key: 'name', counters: { read_mb: 'read_mb_s', write_mb: 'write_mb_s' } },
  interfaces: { key: 'name', counters: { sent_mb: 'sent_mb_s', recv_mb: 'recv_mb_s' } },
};

/**
 * A sample's devices of one kind with their rates: the API's (current, the
 * relay) where it gives them, else derived here from the previous sample the
 * page saw, by the same counter rule as the network's (a counter that went down
 * was reset). Disks also get `busy_percent` from `busy_ms`.
 */
export function devicesWithRates(sample, previous, kind) {
  const list = sample?.[kind];
  if (!Array.isArray(list)) return [];
  const { key, counters } = DEVICE_RATES[kind];
  const t1 = Date.parse(sample.recorded_at) / 1000;
  const t0 = previous ? Date.parse(previous.recorded_at) / 1000 : null;
  const before = new Map((previous?.[kind] ?? []).map((d) => [d[key], d]));
  return list.map((device) => {
    const old = before.get(device[key]);
    const out = { ...device };
    for (const [counter, rate] of Object.entries(counters)) {
      if (!isNumber(out[rate])) out[rate] = old ? counterRate([t0, old[counter]], [t1, device[counter]]) : null;
    }
    if (kind === 'disks' && !isNumber(out.busy_percent)) {
      const ms = old && isNumber(device.busy_ms) ? counterRate([t0, old.busy_ms], [t1, device.busy_ms]) : null;
      out.busy_percent = ms == null ? null : Math.min(100, ms / 10); // ms per s -> percent
    }
    return out;
  });
}

/** The top processes to show now: the sample's own, or the latest seen before. */
export function latestTop(sample, remembered) {
  if (sample?.top_processes) {
    return { top: sample.top_processes, at: sample.top_processes_at ?? sample.recorded_at };
  }
  return remembered ?? null;
}

/**
 * History buckets of a per-device group as one row per time for a chart:
 * [{ t, [device]: value }] and the devices' names, for one field.
 */
export function deviceSeries(buckets, group, key, field) {
  const names = new Set();
  const rows = buckets.map((bucket) => {
    const row = { t: bucket.t ?? Date.parse(bucket.recorded_at) };
    for (const device of bucket[group] ?? []) {
      names.add(device[key]);
      row[device[key]] = isNumber(device[field]) ? device[field] : null;
    }
    return row;
  });
  return { rows, names: [...names].sort() };
}

/** Host scalars of history buckets as chart rows: [{ t, [field]: value }]. */
export function scalarSeries(buckets, fields) {
  return buckets.map((bucket) => {
    const row = { t: bucket.t ?? Date.parse(bucket.recorded_at) };
    for (const field of fields) row[field] = isNumber(bucket[field]) ? bucket[field] : null;
    return row;
  });
}

// A palette for one line per device, distinct in light and dark themes.
export const DEVICE_COLORS = ['#0ea5e9', '#8b5cf6', '#14b8a6', '#f59e0b', '#ef4444', '#d946ef', '#22c55e', '#64748b'];
