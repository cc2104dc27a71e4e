// The overview at fleet scale: a fleet-update applied whole, the table's sort,
// trouble first, the summary, and trends loaded in batches.
import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { sortByTrouble } from '../../utils/levels.js';
import FleetTable from './FleetTable.jsx';
import { SORT_KEY } from './fleetTable.js';
import { SPARK_STEP_MS, SPARK_WINDOW_MS, extendSpark, fleetReducer, initialFleet } from './fleetState.js';
import { fleetSummary, filterItems } from './overview.js';
import { createTrendLoader } from './trendLoader.js';

const now = new Date('2026-02-04T10:05:00Z').getTime();
const ago = (s) => new Date(now - s * 1000).toISOString();
const latest = (cpu, age = 2, ram = 50, disk = 40) => ({ cpu_percent: cpu, ram_percent: ram, disk_percent: disk, recorded_at: ago(age) });
const server = (id, name, extra = {}) => ({
  id,
  name,
  hostname: name,
  is_active: true,
  interval_seconds: 5,
  last_seen: ago(2),
  latest: latest(20),
  ...extra,
});
const entry = (id, cpu, age, extra = {}) => ({ server_id: id, is_active: true, last_seen: ago(age), latest: latest(cpu, age), ...extra });
const loaded = (servers) => fleetReducer(initialFleet, { type: 'servers', servers, requestedAt: 0 });

describe('a fleet-update', () => {
  const fleet = Array.from({ length: 5000 }, (_, i) => server(i + 1, `srv-${String(i + 1).padStart(4, '0')}`, { latest: latest(10, 30) }));

  it('is applied whole in one state, every server in it, the others untouched', () => {
    // The trends of 30 servers were shown (their history loading).
    const state = fleetReducer(loaded(fleet), { type: 'trends-wanted', ids: Array.from({ length: 30 }, (_, i) => i * 5 + 1) });
    const changed = Array.from({ length: 1000 }, (_, i) => entry(i * 5 + 1, 60, 1));
    const next = fleetReducer(state, { type: 'fleet', servers: changed, at: 1 });
    expect(next.servers.filter((s) => s.latest.cpu_percent === 60)).toHaveLength(1000);
    expect(next.servers[1]).toBe(state.servers[1]); // not in the update: the same object
    expect(next.servers[0]).not.toBe(state.servers[0]);
    // Only the trends shown take the live points: not one per server of the fleet.
    expect(Object.keys(next.sparks)).toHaveLength(30);
    expect(next.sparks[1]).toHaveLength(1);
  });

  it('never goes back in time', () => {
    let state = loaded([server(1, 'a', { latest: latest(10, 30) })]);
    state = fleetReducer(state, { type: 'fleet', servers: [entry(1, 70, 5)], at: 1 });
    state = fleetReducer(state, { type: 'fleet', servers: [entry(1, 20, 10)], at: 2 }); // older, late
    expect(state.servers[0].latest.cpu_percent).toBe(70);
    // A list requested before the update does not take it back either.
    state = fleetReducer(state, { type: 'servers', servers: [server(1, 'a', { latest: latest(15, 20) })], requestedAt: 0 });
    expect(state.servers[0].latest.cpu_percent).toBe(70);
  });

  it('does not undo an offline status with older values', () => {
    let state = loaded([server(1, 'a', { latest: latest(10, 5) })]);
    state = fleetReducer(state, { type: 'status', status: { server_id: 1, is_active: false, last_seen: ago(5) }, at: 1 });
    state = fleetReducer(state, { type: 'fleet', servers: [entry(1, 10, 5)], at: 2 }); // the same sample, coalesced
    expect(state.servers[0].is_active).toBe(false);
    state = fleetReducer(state, { type: 'fleet', servers: [entry(1, 12, 0)], at: 3 }); // a new sample: back
    expect(state.servers[0].is_active).toBe(true);
  });
});

describe('a trend', () => {
  it('keeps one live point per step and nothing older than 30 minutes', () => {
    let points = [];
    const t0 = now - 2 * SPARK_WINDOW_MS;
    for (let t = t0; t <= now; t += 1000) points = extendSpark(points, t, 50);
    expect(points.length).toBeLessThanOrEqual(SPARK_WINDOW_MS / SPARK_STEP_MS + 1);
    expect(points[0].t).toBeGreaterThan(now - SPARK_WINDOW_MS);
    expect(points.at(-1).t).toBe(now);
  });

  it('takes history and keeps the live points newer than it', () => {
    let state = fleetReducer(loaded([server(1, 'a')]), { type: 'trends-wanted', ids: [1] });
    state = fleetReducer(state, { type: 'fleet', servers: [entry(1, 77, 1)], at: 1 });
    const history = Array.from({ length: 30 }, (_, i) => ({ t: now - (30 - i) * 60_000, v: i }));
    state = fleetReducer(state, { type: 'sparks', series: { 1: history } });
    expect(state.sparks[1]).toHaveLength(31);
    expect(state.sparks[1].at(-1).v).toBe(77);
  });
});

describe('trouble first', () => {
  it('orders firing alert or critical value, then offline, silent, warning, waiting, healthy; then by name', () => {
    const servers = [
      server(1, 'healthy-b'),
      server(2, 'warn', { latest: latest(80) }),
      server(3, 'silent', { latest: latest(20, 600) }),
      server(4, 'down', { is_active: false, latest: latest(20, 900) }),
      server(5, 'hot', { latest: latest(95) }),
      server(6, 'alerted'),
      server(7, 'healthy-a'),
      server(8, 'new', { latest: null, last_seen: null }),
    ];
    const alerts = [{ server_id: 6, type: 'ram', state: 'firing' }];
    const order = sortByTrouble(servers, alerts, now).map(({ server: s }) => s.name);
    expect(order).toEqual(['alerted', 'hot', 'down', 'silent', 'warn', 'new', 'healthy-a', 'healthy-b']);
  });

  it('filters without changing the order', () => {
    const items = sortByTrouble([server(1, 'web-02'), server(2, 'web-01', { latest: latest(95) }), server(3, 'db')], [], now);
    expect(filterItems(items, 'WEB').map((i) => i.server.id)).toEqual([2, 1]);
    expect(filterItems(items, '  ')).toBe(items);
  });
});

describe('the fleet summary', () => {
  it('counts servers by state and names the worst of each metric', () => {
    const servers = [
      server(1, 'a', { latest: latest(95, 2, 30, 10) }),
      server(2, 'b', { latest: latest(80, 2, 85, 20) }),
      server(3, 'c', { latest: latest(10, 2, 20, 91) }),
      server(4, 'd', { latest: latest(30, 2, 40, 50) }),
      server(5, 'e', { is_active: false, latest: latest(99, 900, 99, 99) }), // offline: not "now"
      server(6, 'f', { latest: latest(50, 2, 60, 60) }),
    ];
    const summary = fleetSummary(sortByTrouble(servers, [], now));
    expect(summary.total).toBe(6);
    expect(summary.counts).toMatchObject({ critical: 2, warning: 1, offline: 1, ok: 2, stale: 0, nodata: 0 });
    expect(summary.worst.cpu.map((w) => w.server.id)).toEqual([1, 2, 6]);
    expect(summary.worst.ram.map((w) => w.server.id)).toEqual([2, 6, 4]);
    expect(summary.worst.disk.map((w) => w.server.id)).toEqual([3, 6, 4]);
  });
});

describe('the table', () => {
  const servers = [
    server(1, 'bravo', { latest: latest(50, 10, 70, 30) }),
    server(2, 'alpha', { latest: latest(95, 3, 20, 30) }),
    server(3, 'charlie', { latest: latest(50, 30, 90, 10) }),
    server(4, 'delta', { is_active: false, last_seen: ago(3600), latest: latest(5, 3600, 10, 95) }),
    server(5, 'echo', { latest: null, last_seen: null }),
  ];
  const alerts = [
    { server_id: 3, type: 'ram', state: 'firing' },
    { server_id: 3, type: 'cpu', state: 'firing' },
    { server_id: 1, type: 'cpu', state: 'firing' },
  ];
  const items = sortByTrouble(servers, alerts, now);
  const order = () => screen.getAllByRole('link').map((a) => Number(a.dataset.rowServerId));
  const header = (name) => screen.getByRole('button', { name: new RegExp(`^${name}`) });

  it('starts trouble first, then sorts by each column, the worst first', { timeout: 30_000 }, async () => {
    render(<FleetTable items={items} now={now} />);
    // Trouble: critical (alerts: bravo, charlie; value: alpha) by name, offline, waiting.
    expect(order()).toEqual([2, 1, 3, 4, 5]);
    await userEvent.click(header('Name'));
    expect(order()).toEqual([2, 1, 3, 4, 5]);
    await userEvent.click(header('Name'));
    expect(order()).toEqual([5, 4, 3, 1, 2]);
    await userEvent.click(header('CPU'));
    // 95, then the tie at 50 in trouble order (bravo before charlie), 5; no value last.
    expect(order()).toEqual([2, 1, 3, 4, 5]);
    await userEvent.click(header('CPU'));
    expect(order()).toEqual([4, 1, 3, 2, 5]);
    await userEvent.click(header('RAM'));
    expect(order()).toEqual([3, 1, 2, 4, 5]);
    await userEvent.click(header('Disk'));
    expect(order()).toEqual([4, 2, 1, 3, 5]); // 95, then 30 and 30 in trouble order, 10
    await userEvent.click(header('Status'));
    expect(order()).toEqual([2, 1, 3, 4, 5]);
    await userEvent.click(header('Last seen'));
    // The longest silent first: delta an hour ago, then 30 s, 10 s, 3 s; never seen last.
    expect(order()).toEqual([4, 3, 1, 2, 5]);
    await userEvent.click(header('Alerts'));
    expect(order()).toEqual([3, 1, 2, 4, 5]);
    expect(screen.getByRole('columnheader', { name: /Alerts/ })).toHaveAttribute('aria-sort', 'descending');
  });

  it('remembers the sort in this browser', async () => {
    const { unmount } = render(<FleetTable items={items} now={now} />);
    await userEvent.click(header('RAM'));
    expect(JSON.parse(localStorage.getItem(SORT_KEY))).toEqual([{ id: 'ram', desc: true }]);
    unmount();
    render(<FleetTable items={items} now={now} />);
    expect(screen.getByTestId('fleet-table')).toHaveAttribute('data-sort', 'ram:desc');
    expect(order()).toEqual([3, 1, 2, 4, 5]);
  });

  it('ignores a stored sort it does not know', () => {
    localStorage.setItem(SORT_KEY, JSON.stringify([{ id: 'nonsense', desc: 1 }]));
    render(<FleetTable items={items} now={now} />);
    expect(screen.getByTestId('fleet-table')).toHaveAttribute('data-sort', 'trouble');
  });

  it('moves between rows with the arrow keys', async () => {
    render(<FleetTable items={items} now={now} />);
    const links = screen.getAllByRole('link');
    links[0].focus();
    await userEvent.keyboard('{ArrowDown}');
    expect(document.activeElement).toBe(links[1]);
    await userEvent.keyboard('{End}');
    expect(document.activeElement).toBe(links.at(-1));
    expect(within(screen.getByTestId('fleet-table')).getAllByRole('row')).toHaveLength(6);
  });
});

describe('trends from history', () => {
  const flush = () => act(async () => vi.runAllTimersAsync());

  it('asks once for the servers on screen, in batches of at most 500, and not again', async () => {
    vi.useFakeTimers();
    const fetchFleet = vi.fn(async (ids) => ids.map((id) => ({ server_id: id, points: [{ recorded_at: ago(60), cpu_percent: id }] })));
    const fetchOne = vi.fn();
    const onSeries = vi.fn();
    const loader = createTrendLoader({ fetchFleet, fetchOne, onSeries, now: () => now });
    loader.want([1, 2, 3]);
    loader.want(Array.from({ length: 1200 }, (_, i) => i + 1)); // scrolled on before the pause ended
    await flush();
    expect(fetchFleet.mock.calls.map(([ids]) => ids.length)).toEqual([500, 500, 200]);
    const [, range] = fetchFleet.mock.calls[0];
    expect(range.to - range.from).toBe(SPARK_WINDOW_MS);
    expect(range.interval).toBe('1m');
    loader.want([1, 2, 3]);
    await flush();
    expect(fetchFleet).toHaveBeenCalledTimes(3);
    expect(onSeries.mock.calls[0][0][7]).toEqual([{ t: now - 60_000, v: 7 }]);
    // After a reconnection, what is on screen is loaded again.
    loader.reset();
    await flush();
    expect(fetchFleet).toHaveBeenCalledTimes(4);
    loader.stop();
    vi.useRealTimers();
  });

  it('falls back to one request per server on screen when the API has no fleet endpoint', async () => {
    vi.useFakeTimers();
    const fetchFleet = vi.fn(async () => null);
    const fetchOne = vi.fn(async (id) => ({ buckets: [{ recorded_at: ago(120), cpu_percent: 1 }, { recorded_at: ago(60), cpu_percent: 2 }] }));
    const onSeries = vi.fn();
    const loader = createTrendLoader({ fetchFleet, fetchOne, onSeries, now: () => now });
    loader.want([1, 2]);
    await flush();
    loader.want([3]);
    await flush();
    expect(fetchFleet).toHaveBeenCalledTimes(1); // learnt once
    expect(fetchOne.mock.calls.map(([id]) => id)).toEqual([1, 2, 3]);
    expect(onSeries).toHaveBeenCalledWith({ 3: [{ t: now - 120_000, v: 1 }, { t: now - 60_000, v: 2 }] });
    loader.stop();
    vi.useRealTimers();
  });
});
