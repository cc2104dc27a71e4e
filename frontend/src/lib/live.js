// Load from REST, then apply the live events that are newer: the one rule every
// view of the dashboard follows when it both loads from the API and listens to
// the relay.
//
// An answer from the API was read at some instant while its request was in
// flight; an event that arrived in that time may be newer than the answer, or
// already in it. So every event is applied at once and remembered, with the time
// it arrived; when an answer comes, the events that arrived after its request was
// sent are applied again on top of it. Events that arrived before the request
// are in the answer and are forgotten. An answer to a request older than the one
// already applied is late, and ignored: the data never goes back in time.
//
// `apply(value, events)` applies a list of events in one step (a thousand
// servers in one `fleet-update` make one new state, not a thousand) and must be
// "newer wins": an event older than what the value holds changes nothing, so
// applying one again is harmless and an event older than the loaded data is
// ignored. Only the latest event of each key (a server,
// an alert) is remembered, so the memory is bounded by the number of keys, and
// by `limit` whatever happens.

const DEFAULT_LIMIT = 20_000;

/** The bookkeeping of one loaded resource: no answer applied yet, no events. */
export function liveTracker() {
  return { log: new Map(), loadedAt: -Infinity };
}

function remember(log, key, event, at, limit, newer) {
  const known = log.get(key);
  if (known && newer && known.event !== event && !newer(event, known.event)) return; // late: the one known stays
  log.set(key, { at, event });
  while (log.size > limit) log.delete(log.keys().next().value);
}

/**
 * Live events, all arrived at `at` (ms): `entries` is a list of [key, event].
 * Returns { value, tracker } with the events applied in one step, however many.
 * Of two events of one key, the later to arrive is remembered, unless
 * `newer(event, known)` says it is older than the one known (a late sample).
 */
export function applyLive({ value, tracker }, entries, at, apply, { limit = DEFAULT_LIMIT, newer = null } = {}) {
  const log = new Map(tracker.log);
  for (const [key, event] of entries) remember(log, key, event, at, limit, newer);
  return { value: apply(value, entries.map(([, event]) => event)), tracker: { ...tracker, log } };
}

/**
 * An API answer to a request sent at `requestedAt` (ms). `load(value, answer)`
 * gives the value the answer stands for; the events that arrived since the
 * request are applied again on top. Returns { value, tracker }, or null when
 * the answer is older than one already applied (keep the state as it is).
 */
export function applyLoaded({ value, tracker }, answer, requestedAt, load, apply) {
  const since = requestedAt ?? -Infinity;
  if (since < tracker.loadedAt) return null;
  const log = new Map();
  for (const [key, entry] of tracker.log) if (entry.at >= since) log.set(key, entry); // the others are in the answer
  // Again in the order they arrived (a server's status, then its next sample).
  const again = [...log.values()].sort((a, b) => a.at - b.at).map((entry) => entry.event);
  const loaded = load(value, answer);
  return { value: again.length ? apply(loaded, again) : loaded, tracker: { log, loadedAt: since } };
}

/** "Newer wins" for two ISO-8601 instants (or null): is `a` strictly later? */
export function isLater(a, b) {
  if (!a) return false;
  if (!b) return true;
  return Date.parse(a) > Date.parse(b);
}
