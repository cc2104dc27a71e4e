// The data hooks against stand-ins for the network edge: the browser's fetch
// answered by a small in-memory API, and a socket.io connection the test plays
// the relay on. The services and hooks above them are the real ones.
import { act, renderHook, waitFor } from '@testing-library/react';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

const relay = vi.hoisted(() => {
  class FakeSocket {
    constructor() {
      this.handlers = new Map();
      this.connected = false;
      this.active = true;
    }
    on(event, handler) {
      if (!this.handlers.has(event)) this.handlers.set(event, new Set());
      this.handlers.get(event).add(handler);
      return this;
    }
    off(event, handler) {
      this.handlers.get(event)?.delete(handler);
      return this;
    }
    timeout() {
      return this;
    }
    async emitWithAck() {
      return { ok: true };
    }
    emit() {}
    connect() {}
    disconnect() {}
    /** The relay sends `event` to this page. */
    send(event, payload) {
      for (const handler of [...(this.handlers.get(event) ?? [])]) handler(payload);
    }
  }
  return { socket: new FakeSocket() };
});

vi.mock('socket.io-client', () => ({ io: () => relay.socket }));

const { FleetProvider, useFleet } = await import('../features/fleet/useFleet.jsx');
const { useHistory } = await import('./useHistory.js');
const { useServerAlerts } = await import('./useServerAlerts.js');
const { useServerMetrics } = await import('./useServerMetrics.js');

const ID = 1;
const STEP = 5000;

// The stored data the API answers from, and the requests it got.
let stored;
let requests;
let failHistory;
// Servers beyond ID in the list (the fleet tests).
let extraServers = 0;

function reply(body, headers = {}) {
  return new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json', ...headers } });
}

function makeSample(t, cpu) {
  return { server_id: ID, recorded_at: new Date(t).toISOString(), cpu_percent: cpu, ram_percent: 40, disk_percent: 30 };
}

// History as the API gives it for a short range: 5 s buckets of the samples in [from, to].
function history(from, to) {
  const buckets = new Map();
  for (const s of stored) {
    const t = Date.parse(s.recorded_at);
    if (t < from || t > to) continue;
    const start = Math.floor(t / STEP) * STEP;
    const b = buckets.get(start) ?? { recorded_at: new Date(start).toISOString(), sum: 0, samples: 0 };
    b.sum += s.cpu_percent;
    b.samples += 1;
    buckets.set(start, b);
  }
  return [...buckets.values()]
    .sort((a, b) => Date.parse(a.recorded_at) - Date.parse(b.recorded_at))
    .map(({ recorded_at, sum, samples }) => ({ recorded_at, cpu_percent: sum / samples, samples }));
}

function newest() {
  return stored.reduce((a, b) => (!a || Date.parse(b.recorded_at) > Date.parse(a.recorded_at) ? b : a), null);
}

async function api(url) {
  const { pathname, searchParams } = new URL(url, 'http://dashboard.test');
  requests.push({ pathname, params: Object.fromEntries(searchParams) });
  const server = { id: ID, name: 'web-01', hostname: 'web-01', is_active: true, interval_seconds: 5 };
  if (pathname === '/api/servers') {
    const others = Array.from({ length: extraServers }, (_, i) => ({ ...server, id: 100 + i, name: `srv-${i}`, hostname: `srv-${i}`, latest: newest() }));
    return reply([{ ...server, latest: newest() }, ...others]);
  }
  if (pathname === '/api/metrics/fleet-history' && extraServers) {
    const ids = searchParams.get('ids').split(',').map(Number);
    const points = history(Date.parse(searchParams.get('from')), Date.parse(searchParams.get('to')));
    return reply(ids.map((id) => ({ server_id: id, points })));
  }
  if (pathname === `/api/servers/${ID}`) return reply(server);
  if (pathname === `/api/metrics/current/${ID}`) return reply(newest());
  if (pathname === `/api/metrics/history/${ID}`) {
    if (failHistory > 0) {
      failHistory -= 1;
      throw new TypeError('network down');
    }
    const body = history(Date.parse(searchParams.get('from')), Date.parse(searchParams.get('to')));
    return reply(body, { 'Vigie-Interval': '5s' });
  }
  if (pathname.startsWith('/api/alerts')) return reply([]);
  return new Response(null, { status: 404 });
}

const asked = (pathname) => requests.filter((r) => r.pathname === pathname);
const sorted = (points) => points.every((p, i) => i === 0 || p.t > points[i - 1].t);

beforeAll(async () => {
  vi.stubGlobal('fetch', vi.fn(api));
  // The page connects: rooms joined, the connection live.
  const { connect } = await import('../services/socket.js');
  connect();
  relay.socket.connected = true;
  await act(async () => relay.socket.send('connect'));
});

beforeEach(() => {
  // Two minutes of samples 5 s apart, from nearly seven minutes ago: room in
  // the live window (10 min) for what the tests write after them.
  const now = Date.now();
  stored = Array.from({ length: 24 }, (_, i) => makeSample(now - 400_000 + i * STEP + 300, 10));
  requests = [];
  failHistory = 0;
  extraServers = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('a write larger than the relay pushes live', () => {
  it('is fetched from history and merged into the live chart, every sample once', async () => {
    const { result } = renderHook(() => useServerMetrics(ID));
    await waitFor(() => expect(result.current.points).toHaveLength(24));

    // A collector flushes its spool: 30 samples; the newest 5 come live.
    const start = Date.parse(stored.at(-1).recorded_at) + STEP;
    const write = Array.from({ length: 30 }, (_, i) => makeSample(start + i * STEP, 60 + i));
    stored.push(...write);
    const before = asked(`/api/metrics/history/${ID}`).length;
    act(() => {
      relay.socket.send('metrics-backfill', {
        server_id: ID,
        count: 30,
        first: write[0].recorded_at,
        last: write.at(-1).recorded_at,
        live: 5,
      });
      for (const s of write.slice(-5)) relay.socket.send('metrics-update', s);
    });
    await waitFor(() => expect(result.current.points).toHaveLength(54));
    const fetched = asked(`/api/metrics/history/${ID}`).slice(before);
    expect(fetched).toHaveLength(1);
    expect(Date.parse(fetched[0].params.from)).toBe(Math.floor(start / STEP) * STEP);
    expect(fetched[0].params.to).toBe(write.at(-1).recorded_at);
    expect(sorted(result.current.points)).toBe(true);
    expect(result.current.points.slice(-5).every((p) => p.size === 0)).toBe(true);
    expect(result.current.latest.cpu_percent).toBe(89);
  });

  it('leaves another server alone and does not ask for what is older than the window', async () => {
    const { result } = renderHook(() => useServerMetrics(ID));
    await waitFor(() => expect(result.current.points).toHaveLength(24));
    const count = requests.length;
    const old = new Date(Date.now() - 3_600_000).toISOString();
    act(() => {
      relay.socket.send('metrics-backfill', { server_id: 2, count: 500, first: old, last: new Date().toISOString(), live: 100 });
      relay.socket.send('metrics-backfill', { server_id: ID, count: 500, first: old, last: old, live: 100 });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(requests.slice(count)).toEqual([]);
  });

  it('is fetched again when the API did not answer', async () => {
    const { result } = renderHook(() => useServerMetrics(ID));
    await waitFor(() => expect(result.current.points).toHaveLength(24));
    const start = Date.parse(stored.at(-1).recorded_at) + STEP;
    const write = Array.from({ length: 10 }, (_, i) => makeSample(start + i * STEP, 50));
    stored.push(...write);
    failHistory = 1;
    act(() => {
      relay.socket.send('metrics-backfill', { server_id: ID, count: 10, first: write[0].recorded_at, last: write.at(-1).recorded_at, live: 1 });
      relay.socket.send('metrics-update', write.at(-1));
    });
    await waitFor(() => expect(result.current.points).toHaveLength(25));
    // After a second, a second try.
    await waitFor(() => expect(result.current.points).toHaveLength(34), { timeout: 3000 });
    expect(sorted(result.current.points)).toBe(true);
  });

  it('reloads the history chart when it falls in its range, only then', async () => {
    const now = Date.now();
    const past = { key: 'custom', from: new Date(now - 7_200_000), to: new Date(now - 3_600_000) };
    const shown = renderHook(() => useHistory(ID, { key: '1h' }));
    const older = renderHook(() => useHistory(ID, past));
    await waitFor(() => expect(shown.result.current.points).toHaveLength(24));
    await waitFor(() => expect(older.result.current.loading).toBe(false));
    const write = Array.from({ length: 3 }, (_, i) => makeSample(now - 360_000 + i * 1000, 99));
    stored.push(...write);
    const before = asked(`/api/metrics/history/${ID}`).length;
    act(() => {
      relay.socket.send('metrics-backfill', { server_id: ID, count: 3, first: write[0].recorded_at, last: write.at(-1).recorded_at, live: 1 });
    });
    const samples = (points) => points.reduce((n, p) => n + p.samples, 0);
    await waitFor(() => expect(samples(shown.result.current.points)).toBe(27));
    // One request: the 1 h chart's; the chart of a range that ended an hour ago stays.
    expect(asked(`/api/metrics/history/${ID}`).length - before).toBe(1);
  });
});

describe('a resync from the relay', () => {
  it('reloads what the server page and the overview show', async () => {
    const { result } = renderHook(
      () => ({
        metrics: useServerMetrics(ID),
        alerts: useServerAlerts(ID),
        history: useHistory(ID, { key: '1h' }),
        fleet: useFleet(),
      }),
      { wrapper: FleetProvider },
    );
    await waitFor(() => expect(result.current.metrics.points).toHaveLength(24));
    await waitFor(() => expect(result.current.history.points).toHaveLength(24));
    await waitFor(() => expect(result.current.fleet.servers).toHaveLength(1));
    // Samples written while the relay was away from the database: no event for them.
    const start = Date.parse(stored.at(-1).recorded_at) + STEP;
    stored.push(...Array.from({ length: 6 }, (_, i) => makeSample(start + i * STEP, 77)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(result.current.metrics.points).toHaveLength(24);
    requests = [];

    act(() => relay.socket.send('resync', { reason: 'relay was disconnected too long' }));
    await waitFor(() => expect(result.current.metrics.points).toHaveLength(30));
    await waitFor(() => expect(result.current.history.points).toHaveLength(30));
    await waitFor(() => expect(result.current.fleet.servers[0].latest.cpu_percent).toBe(77));
    expect(result.current.metrics.latest.cpu_percent).toBe(77);
    expect(sorted(result.current.metrics.points)).toBe(true);
    const paths = requests.map((r) => r.pathname);
    for (const path of ['/api/servers', `/api/servers/${ID}`, `/api/metrics/current/${ID}`, `/api/alerts/${ID}`, '/api/alerts']) {
      expect(paths).toContain(path);
    }
    // The live window, the history and the overview's sparkline.
    await waitFor(() => expect(asked(`/api/metrics/history/${ID}`).map((r) => r.params.interval ?? null)).toContain('1m'));
    expect(asked(`/api/metrics/history/${ID}`).length).toBeGreaterThanOrEqual(3);
  });
});

describe('the overview of a large fleet', () => {
  it('applies a fleet-update in one render, newer wins, and counts it for browser tests', async () => {
    extraServers = 2000;
    let renders = 0;
    const { result } = renderHook(
      () => {
        renders += 1;
        return useFleet();
      },
      { wrapper: FleetProvider },
    );
    await waitFor(() => expect(result.current.servers).toHaveLength(2001));
    // The first screens of trends: one request for all of them, none per server.
    await waitFor(() => expect(Object.keys(result.current.sparks).length).toBeGreaterThan(10));
    expect(asked('/api/metrics/fleet-history')).toHaveLength(1);
    expect(asked('/api/metrics/fleet-history')[0].params.interval).toBe('1m');
    expect(requests.filter((r) => r.pathname.startsWith('/api/metrics/history/'))).toEqual([]);

    const counted = window.__vigieFleetEvents ?? { count: 0, servers: 0 };
    const before = renders;
    const at = new Date().toISOString();
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const entry = (id, when, cpu) => ({ server_id: id, is_active: true, last_seen: when, latest: { recorded_at: when, cpu_percent: cpu, ram_percent: 1, disk_percent: 2 } });
    act(() => {
      relay.socket.send('fleet-update', { servers: result.current.servers.map((s) => entry(s.id, at, 42)) });
    });
    expect(renders - before).toBe(1);
    expect(result.current.servers.every((s) => s.latest.cpu_percent === 42)).toBe(true);
    act(() => relay.socket.send('fleet-update', { servers: [entry(ID, old, 1)] }));
    expect(result.current.servers.find((s) => s.id === ID).latest.cpu_percent).toBe(42);
    expect(window.__vigieFleetEvents).toEqual({ count: counted.count + 2, servers: counted.servers + 2002 });
  });
});
