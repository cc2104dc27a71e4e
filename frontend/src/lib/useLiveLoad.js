import { useCallback, useEffect, useRef } from 'react';
import { useLiveEpoch } from '../hooks/useConnection.js';

/**
 * The loading half of "load from REST, then apply live events that are newer"
 * (see live.js): `load(signal)` runs now, again after every reconnection or
 * resync, every `refreshMs` when given, and when the returned function is
 * called. Each answer goes to `onAnswer(answer, requestedAt)` with the instant
 * its request was sent, for applyLoaded. `ready()` (the relay acknowledged the
 * join) is awaited first, so the events the load races with are already flowing.
 */
export function useLiveLoad(load, deps, { onAnswer, onError, ready, refreshMs } = {}) {
  const epoch = useLiveEpoch();
  const latest = useRef(null);
  latest.current = { load, onAnswer, onError, ready };
  const run = useRef(() => {});

  useEffect(() => {
    const controller = new AbortController();
    const once = async () => {
      const current = latest.current;
      try {
        if (current.ready) await current.ready();
        if (controller.signal.aborted) return;
        const requestedAt = Date.now();
        const answer = await current.load(controller.signal);
        if (!controller.signal.aborted) current.onAnswer?.(answer, requestedAt);
      } catch (error) {
        if (error?.name !== 'AbortError' && !controller.signal.aborted) current.onError?.(error);
      }
    };
    run.current = once;
    once();
    const timer = refreshMs ? setInterval(once, refreshMs) : null;
    return () => {
      controller.abort();
      if (timer) clearInterval(timer);
    };
    // The caller's deps say what the load depends on; the epoch, when to load again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, epoch, refreshMs]);

  return useCallback(() => run.current(), []);
}
