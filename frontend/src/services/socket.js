// The realtime relay (socket.io). With the API service, the only code that talks
// to the network. One connection per page, shared by every view; the rooms a
// view needs are reference-counted and joined again after every reconnection.
import { io } from 'socket.io-client';
import { SOCKET_URL } from '../config/env.js';
import { getToken, onAuthEvent, reportAuthProblem } from './auth.js';

// Names of the relay's events (see realtime/ in the repository).
export const EVENTS = {
  metrics: 'metrics-update',
  // {server_id, count, first, last, live}: one write stored `count` samples in
  // [first, last] and only its newest `live` came as metrics-update.
  backfill: 'metrics-backfill',
  status: 'server-status',
  alert: 'alert',
  server: 'server-update',
  // {server_id}: the server was removed (its samples, history and alerts with it).
  removed: 'server-removed',
  // {servers: [{server_id, is_active, last_seen, latest}]}: to the overview (join-all),
  // at most about once a second, the latest state of each server that changed.
  fleet: 'fleet-update',
  // {reason}: the relay lost track of what was written; refetch from the API.
  resync: 'resync',
};
const JOIN = 'join-server';
const LEAVE = 'leave-server';
const FOLLOW_ALL = 'join-all';
const UNFOLLOW_ALL = 'leave-all';

// After this long without a connection, "reconnecting" becomes "offline"
// (it keeps retrying).
export const OFFLINE_AFTER_MS = 60_000;
const ACK_TIMEOUT_MS = 10_000;

let socket = null;
let status = 'connecting';
let lostAt = null;
let offlineTimer = null;
const statusListeners = new Set();
const rooms = new Map(); // server id -> number of views that need it
let followers = 0;

function setStatus(next) {
  if (next === status) return;
  status = next;
  for (const listener of statusListeners) listener(status);
}

function isAuthError(error) {
  const code = error?.data?.status ?? error?.data?.code;
  return (
    code === 401 ||
    code === 403 ||
    /unauthori[sz]ed|forbidden|token/i.test(`${error?.message} ${error?.data?.error ?? ''}`)
  );
}

function markLost() {
  if (lostAt == null) lostAt = Date.now();
  const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
  setStatus(offline || Date.now() - lostAt >= OFFLINE_AFTER_MS ? 'offline' : 'reconnecting');
  clearTimeout(offlineTimer);
  offlineTimer = setTimeout(markLost, Math.max(OFFLINE_AFTER_MS - (Date.now() - lostAt), 1000));
}

async function ack(event, payload) {
  try {
    return await socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    return null; // an unanswered join is retried on the next reconnection
  }
}

async function resubscribe() {
  const joins = [...rooms.keys()].map((serverId) => ack(JOIN, { serverId }));
  if (followers > 0) joins.push(ack(FOLLOW_ALL, {}));
  await Promise.all(joins);
}

/** The shared connection, opened on first use. */
export function connect() {
  if (socket) return socket;
  socket = io(SOCKET_URL, {
    auth: (cb) => {
      const token = getToken();
      cb(token ? { token } : {});
    },
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  socket.on('connect', async () => {
    // Rooms live on the server side of one connection: join them again, and
    // only then say "live", so views that fill gaps on "live" miss nothing.
    await resubscribe();
    if (!socket.connected) return;
    lostAt = null;
    clearTimeout(offlineTimer);
    setStatus('live');
  });
  socket.on('disconnect', (reason) => {
    markLost();
    // The server closed this connection on purpose: socket.io does not retry
    // by itself in that case, but a relay restarting is no reason to give up.
    if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
  });
  socket.on('connect_error', (error) => {
    if (isAuthError(error)) {
      setStatus('unauthorized');
      reportAuthProblem(error);
      return;
    }
    markLost();
    // A refusal by the server's middleware stops the retries: keep trying.
    if (!socket.active) setTimeout(() => socket.connect(), 2000);
  });
  if (typeof window !== 'undefined') {
    window.addEventListener('offline', markLost);
    window.addEventListener('online', () => {
      if (!socket.connected) socket.connect();
    });
  }
  onAuthEvent(({ kind }) => {
    if (kind === 'token-changed') {
      socket.disconnect();
      socket.connect();
    }
  });
  return socket;
}

export function getStatus() {
  return status;
}

/** Calls `listener(status)` now and on every change: connecting, live,
 * reconnecting, offline, unauthorized. */
export function subscribeStatus(listener) {
  connect();
  statusListeners.add(listener);
  listener(status);
  return () => statusListeners.delete(listener);
}

/** Listen to a relay event; returns the function that stops listening. */
export function on(event, handler) {
  const s = connect();
  s.on(event, handler);
  return () => s.off(event, handler);
}

// How long a view waits for a join to be acknowledged before loading anyway.
const JOIN_WAIT_MS = 2000;

function settled(promise) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(resolve, JOIN_WAIT_MS))]);
}

/** Receive one server's events while the returned function is not called. Its
 * `joined` promise settles once the relay acknowledged the join: a load started
 * after it cannot miss a sample between its query and the first live event. */
export function joinServer(serverId) {
  const s = connect();
  const id = Number(serverId);
  const count = rooms.get(id) ?? 0;
  rooms.set(id, count + 1);
  const joined = count === 0 && s.connected ? settled(ack(JOIN, { serverId: id })) : Promise.resolve();
  const release = () => {
    const left = (rooms.get(id) ?? 1) - 1;
    if (left > 0) {
      rooms.set(id, left);
      return;
    }
    rooms.delete(id);
    if (s.connected) s.emit(LEAVE, { serverId: id });
  };
  release.joined = joined;
  return release;
}

/** Receive every server's events (the overview) while the returned function is
 * not called; `joined` as for joinServer. */
export function followAll() {
  const s = connect();
  followers += 1;
  const joined = followers === 1 && s.connected ? settled(ack(FOLLOW_ALL, {})) : Promise.resolve();
  const release = () => {
    followers -= 1;
    if (followers === 0 && s.connected) s.emit(UNFOLLOW_ALL, {});
  };
  release.joined = joined;
  return release;
}
