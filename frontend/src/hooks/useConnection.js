import { useEffect, useRef, useState } from 'react';
import { EVENTS, on, subscribeStatus } from '../services/socket.js';

/** The relay connection: 'connecting' | 'live' | 'reconnecting' | 'offline' |
 * 'unauthorized'. */
export function useConnection() {
  const [status, setStatus] = useState('connecting');
  useEffect(() => subscribeStatus(setStatus), []);
  return status;
}

/**
 * A number that grows each time the connection becomes live (the first time
 * included), and each time the relay says it lost track of what was written
 * (`resync`). Data hooks load at once, then again on each change: whatever
 * happened while the page was not connected (or before its rooms were joined,
 * or while the relay was away from the database) is fetched from the API and
 * merged, so charts have no hole. Loading at once rather than after connecting
 * draws the first chart sooner; the second load is a few small requests.
 */
export function useLiveEpoch() {
  const [epoch, setEpoch] = useState(0);
  const previous = useRef(null);
  useEffect(() => {
    const stops = [
      subscribeStatus((status) => {
        if (status === 'live' && previous.current !== 'live') setEpoch((e) => e + 1);
        previous.current = status;
      }),
      on(EVENTS.resync, () => setEpoch((e) => e + 1)),
    ];
    return () => {
      for (const stop of stops) stop();
    };
  }, []);
  return epoch;
}
