import { describe, expect, it } from 'vitest';
import { breakAfter, withGaps } from './gaps.js';
import { fromBucket, fromSample } from './points.js';

const T0 = new Date('2026-02-04T10:00:00Z').getTime();
const at = (s) => new Date(T0 + s * 1000).toISOString();

function sample(second, extra = {}) {
  return {
    server_id: 1,
    recorded_at: at(second),
    cpu_percent: 50,
    ram_percent: 40,
    ram_used_mb: 4000,
    ram_total_mb: 10000,
    disk_percent: 30,
    disk_used_gb: 60,
    disk_total_gb: 200,
    network_sent_mb: 100 + second,
    network_recv_mb: 200 + 2 * second,
    ...extra,
  };
}
const bucket = (second, extra = {}) => ({ recorded_at: at(second), cpu_percent: 40, cpu_percent_max: 70, ...extra });

describe('gaps', () => {
  const points = (seconds) => seconds.map((s) => fromSample(sample(s)));
  it('breaks the line where samples are missing', () => {
    const data = withGaps(points([0, 5, 10, 15, 300, 305]), breakAfter({ intervalMs: 5000 }));
    expect(data.filter((p) => p.gap)).toHaveLength(1);
    expect(data.findIndex((p) => p.gap)).toBe(4);
  });
  it('does not break a late sample or a series that is simply sparse', () => {
    expect(withGaps(points([0, 5, 10, 35, 40]), breakAfter({ intervalMs: 5000 })).some((p) => p.gap)).toBe(false);
    expect(withGaps(points([0, 60, 120, 180, 240]), breakAfter({ intervalMs: 5000 })).some((p) => p.gap)).toBe(false);
  });
  it('measures from the end of a bucket', () => {
    const history = [fromBucket(bucket(0), 3_600_000), fromBucket(bucket(3600), 3_600_000)];
    expect(withGaps(history, breakAfter({ bucketMs: 3_600_000 })).some((p) => p.gap)).toBe(false);
  });
});

