// Chart series: history buckets and live samples as one list of points, merged
// without duplicates, with a visible break where data is really missing.

/**
 * A point: { t (ms), cpu, ram, disk, sent, recv (MiB/s), ..., size }.
 * `size` is the width of the history bucket the point stands for (0 for a raw
 * sample): a bucket [t, t + size) that holds a live sample is the same data and
 * is dropped in favour of the sample.
 */
export function fromBucket(bucket, sizeMs) {
  return {
    t: new Date(bucket.recorded_at).getTime(),
    size: sizeMs,
    cpu: bucket.cpu_percent ?? null,
    cpuMax: bucket.cpu_percent_max ?? bucket.cpu_percent ?? null,
    ram: bucket.ram_percent ?? null,
    ramMax: bucket.ram_percent_max ?? bucket.ram_percent ?? null,
    disk: bucket.disk_percent ?? null,
    diskMax: bucket.disk_percent_max ?? bucket.disk_percent ?? null,
    ramUsed: bucket.ram_used_mb ?? null,
    ramTotal: bucket.ram_total_mb ?? null,
    diskUsed: bucket.disk_used_gb ?? null,
    diskTotal: bucket.disk_total_gb ?? null,
    sent: bucket.network_sent_mb_s ?? null,
    recv: bucket.network_recv_mb_s ?? null,
    sentMax: bucket.network_sent_mb_s_max ?? bucket.network_sent_mb_s ?? null,
    recvMax: bucket.network_recv_mb_s_max ?? bucket.network_recv_mb_s ?? null,
    samples: bucket.samples ?? null,
  };
}

/**
 * MiB/s between two raw samples of the cumulative network counters. A counter
 * that went down was reset (reboot) and restarted from zero, as the API does.
 */
export function rateBetween(previous, current, counter) {
  if (!previous || !current) return null;
  const seconds = (new Date(current.recorded_at) - new Date(previous.recorded_at)) / 1000;
  const now = current[counter];
  const before = previous[counter];
  if (!(seconds > 0) || typeof now !== 'number' || typeof before !== 'number') return null;
  const delta = now >= before ? now - before : now;
  return delta / seconds;
}

/** A live sample (a `metrics-update` payload) as a point; `previous` is the raw
 * sample before it, for the throughput. */
export function fromSample(sample, previous = null) {
  return {
    t: new Date(sample.recorded_at).getTime(),
    size: 0,
    cpu: sample.cpu_percent ?? null,
    cpuMax: sample.cpu_percent ?? null,
    ram: sample.ram_percent ?? null,
    ramMax: sample.ram_percent ?? null,
    disk: sample.disk_percent ?? null,
    diskMax: sample.disk_percent ?? null,
    ramUsed: sample.ram_used_mb ?? null,
    ramTotal: sample.ram_total_mb ?? null,
    diskUsed: sample.disk_used_gb ?? null,
    diskTotal: sample.disk_total_gb ?? null,
    sent: sample.network_sent_mb_s ?? rateBetween(previous, sample, 'network_sent_mb'),
    recv: sample.network_recv_mb_s ?? rateBetween(previous, sample, 'network_recv_mb'),
    sentMax: null,
    recvMax: null,
    samples: 1,
  };
}

/** Merge new points into a sorted list: raw samples win over the buckets that
 * contain them, a later copy of a point replaces the earlier one. */
export function mergePoints(existing, incoming) {
  const byTime = new Map();
  for (const point of [...existing, ...incoming]) {
    if (point.gap) continue;
    const previous = byTime.get(point.t);
    // A raw sample is never replaced by a bucket starting at the same instant.
    if (previous && previous.size === 0 && point.size > 0) continue;
    byTime.set(point.t, point);
  }
  const all = [...byTime.values()].sort((a, b) => a.t - b.t);
  const raws = all.filter((p) => p.size === 0).map((p) => p.t);
  if (raws.length === 0) return all;
  // Buckets that hold a raw sample we have are the same data, averaged: drop them.
  return all.filter((p) => {
    if (p.size === 0) return true;
    const end = p.t + p.size;
    let lo = 0;
    let hi = raws.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (raws[mid] < p.t) lo = mid + 1;
      else hi = mid;
    }
    return !(lo < raws.length && raws[lo] < end);
  });
}

/** Points at or after `fromMs`. */
export function trimBefore(points, fromMs) {
  const index = points.findIndex((p) => p.t >= fromMs);
  return index === -1 ? [] : index === 0 ? points : points.slice(index);
}

// The finest history bucket: the API's choice for a range of a few minutes. Its
// buckets start on multiples of it since 1970 (the API counts from 2000-01-01
// UTC, a whole number of them later).
export const FINEST_BUCKET_MS = 5000;

/**
 * The part of a backfilled write (a `metrics-backfill` event: `first`, `last`)
 * that a live window starting at `windowStartMs` shows, as { from, to } Dates
 * for the history API, or null when all of it is older. The start is moved back
 * to the beginning of its bucket, so that bucket comes back whole: one holding
 * only the samples from `first` on would replace a complete one with an average
 * of part of it.
 */
export function backfillRange({ first, last }, windowStartMs, bucketMs = FINEST_BUCKET_MS) {
  const end = Date.parse(last);
  const start = Math.max(Date.parse(first), windowStartMs);
  if (!(end >= start)) return null;
  return { from: new Date(Math.floor(start / bucketMs) * bucketMs), to: new Date(end) };
}

/**
 * Points fetched for a backfilled range merged into the live series: in time
 * order, each instant once, a fresh bucket in place of the one loaded earlier at
 * the same instant (it may hold samples that one did not), raw samples kept over
 * the buckets that hold them, and nothing before the window.
 */
export function mergeBackfill(points, incoming, windowStartMs) {
  return trimBefore(mergePoints(points, incoming), windowStartMs);
}

/**
 * Insert a break (a point of nulls) wherever two neighbours are further apart
 * than `minGapMs` and than three of the series' own neighbouring steps, so a chart
 * shows missing data as missing instead of drawing a straight line across it,
 * while a series that is simply sparse (a slow collector) stays one line.
 */
export function withGaps(points, minGapMs) {
  if (!(minGapMs > 0) || points.length < 2) return points;
  const out = [points[0]];
  for (let i = 1; i < points.length; i += 1) {
    const before = points[i - 1];
    // The series' own pace around this step: the closer of its neighbours.
    const steps = [];
    if (i >= 2) steps.push(before.t - points[i - 2].t);
    if (i + 1 < points.length) steps.push(points[i + 1].t - points[i].t);
    const pace = steps.length ? Math.min(...steps) : 0;
    const gap = points[i].t - (before.t + Math.max(before.size || 0, 0));
    if (gap > minGapMs && gap > 3 * pace) {
      out.push({ t: Math.round((before.t + points[i].t) / 2), gap: true });
    }
    out.push(points[i]);
  }
  return out;
}

/** The largest distance between neighbours, ignoring breaks: used by tests and
 * by the chart's "no hole" check. */
export function largestGap(points) {
  let gap = 0;
  for (let i = 1; i < points.length; i += 1) gap = Math.max(gap, points[i].t - points[i - 1].t);
  return gap;
}

/**
 * The smallest hole a chart shows as a break: three collection intervals or two
 * buckets, and never under 30 s (one late sample is not an outage).
 */
export function breakAfter({ intervalMs = 5000, bucketMs = 0 } = {}) {
  return Math.max(3 * intervalMs, 2 * bucketMs, 30_000);
}

const TICK_STEPS = [
  60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3_600_000,
  2 * 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000, 86_400_000,
  2 * 86_400_000, 7 * 86_400_000,
];

/**
 * Round-time ticks between `from` and `to` (at most about `count`), aligned in
 * the viewer's time zone: whole minutes, hours, local midnights.
 */
export function timeTicks(from, to, count = 6) {
  const span = to - from;
  if (!(span > 0)) return [];
  const step = TICK_STEPS.find((s) => span / s <= count) ?? TICK_STEPS.at(-1);
  // Align the first tick on a round local time, then step in wall-clock units
  // so ticks stay round across daylight-saving changes.
  const t = new Date(from);
  if (step >= 86_400_000) t.setHours(0, 0, 0, 0);
  else if (step >= 3_600_000) {
    const hours = step / 3_600_000;
    t.setHours(Math.floor(t.getHours() / hours) * hours, 0, 0, 0);
  } else {
    const minutes = step / 60_000;
    t.setMinutes(Math.floor(t.getMinutes() / minutes) * minutes, 0, 0);
  }
  const ticks = [];
  while (t.getTime() <= to && ticks.length < 100) {
    if (t.getTime() >= from) ticks.push(t.getTime());
    if (step >= 86_400_000) t.setDate(t.getDate() + step / 86_400_000);
    else if (step >= 3_600_000) t.setHours(t.getHours() + step / 3_600_000);
    else t.setMinutes(t.getMinutes() + step / 60_000);
  }
  return ticks;
}

/** The spacing of a history answer when the bucket header is unreadable
 * (a cross-origin API that does not expose it). */
export function inferBucketMs(buckets) {
  let best = Infinity;
  for (let i = 1; i < buckets.length; i += 1) {
    const step = new Date(buckets[i].recorded_at) - new Date(buckets[i - 1].recorded_at);
    if (step > 0 && step < best) best = step;
  }
  return Number.isFinite(best) ? best : 0;
}

export const RANGES = [
  { key: '1h', label: '1 h', ms: 3_600_000 },
  { key: '6h', label: '6 h', ms: 6 * 3_600_000 },
  { key: '24h', label: '24 h', ms: 24 * 3_600_000 },
  { key: '7d', label: '7 d', ms: 7 * 86_400_000 },
  { key: '30d', label: '30 d', ms: 30 * 86_400_000 },
];

/** { from, to } Dates for a preset range ending now. */
export function rangeBounds(key, now = Date.now()) {
  const range = RANGES.find((r) => r.key === key);
  if (!range) throw new Error(`unknown range ${key}`);
  return { from: new Date(now - range.ms), to: new Date(now) };
}

// The widest custom range: beyond it the buckets get too coarse to read.
export const MAX_CUSTOM_MS = 366 * 86_400_000;

/**
 * Validate a custom range typed in <input type="datetime-local"> fields (local
 * time). Returns { from, to } or { error } with a sentence for the form.
 */
export function customBounds(fromText, toText, now = Date.now()) {
  const from = fromText ? new Date(fromText) : null;
  const to = toText ? new Date(toText) : new Date(now);
  if (!from || Number.isNaN(from.getTime())) return { error: 'Enter a start date and time.' };
  if (Number.isNaN(to.getTime())) return { error: 'The end is not a valid date and time.' };
  if (from.getTime() > now) return { error: 'The start is in the future.' };
  if (from >= to) return { error: 'The start must be before the end.' };
  if (to - from > MAX_CUSTOM_MS) return { error: 'Choose a range of at most one year.' };
  return { from, to: to.getTime() > now ? new Date(now) : to };
}

/** A Date as the value of a datetime-local input, in the viewer's zone. */
export function toLocalInput(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}
