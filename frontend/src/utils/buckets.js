// History buckets: their size, and where a range starts so a bucket comes back whole.

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

