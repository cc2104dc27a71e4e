import { afterEach, describe, expect, it } from 'vitest';
import { format } from 'date-fns';
import { timeTicks } from './timeTicks.js';

describe('axis ticks', () => {
  const saved = process.env.TZ;
  afterEach(() => {
    process.env.TZ = saved;
  });
  it('falls on round times', () => {
    const from = new Date('2026-02-04T09:03:17Z').getTime();
    const ticks = timeTicks(from, from + 3_600_000, 6);
    expect(ticks.map((t) => format(t, 'HH:mm'))).toEqual(['09:10', '09:20', '09:30', '09:40', '09:50', '10:00']);
  });
  it('falls on local midnights in the viewer time zone', () => {
    process.env.TZ = 'Asia/Kolkata';
    const to = new Date('2026-02-04T10:05:00Z').getTime();
    const ticks = timeTicks(to - 30 * 86_400_000, to, 6);
    expect(ticks.length).toBeGreaterThanOrEqual(4);
    for (const t of ticks) expect(format(t, 'HH:mm')).toBe('00:00');
    expect(new Date(ticks[0]).toISOString().slice(11, 16)).toBe('18:30');
  });
});
