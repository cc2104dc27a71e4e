// The REST API. With the socket service, the only code that talks to the network.
import { parseInterval } from '../utils/formatters.js';
import { inferBucketMs } from '../utils/buckets.js';
import { API_BASE } from '../config/env.js';
import { getToken, reportAuthProblem } from './auth.js';

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `the API answered ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = body?.error || 'http_error';
    this.details = body?.details || [];
  }
}

/** The API's public URL, as a collector on another machine should be given it. */
export function apiUrl() {
  const base = API_BASE || '';
  try {
    return new URL(base || '/', window.location.href).href.replace(/\/+$/, '');
  } catch {
    return base;
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value == null || value === '') continue;
    search.set(key, value instanceof Date ? value.toISOString() : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

async function request(path, params, { signal } = {}) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const url = `${API_BASE}${path}${query(params)}`;
  let response;
  try {
    response = await fetch(url, { headers, signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'unreachable', message: 'The API cannot be reached.' });
  }
  let body = null;
  const type = response.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    // An abort while the body is read must stay an abort: a caller that moved
    // on must not receive an empty answer as if it were data.
    body = await response.json().catch((error) => {
      if (error.name === 'AbortError') throw error;
      return null;
    });
  }
  if (response.ok && (body === null || typeof body !== 'object')) {
    throw new ApiError(response.status, { error: 'bad_response', message: 'The API sent an unreadable answer.' });
  }
  if (!response.ok) {
    const error = new ApiError(response.status, body);
    if (response.status === 401 || response.status === 403) reportAuthProblem(error);
    throw error;
  }
  return { body, headers: response.headers };
}

export async function listServers(options) {
  return (await request('/api/servers', null, options)).body;
}

export async function getServer(id, options) {
  return (await request(`/api/servers/${encodeURIComponent(id)}`, null, options)).body;
}

/** The latest sample, or null when the server has sent nothing yet. */
export async function getCurrent(id, options) {
  try {
    return (await request(`/api/metrics/current/${encodeURIComponent(id)}`, null, options)).body;
  } catch (error) {
    if (error.status === 404 && error.code === 'no_metrics') return null;
    throw error;
  }
}

/**
 * History between `from` and `to` (Dates). Without `interval` the API picks
 * the bucket (at most ~500 points) and names it in `Vigie-Interval`.
 * Returns { buckets, bucketMs, interval }.
 */
export async function getHistory(id, { from, to, interval, metrics } = {}, options) {
  const { body, headers } = await request(
    `/api/metrics/history/${encodeURIComponent(id)}`,
    // `metrics`: the groups a chart needs (`load`, `disks`…); the API's default is `core`.
    { from, to, interval, metrics: metrics?.length ? metrics.join(',') : undefined },
    options,
  );
  const label = headers.get('Vigie-Interval') || interval || null;
  const bucketMs = parseInterval(label) ?? inferBucketMs(body);
  return { buckets: body, bucketMs, interval: label };
}

/** Active alerts across all servers (firing ones). A deployment without the
 * alerts function answers 404: no alerts, rather than an error on every page. */
export async function listAlerts(options) {
  try {
    return (await request('/api/alerts', { state: 'active' }, options)).body;
  } catch (error) {
    if (error.status === 404) return [];
    throw error;
  }
}

/** One server's alerts: the active ones, then the most recently resolved. */
export async function listServerAlerts(id, options) {
  try {
    return (await request(`/api/alerts/${encodeURIComponent(id)}`, { state: 'all', limit: 20 }, options)).body;
  } catch (error) {
    if (error.status === 404) return [];
    throw error;
  }
}

// The fleet history endpoint takes at most this many servers per request.
export const FLEET_HISTORY_MAX_IDS = 500;

/**
 * The CPU, RAM and disk of many servers between `from` and `to` (Dates), in
 * `interval` buckets: one request for the trends of every card on screen.
 * Returns [{ server_id, points: [{ recorded_at, cpu_percent, ... }] }], or null
 * when the API has no such endpoint (404: an older deployment).
 */
export async function getFleetHistory(ids, { from, to, interval = '1m' } = {}, options) {
  if (ids.length > FLEET_HISTORY_MAX_IDS) throw new RangeError(`at most ${FLEET_HISTORY_MAX_IDS} servers per request`);
  try {
    const { body } = await request('/api/metrics/fleet-history', { ids: ids.join(','), from, to, interval }, options);
    return Array.isArray(body) ? body : [];
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}
