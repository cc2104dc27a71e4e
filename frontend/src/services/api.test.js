// The API client against a stand-in for the browser's fetch (the network edge):
// headers read, errors typed, aborts kept as aborts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, getCurrent, getHistory, listAlerts, listServers } from './api.js';
import { onAuthEvent, setToken } from './auth.js';

function answer(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the API client', () => {
  it('reads the bucket the server chose from Vigie-Interval', async () => {
    const fetch = vi.fn(async () => answer(200, [{ recorded_at: '2026-02-04T10:00:00Z' }], { 'Vigie-Interval': '15m' }));
    vi.stubGlobal('fetch', fetch);
    const from = new Date('2026-02-04T00:00:00Z');
    const result = await getHistory(7, { from, to: new Date('2026-02-05T00:00:00Z') });
    expect(result.bucketMs).toBe(900_000);
    expect(result.interval).toBe('15m');
    const url = new URL(fetch.mock.calls[0][0], 'http://x');
    expect(url.pathname).toBe('/api/metrics/history/7');
    expect(url.searchParams.get('from')).toBe('2026-02-04T00:00:00.000Z');
    expect(url.searchParams.has('interval')).toBe(false);
  });

  it('infers the bucket when a cross-origin API hides the header', async () => {
    const buckets = ['10:00', '10:05', '10:10'].map((t) => ({ recorded_at: `2026-02-04T${t}:00Z` }));
    vi.stubGlobal('fetch', async () => answer(200, buckets));
    expect((await getHistory(1, {})).bucketMs).toBe(300_000);
  });

  it('sends the dashboard token and reports a refusal', async () => {
    setToken('wrong');
    const fetch = vi.fn(async () => answer(403, { error: 'invalid_token', message: 'the dashboard token is not valid' }));
    vi.stubGlobal('fetch', fetch);
    const events = [];
    const stop = onAuthEvent((e) => events.push(e.kind));
    const error = await listServers().catch((e) => e);
    stop();
    setToken('');
    expect(fetch.mock.calls[0][1].headers.Authorization).toBe('Bearer wrong');
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(403);
    expect(error.code).toBe('invalid_token');
    expect(events).toContain('refused');
  });

  it('tells a server without samples from an unknown server', async () => {
    vi.stubGlobal('fetch', async () => answer(404, { error: 'no_metrics', message: 'no metrics yet' }));
    expect(await getCurrent(3)).toBeNull();
    vi.stubGlobal('fetch', async () => answer(404, { error: 'not_found', message: 'server 3 not found' }));
    await expect(getCurrent(3)).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('treats a deployment without the alerts function as no alerts', async () => {
    vi.stubGlobal('fetch', async () => answer(404, { error: 'not_found', message: 'no such route' }));
    expect(await listAlerts()).toEqual([]);
  });

  it('keeps an abort during the body an abort, never an empty answer', async () => {
    const response = answer(200, []);
    response.json = () => Promise.reject(new DOMException('aborted', 'AbortError'));
    vi.stubGlobal('fetch', async () => response);
    await expect(getHistory(1, {})).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('refuses an unreadable success instead of passing it on as data', async () => {
    vi.stubGlobal('fetch', async () => new Response('<html>', { status: 200, headers: { 'Content-Type': 'text/html' } }));
    await expect(listServers()).rejects.toMatchObject({ code: 'bad_response' });
  });

  it('says when the API cannot be reached', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    await expect(listServers()).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});
