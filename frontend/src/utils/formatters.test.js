import { describe, expect, it } from 'vitest';
import {
  formatAgo,
  formatCount,
  formatDuration,
  formatGiB,
  formatMiB,
  formatMoment,
  formatPercent,
  formatRate,
  formatUsedTotal,
  parseInterval,
  rateUnit,
  tickFormatter,
} from './formatters.js';

describe('percentages', () => {
  it('shows one decimal and a dash for missing values', () => {
    expect(formatPercent(45.234)).toBe('45.2%');
    expect(formatPercent(0)).toBe('0.0%');
    expect(formatPercent(100)).toBe('100.0%');
    expect(formatPercent(null)).toBe('—');
    expect(formatPercent(Number.NaN)).toBe('—');
  });
});

describe('sizes are binary', () => {
  it('keeps MiB below 1 GiB and switches to GiB and TiB above', () => {
    expect(formatMiB(512)).toBe('512 MiB');
    expect(formatMiB(6780)).toBe('6.62 GiB');
    expect(formatMiB(1024)).toBe('1 GiB');
    expect(formatMiB(10240)).toBe('10 GiB');
    expect(formatMiB(1.5 * 1024 * 1024)).toBe('1.5 TiB');
  });
  it('never prints more than three significant figures', () => {
    expect(formatGiB(110.6)).toBe('111 GiB');
    expect(formatGiB(12.345)).toBe('12.3 GiB');
    expect(formatGiB(2048)).toBe('2 TiB');
    expect(formatMiB(0.5)).toBe('0.5 MiB');
  });
  it('joins used and total', () => {
    expect(formatUsedTotal(6780, 10000)).toBe('6.62 GiB / 9.77 GiB');
    expect(formatUsedTotal(110.6, 200, formatGiB)).toBe('111 GiB / 200 GiB');
    expect(formatUsedTotal(null, 200)).toBe('—');
  });
});

describe('throughput', () => {
  it('picks B/s, KiB/s, MiB/s or GiB/s from MiB/s', () => {
    expect(formatRate(0)).toBe('0 B/s');
    expect(formatRate(100 / (1024 * 1024))).toBe('100 B/s');
    expect(formatRate(0.25)).toBe('256 KiB/s');
    expect(formatRate(0.012)).toBe('12.3 KiB/s');
    expect(formatRate(4.5678)).toBe('4.57 MiB/s');
    expect(formatRate(2048)).toBe('2 GiB/s');
    expect(formatRate(undefined)).toBe('—');
  });
});

describe('a throughput axis', () => {
  it('takes one unit from its largest value', () => {
    expect(rateUnit(0)).toEqual({ factor: 1024 * 1024, label: 'B/s' });
    expect(rateUnit(0.16)).toEqual({ factor: 1024, label: 'KiB/s' });
    expect(rateUnit(12)).toEqual({ factor: 1, label: 'MiB/s' });
    expect(rateUnit(5000).label).toBe('GiB/s');
  });
});

describe('times', () => {
  const now = new Date('2026-02-04T10:05:00Z').getTime();
  it('says how long ago', () => {
    expect(formatAgo(now - 2000, now)).toBe('just now');
    expect(formatAgo(now - 42_000, now)).toBe('42 s ago');
    expect(formatAgo(now - 125_000, now)).toBe('2 min ago');
    expect(formatAgo(now - 3 * 3600_000 - 5, now)).toBe('3 hours ago');
    expect(formatAgo(now - 5 * 86400_000, now)).toBe('5 days ago');
    expect(formatAgo(null, now)).toBe('never');
  });
  it('formats in the viewer time zone, shorter for today', () => {
    // The test runs with TZ=UTC (see package.json), so local time is UTC here.
    expect(formatMoment('2026-02-04T09:00:07Z', now)).toBe('09:00:07');
    expect(formatMoment('2026-01-30T23:10:00Z', now)).toBe('30 Jan 23:10');
    expect(formatMoment('2025-12-30T23:10:00Z', now)).toBe('30 Dec 2025 23:10');
  });
  it('reads bucket labels and prints durations', () => {
    expect(parseInterval('5s')).toBe(5000);
    expect(parseInterval('15m')).toBe(900_000);
    expect(parseInterval('1h')).toBe(3_600_000);
    expect(parseInterval('1d')).toBe(86_400_000);
    expect(parseInterval('soon')).toBeNull();
    expect(formatDuration(5000)).toBe('5 s');
    expect(formatDuration(300_000)).toBe('5 min');
    expect(formatDuration(3_600_000)).toBe('1 h');
  });
  it('labels axis ticks by the span', () => {
    const t = new Date('2026-02-04T10:05:00Z').getTime();
    expect(tickFormatter(3_600_000)(t)).toBe('10:05');
    expect(tickFormatter(7 * 86_400_000)(t)).toBe('Wed 10:05');
    expect(tickFormatter(30 * 86_400_000)(t)).toBe('4 Feb');
  });
});

describe('formatCount', () => {
  it('is singular for one, plural otherwise, with thousands separated', () => {
    expect(formatCount(1, 'point')).toBe('1 point');
    expect(formatCount(0, 'point')).toBe('0 points');
    expect(formatCount(2880, 'point')).toBe('2,880 points');
  });
});
