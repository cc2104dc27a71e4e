import { describe, expect, it } from 'vitest';
import { breakAfter, withGaps } from './gaps.js';
import { fromBucket, fromSample } from './points.js';
import { bucket, sample } from './samples.fixture.js';

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

