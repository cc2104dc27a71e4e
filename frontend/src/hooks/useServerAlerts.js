import { useEffect, useRef, useState } from 'react';
import { listServerAlerts } from '../services/api.js';
import { EVENTS, on } from '../services/socket.js';
import { useLiveEpoch } from './useConnection.js';

// The API and the relay write times differently (Z or +00:00): compare ids, or
// the instants themselves.
export const sameAlert = (a, b) =>
  a.id != null && b.id != null
    ? a.id === b.id
    : a.type === b.type && Date.parse(a.started_at) === Date.parse(b.started_at);

/** The list with each of `updates` replacing its earlier version. */
export function mergeAlerts(list, updates) {
  let out = list;
  for (const alert of updates) out = [alert, ...out.filter((a) => !sameAlert(a, alert))];
  return out;
}

/** A server's alerts, active first then recently resolved, kept live. The
 * server page joins the server's room, which brings its `alert` events. */
export function useServerAlerts(serverId) {
  const [alerts, setAlerts] = useState([]);
  const epoch = useLiveEpoch();
  // Events with the time they arrived: a list requested before one of them is
  // older than it, and must not undo it.
  const events = useRef([]);

  useEffect(() => {
    const controller = new AbortController();
    const requestedAt = Date.now();
    listServerAlerts(serverId, { signal: controller.signal })
      .then((list) => {
        if (controller.signal.aborted) return;
        const later = events.current.filter((e) => e.at >= requestedAt).map((e) => e.alert);
        setAlerts(mergeAlerts(Array.isArray(list) ? list : [], later));
      })
      .catch(() => {});
    return () => controller.abort();
  }, [serverId, epoch]);

  useEffect(
    () =>
      on(EVENTS.alert, (alert) => {
        if (alert.server_id !== serverId) return;
        events.current = [...events.current.slice(-50), { at: Date.now(), alert }];
        setAlerts((list) => mergeAlerts(list, [alert]));
      }),
    [serverId],
  );

  return [...alerts].sort(
    (a, b) =>
      (a.state === 'resolved') - (b.state === 'resolved') ||
      new Date(b.started_at) - new Date(a.started_at),
  );
}
