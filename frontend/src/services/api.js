// The REST API. With the socket service, the only code that talks to the network.
import { parseInterval } from '../utils/formatters.js';
import { inferBucketMs } from '../utils/buckets.js';
import { API_BASE } from '../config/env.js';
import { getAdminToken, getToken, reportAuthProblem, setAdminToken, shareToken } from './auth.js';

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

/**
 * One call to the API. `admin`: sent with the admin token, and a refusal of it
 * signs the admin out instead of asking for the dashboard token; `quietAuth`:
 * a refusal is the caller's to handle.
 */
async function request(path, params, { signal, method = 'GET', body: payload, admin = false, quietAuth = false } = {}) {
  const headers = { Accept: 'application/json' };
  const token = admin ? getAdminToken() : getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { headers, signal };
  if (method !== 'GET') init.method = method;
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(payload);
  }
  const url = `${API_BASE}${path}${query(params)}`;
  let response;
  try {
    response = await fetch(url, init);
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
  const empty = response.status === 204;
  if (response.ok && !empty && (body === null || typeof body !== 'object')) {
    throw new ApiError(response.status, { error: 'bad_response', message: 'The API sent an unreadable answer.' });
  }
  if (!response.ok) {
    const error = new ApiError(response.status, body);
    if (response.status === 401 || response.status === 403) {
      if (admin) setAdminToken('', 'refused');
      else if (!quietAuth) reportAuthProblem(error);
    }
    throw error;
  }
  return { body, headers: response.headers };
}

/** Every server, or those with `tag` when given. */
export async function listServers(options, tag) {
  return (await request('/api/servers', tag ? { tag } : null, options)).body;
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
    // A share link may read its servers' alerts only: the fleet's are not its own.
    return (await request('/api/alerts', { state: 'active' }, { ...options, quietAuth: Boolean(shareToken()) })).body;
  } catch (error) {
    if (error.status === 404) return [];
    if (shareToken() && (error.status === 401 || error.status === 403)) return [];
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

// --- operations (the admin token) -------------------------------------------

const serverPath = (id) => `/api/servers/${encodeURIComponent(id)}`;

/** Whether `token` is the admin token: true, false when refused (401/403). */
export async function checkAdminToken(token, options) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${token}` };
  let response;
  try {
    response = await fetch(`${API_BASE}/api/admin`, { headers, signal: options?.signal });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, { error: 'unreachable', message: 'The API cannot be reached.' });
  }
  if (response.status === 204 || response.ok) return true;
  if (response.status === 401 || response.status === 403) return false;
  const body = await response.json().catch(() => null);
  throw new ApiError(response.status, body);
}

/** Rename or re-tag a server: `changes` is { name?, tags? }. Returns the server. */
export async function updateServer(id, changes, options) {
  return (await request(serverPath(id), null, { ...options, method: 'PATCH', body: changes, admin: true })).body;
}

/** Remove a server with its samples, history, alerts, silences and share links. */
export async function removeServer(id, options) {
  await request(serverPath(id), null, { ...options, method: 'DELETE', admin: true });
}

/** The rules in force for a server, and its own overrides (`overrides`). */
export async function getAlertRules(id, options) {
  return (await request(`${serverPath(id)}/alert-rules`, null, options)).body;
}

/** Replace the server's overrides ({ cpu?, ram?, disk?, offline? }); a type left
 * out follows the defaults again. Returns the rules as getAlertRules does. */
export async function putAlertRules(id, overrides, options) {
  return (await request(`${serverPath(id)}/alert-rules`, null, { ...options, method: 'PUT', body: overrides, admin: true }))
    .body;
}

/** The silences in force. */
export async function listSilences(options) {
  return (await request('/api/silences', null, options)).body;
}

/** { server_id | tag, duration | until, reason } -> the silence. */
export async function createSilence(silence, options) {
  return (await request('/api/silences', null, { ...options, method: 'POST', body: silence, admin: true })).body;
}

/** Ends a silence now. */
export async function endSilence(id, options) {
  await request(`/api/silences/${encodeURIComponent(id)}`, null, { ...options, method: 'DELETE', admin: true });
}

/** The share links (without their tokens). */
export async function listShares(options) {
  return (await request('/api/shares', null, { ...options, admin: true })).body;
}

/** { server_id | tag, expires_in | expires_at, label? } -> the link, with its
 * token and URL (shown this once). */
export async function createShare(share, options) {
  return (await request('/api/shares', null, { ...options, method: 'POST', body: share, admin: true })).body;
}

/** Revokes a share link at once. */
export async function revokeShare(id, options) {
  await request(`/api/shares/${encodeURIComponent(id)}`, null, { ...options, method: 'DELETE', admin: true });
}
