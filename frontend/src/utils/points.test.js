import { describe, expect, it } from 'vitest';
import { backfillRange } from './buckets.js';
import { largestGap } from './gaps.js';
import { fromBucket, fromSample, mergeBackfill, mergePoints, trimBefore } from './points.js';
import { serverMetricsReducer } from '../hooks/useServerMetrics.js';
import { T0, at, bucket, sample } from './samples.fixture.js';

describe('merging history and live samples', () => {
  it('drops a bucket that holds a live sample, keeps the others', () => {
    const history = [fromBucket(bucket(0), 5000), fromBucket(bucket(5), 5000), fromBucket(bucket(10), 5000)];
    const live = [fromSample(sample(6.3))];
    const merged = mergePoints(history, live);
    expect(merged.map((p) => [p.t - T0, p.size])).toEqual([
      [0, 5000],
      [6300, 0],
      [10000, 5000],
    ]);
  });
  it('never lets a bucket replace a raw sample at the same instant, and ignores repeats', () => {
    const raw = fromSample(sample(5, { cpu_percent: 99 }));
    const merged = mergePoints([raw], [fromBucket(bucket(5), 5000), fromSample(sample(5, { cpu_percent: 99 }))]);
    expect(merged).toHaveLength(1);
    expect(merged[0].cpu).toBe(99);
  });
  it('keeps the peak of a bucket and falls back to the average', () => {
    expect(fromBucket(bucket(0), 60_000).cpuMax).toBe(70);
    expect(fromBucket({ recorded_at: at(0), cpu_percent: 12 }, 60_000).cpuMax).toBe(12);
  });
  it('trims to a window', () => {
    const points = [0, 5, 10, 15].map((s) => fromSample(sample(s)));
    expect(trimBefore(points, T0 + 7000).map((p) => p.t - T0)).toEqual([10000, 15000]);
    expect(trimBefore(points, T0 + 60_000)).toEqual([]);
  });
});

describe('a reconnection fills the live chart from history', () => {
  it('leaves no hole once the missed samples are loaded', () => {
    const now = T0 + 120_000;
    let state = serverMetricsReducer(undefined ?? { server: null, latest: null, points: [], loading: true, error: null }, { type: 'reset' });
    // Loaded: history of the first minute (5 s buckets).
    const first = Array.from({ length: 12 }, (_, i) => bucket(i * 5, { cpu_percent: 10 }));
    state = serverMetricsReducer(state, {
      type: 'loaded',
      server: { id: 1, is_active: true },
      current: sample(55),
      history: { buckets: first, bucketMs: 5000 },
      now,
    });
    // Live samples, then the relay goes away for a minute.
    state = serverMetricsReducer(state, { type: 'sample', sample: sample(60.4), now });
    state = serverMetricsReducer(state, { type: 'sample', sample: sample(65.4), now });
    expect(largestGap(state.points)).toBeLessThanOrEqual(6000);
    // Back: live samples resume at 125 s; the hole 65–125 s is visible...
    state = serverMetricsReducer(state, { type: 'sample', sample: sample(125.4), now });
    expect(largestGap(state.points)).toBeGreaterThan(50_000);
    // ...until the reload on reconnection brings the history of the whole window.
    const all = Array.from({ length: 26 }, (_, i) => bucket(i * 5, { cpu_percent: 20 }));
    state = serverMetricsReducer(state, { type: 'loaded', server: { id: 1 }, current: sample(125.4), history: { buckets: all, bucketMs: 5000 }, now });
    expect(largestGap(state.points)).toBeLessThanOrEqual(6000);
    // Live samples are kept over the buckets that hold them.
    const live = state.points.filter((p) => p.size === 0).map((p) => (p.t - T0) / 1000);
    expect(live).toEqual([60.4, 65.4, 125.4]);
    expect(state.points.filter((p) => p.t === T0 + 60_000)).toHaveLength(0);
  });
  it('derives throughput of live samples from the previous one', () => {
    let state = serverMetricsReducer({ server: null, latest: sample(0), points: [], loading: false, error: null }, { type: 'sample', sample: sample(5), now: T0 });
    expect(state.latest.network_recv_mb_s).toBeCloseTo(2);
    state = serverMetricsReducer(state, { type: 'sample', sample: sample(3), now: T0 });
    expect(state.latest.recorded_at).toBe(at(5)); // a late sample does not become "latest"
  });
});

describe('a backfilled write fills the live chart', () => {
  // A collector flushing its spool: 20 samples 5 s apart (at .3 s), of which the
  // relay pushed only the newest 5 live.
  const write = Array.from({ length: 20 }, (_, i) => sample(15.3 + 5 * i, { cpu_percent: i }));
  const event = { server_id: 1, count: 20, first: write[0].recorded_at, last: write.at(-1).recorded_at, live: 5 };
  // The history API's answer for a range: 5 s buckets of the samples in it.
  const historyOf = (samples, from, to) =>
    samples
      .filter((s) => Date.parse(s.recorded_at) >= from && Date.parse(s.recorded_at) <= to)
      .map((s) => bucket(Math.floor((Date.parse(s.recorded_at) - T0) / 5000) * 5, { cpu_percent: s.cpu_percent }));
  const times = (points) => points.map((p) => (p.t - T0) / 1000);

  it('asks for the part of the write in the window, from the start of its bucket', () => {
    expect(backfillRange(event, T0 - 600_000)).toEqual({ from: new Date(T0 + 15_000), to: new Date(T0 + 110_300) });
    // Half of it is older than the window: the rest, from the bucket the window starts in.
    expect(backfillRange(event, T0 + 62_000)).toEqual({ from: new Date(T0 + 60_000), to: new Date(T0 + 110_300) });
    expect(backfillRange(event, T0 + 120_000)).toBeNull();
    expect(backfillRange({ first: 'nonsense', last: 'nonsense' }, T0)).toBeNull();
  });

  it('merges every sample once, in time order, raw samples over their buckets', () => {
    const before = [0.3, 5.3, 10.3].map((s) => fromSample(sample(s)));
    const live = write.slice(-5).map((s) => fromSample(s));
    const { from, to } = backfillRange(event, T0 - 600_000);
    const fetched = historyOf(write, from.getTime(), to.getTime()).map((b) => fromBucket(b, 5000));
    expect(fetched).toHaveLength(20);
    const points = mergeBackfill(mergePoints(before, live), fetched, T0 - 600_000);
    // 3 earlier samples, 15 backfilled buckets, 5 live samples: 23, one per sample.
    expect(points).toHaveLength(23);
    expect(times(points).slice(0, 6)).toEqual([0.3, 5.3, 10.3, 15, 20, 25]);
    expect(times(points).slice(-6)).toEqual([85, 90.3, 95.3, 100.3, 105.3, 110.3]);
    expect(points.slice(-5).every((p) => p.size === 0)).toBe(true);
    for (let i = 1; i < points.length; i += 1) expect(points[i].t).toBeGreaterThan(points[i - 1].t);
    expect(largestGap(points)).toBeLessThanOrEqual(5300);
    // The same backfill again (two events, a retry) adds nothing.
    expect(mergeBackfill(points, fetched, T0 - 600_000)).toEqual(points);
    // Buckets given out of order come out in order.
    expect(mergeBackfill(before, [...fetched].reverse(), T0 - 600_000).map((p) => p.t)).toEqual(
      mergeBackfill(before, fetched, T0 - 600_000).map((p) => p.t),
    );
  });

  it('keeps to the window', () => {
    const fetched = historyOf(write, T0, T0 + 200_000).map((b) => fromBucket(b, 5000));
    const points = mergeBackfill([fromSample(sample(0.3))], fetched, T0 + 62_000);
    expect(times(points)[0]).toBe(65);
    expect(points).toHaveLength(10);
  });

  it('replaces a bucket loaded while it was filling with the complete one', () => {
    const partial = fromBucket(bucket(15, { cpu_percent: 10, samples: 1 }), 5000);
    const whole = fromBucket(bucket(15, { cpu_percent: 30, samples: 2 }), 5000);
    const points = mergeBackfill([partial], [whole], T0);
    expect(points).toEqual([whole]);
  });

  it('gives the same chart whether the history answer comes before or after the live samples', () => {
    const now = T0 + 120_000;
    const loaded = serverMetricsReducer(
      { server: null, latest: null, points: [], loading: true, error: null },
      { type: 'loaded', server: { id: 1 }, current: sample(10.3), history: { buckets: [bucket(0), bucket(5), bucket(10)], bucketMs: 5000 }, now },
    );
    const { from, to } = backfillRange(event, now - 600_000);
    const backfill = { type: 'backfill', history: { buckets: historyOf(write, from.getTime(), to.getTime()), bucketMs: 5000 }, current: write.at(-1), now };
    const samples = write.slice(-5).map((s) => ({ type: 'sample', sample: s, now }));
    const first = [backfill, ...samples].reduce(serverMetricsReducer, loaded);
    const last = [...samples, backfill].reduce(serverMetricsReducer, loaded);
    expect(times(first.points)).toEqual(times(last.points));
    expect(first.points).toHaveLength(23);
    expect(first.latest.recorded_at).toBe(write.at(-1).recorded_at);
    expect(last.latest.cpu_percent).toBe(19);
  });
});

