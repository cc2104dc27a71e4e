import { describe, expect, it } from 'vitest';
import { customBounds, rangeBounds } from './ranges.js';

describe('time ranges', () => {
  const now = new Date('2026-02-04T10:05:00Z').getTime();
  it('ends presets now', () => {
    const { from, to } = rangeBounds('24h', now);
    expect(to.getTime()).toBe(now);
    expect(to - from).toBe(86_400_000);
    expect(() => rangeBounds('2y', now)).toThrow();
  });
  it('validates a custom range', () => {
    expect(customBounds('2026-02-04T09:00', '2026-02-04T08:00', now).error).toMatch(/before/);
    expect(customBounds('', '', now).error).toMatch(/start/);
    expect(customBounds('2026-03-01T00:00', '', now).error).toMatch(/future/);
    expect(customBounds('2024-01-01T00:00', '2026-01-01T00:00', now).error).toMatch(/one year/);
    const ok = customBounds('2026-02-03T00:00', '2026-02-05T00:00', now);
    expect(ok.from.toISOString()).toBe('2026-02-03T00:00:00.000Z');
    expect(ok.to.getTime()).toBe(now); // never past now
  });
});

