import { describe, expect, it } from 'vitest';
import { isStale, levelOf, serverHealth, sortByTrouble } from './levels.js';

const now = new Date('2026-02-04T10:05:00Z').getTime();
const ago = (s) => new Date(now - s * 1000).toISOString();

function server(id, name, latest, extra = {}) {
  return { id, name, hostname: name, is_active: true, interval_seconds: 5, last_seen: latest ? ago(1) : null, latest, ...extra };
}
const values = (cpu, ram = 40, disk = 40, age = 2) => ({
  cpu_percent: cpu,
  ram_percent: ram,
  disk_percent: disk,
  recorded_at: ago(age),
});

describe('colour levels', () => {
  it('turns warning then critical at the thresholds', () => {
    expect(levelOf('cpu', 10)).toBe('ok');
    expect(levelOf('cpu', 74.9)).toBe('ok');
    expect(levelOf('cpu', 75)).toBe('warning');
    expect(levelOf('cpu', 90)).toBe('critical');
    expect(levelOf('disk', 79)).toBe('ok');
    expect(levelOf('disk', 85)).toBe('warning');
    expect(levelOf('ram', null)).toBe('unknown');
  });
});

describe('staleness', () => {
  it('is three intervals, never under 30 s', () => {
    expect(isStale(ago(10), 5, now)).toBe(false);
    expect(isStale(ago(31), 5, now)).toBe(true);
    expect(isStale(ago(150), 60, now)).toBe(false);
    expect(isStale(ago(181), 60, now)).toBe(true);
    expect(isStale(null, 5, now)).toBe(true);
  });
});

describe('server health', () => {
  it('puts a firing alert above everything', () => {
    const s = server(1, 'a', values(20));
    expect(serverHealth(s, [{ server_id: 1, type: 'cpu', state: 'firing' }], now)).toBe('critical');
    expect(serverHealth(s, [{ server_id: 2, type: 'cpu', state: 'firing' }], now)).toBe('ok');
    expect(serverHealth(s, [{ server_id: 1, type: 'cpu', state: 'resolved' }], now)).toBe('ok');
  });
  it('knows offline, silent and never-seen servers', () => {
    expect(serverHealth(server(1, 'a', values(20), { is_active: false }), [], now)).toBe('offline');
    expect(serverHealth(server(1, 'a', values(20, 40, 40, 120)), [], now)).toBe('stale');
    expect(serverHealth(server(1, 'a', null), [], now)).toBe('nodata');
    expect(serverHealth(server(1, 'a', values(80)), [], now)).toBe('warning');
    expect(serverHealth(server(1, 'a', values(20, 95)), [], now)).toBe('critical');
  });
});

describe('the overview order', () => {
  it('sorts trouble first, then by name', () => {
    const servers = [
      server(1, 'alpha', values(10)),
      server(2, 'bravo', values(80)),
      server(3, 'charlie', values(10), { is_active: false }),
      server(4, 'delta', values(95)),
      server(5, 'echo', null),
      server(6, 'foxtrot', values(10, 40, 40, 600)),
      server(7, 'golf', values(10)),
      server(8, 'Aardvark', values(10)),
    ];
    const alerts = [{ server_id: 7, type: 'ram', state: 'firing' }];
    const order = sortByTrouble(servers, alerts, now).map(({ server: s, health }) => `${s.name}:${health}`);
    expect(order).toEqual([
      'delta:critical',
      'golf:critical',
      'charlie:offline',
      'foxtrot:stale',
      'bravo:warning',
      'echo:nodata',
      'Aardvark:ok',
      'alpha:ok',
    ]);
  });
});
