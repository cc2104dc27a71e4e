import { useEffect, useState } from 'react';
import { listServerAlerts } from '../services/api.js';
import { EVENTS, on } from '../services/socket.js';
import { useLiveEpoch } from './useConnection.js';

// The API and the relay write times differently (Z or +00:00): compare ids, or
// the instants themselves.
export const sameAlert = (a, b) =>
  a.id != null && b.id != null
    ? a.id === b.id
    : a.type === b.type && Date.parse(a.started_at) === Date.parse(b.started_at);

/** A server's alerts, active first then recently resolved, kept live. The
 * server page joins the server's room, which brings its `alert` events. */
export function useServerAlerts(serverId) {
  const [alerts, setAlerts] = useState([]);
  const epoch = useLiveEpoch();

  useEffect(() => {
    const controller = new AbortController();
    listServerAlerts(serverId, { signal: controller.signal })
      .then((list) => {
        if (!controller.signal.aborted) setAlerts(Array.isArray(list) ? list : []);
      })
      .catch(() => {});
    return () => controller.abort();
  }, [serverId, epoch]);

  useEffect(
    () =>
      on(EVENTS.alert, (alert) => {
        if (alert.server_id !== serverId) return;
        setAlerts((list) => [alert, ...list.filter((a) => !sameAlert(a, alert))]);
      }),
    [serverId],
  );

  return [...alerts].sort(
    (a, b) =>
      (a.state === 'resolved') - (b.state === 'resolved') ||
      new Date(b.started_at) - new Date(a.started_at),
  );
}
