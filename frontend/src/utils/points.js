// Chart points: history buckets and live samples as one list, merged without
// duplicates, in time order, raw samples kept over the buckets that hold them.
import { rateBetween } from './counters.js';

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

/**
 * Points fetched for a backfilled range merged into the live series: in time
 * order, each instant once, a fresh bucket in place of the one loaded earlier at
 * the same instant (it may hold samples that one did not), raw samples kept over
 * the buckets that hold them, and nothing before the window.
 */
export function mergeBackfill(points, incoming, windowStartMs) {
  return trimBefore(mergePoints(points, incoming), windowStartMs);
}

