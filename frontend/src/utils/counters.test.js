import { describe, expect, it } from 'vitest';
import cases from './counterCases.json';
import { counterRate, rateBetween } from './counters.js';
import { sample } from './samples.fixture.js';

describe('throughput from counters', () => {
  it('divides the counter increase by the time between samples', () => {
    expect(rateBetween(sample(0), sample(5), 'network_recv_mb')).toBeCloseTo(2);
  });
  it('treats a counter that went down as reset to zero', () => {
    const after = sample(5, { network_sent_mb: 3 });
    expect(rateBetween(sample(0), after, 'network_sent_mb')).toBeCloseTo(0.6);
  });
  it('has no rate without a previous sample or with time going backwards', () => {
    expect(rateBetween(null, sample(5), 'network_sent_mb')).toBeNull();
    expect(rateBetween(sample(5), sample(0), 'network_sent_mb')).toBeNull();
  });
});


// The same cases the API's side is tested on: one rule, two languages.

describe('the counter rule, on the shared cases', () => {
  it('has cases of every kind', () => {
    expect(cases.some((c) => c.prev === null)).toBe(true);
    expect(cases.some((c) => c.prev && c.curr[1] < c.prev[1])).toBe(true);
    expect(cases.some((c) => c.prev && c.curr[0] <= c.prev[0])).toBe(true);
  });
  for (const { prev, curr, rate } of cases) {
    it(`${JSON.stringify(prev)} → ${JSON.stringify(curr)} gives ${rate}`, () => {
      const got = counterRate(prev, curr);
      if (rate === null) expect(got).toBeNull();
      else expect(got).toBeCloseTo(rate, 9);
    });
  }
});
