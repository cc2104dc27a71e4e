// A removed server, whoever removed it: the relay's `server-removed` (another
// browser, or this one) and this browser's own DELETE, which does not wait for
// the relay. Each removal is told once per listener.
import { useEffect, useState } from 'react';
import { EVENTS, on } from '../../services/socket.js';

const listeners = new Set();
const removed = new Map(); // id -> { server_id, name }

function tell(event) {
  const id = Number(event?.server_id);
  if (!Number.isInteger(id) || removed.has(id)) return;
  const entry = { server_id: id, name: event.name ?? null };
  removed.set(id, entry);
  for (const listener of listeners) listener(entry);
}

/** This browser removed the server `id` (named `name`). */
export function announceRemoved(id, name) {
  tell({ server_id: id, name });
}

/** Calls `listener({ server_id, name })` for each server removed from now on. */
export function onServerRemoved(listener) {
  listeners.add(listener);
  const stop = on(EVENTS.removed, tell);
  return () => {
    listeners.delete(listener);
    stop();
  };
}

/** Whether `id` was removed while this page was open. */
export function wasRemoved(id) {
  return removed.has(Number(id));
}

/** The removals seen so far, as a hook: the latest one, or null. */
export function useLatestRemoval() {
  const [latest, setLatest] = useState(null);
  useEffect(() => onServerRemoved(setLatest), []);
  return [latest, setLatest];
}

/** For tests: forget what was removed. */
export function resetRemovals() {
  removed.clear();
}
