// Missing data drawn as missing: breaks in a series where samples really are absent.

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

