import { useEffect, useMemo, useState } from 'react';
import { applyLive, applyLoaded, liveTracker } from '../lib/live.js';
import { useLiveLoad } from '../lib/useLiveLoad.js';
import { listServerAlerts } from '../services/api.js';
import { EVENTS, on } from '../services/socket.js';

// The API and the relay write times differently (Z or +00:00): compare ids, or
// the instants themselves.
export const sameAlert = (a, b) =>
  a.id != null && b.id != null
    ? a.id === b.id
    : a.type === b.type && Date.parse(a.started_at) === Date.parse(b.started_at);

const alertIdentity = (alert) => (alert.id != null ? `id:${alert.id}` : `${alert.type}@${Date.parse(alert.started_at)}`);

/** The list with each of `updates` replacing its earlier version; a firing
 * that comes after the same alert's resolution is old news and changes nothing. */
export function mergeAlerts(list, updates) {
  let out = list;
  for (const alert of updates) {
    const known = out.find((a) => sameAlert(a, alert));
    if (known && known.state === 'resolved' && alert.state !== 'resolved') continue;
    out = [alert, ...out.filter((a) => !sameAlert(a, alert))];
  }
  return out;
}

const loadAlerts = (_, list) => (Array.isArray(list) ? list : []);

/** A server's alerts, active first then recently resolved, kept live. The
 * server page joins the server's room, which brings its `alert` events. */
export function useServerAlerts(serverId) {
  const [live, setLive] = useState(() => ({ value: [], tracker: liveTracker() }));

  useLiveLoad((signal) => listServerAlerts(serverId, { signal }), [serverId], {
    onAnswer: (list, requestedAt) =>
      setLive((s) => applyLoaded(s, list, requestedAt, loadAlerts, mergeAlerts) ?? s),
  });

  useEffect(
    () =>
      on(EVENTS.alert, (alert) => {
        if (alert.server_id !== serverId) return;
        setLive((s) => applyLive(s, [[alertIdentity(alert), alert]], Date.now(), mergeAlerts, { limit: 200 }));
      }),
    [serverId],
  );

  const alerts = live.value;
  return useMemo(
    () =>
      [...alerts].sort(
        (a, b) =>
          (a.state === 'resolved') - (b.state === 'resolved') ||
          new Date(b.started_at) - new Date(a.started_at),
      ),
    [alerts],
  );
}
