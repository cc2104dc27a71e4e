import { useEffect, useRef, useState } from 'react';
import { subscribeStatus } from '../services/socket.js';

/** The relay connection: 'connecting' | 'live' | 'reconnecting' | 'offline' |
 * 'unauthorized'. */
export function useConnection() {
  const [status, setStatus] = useState('connecting');
  useEffect(() => subscribeStatus(setStatus), []);
  return status;
}

/**
 * A number that grows each time the connection becomes live (the first time
 * included). Data hooks reload on it: whatever happened while the page was not
 * connected is fetched from the API, so charts have no hole.
 */
export function useLiveEpoch() {
  const [epoch, setEpoch] = useState(0);
  const previous = useRef(null);
  useEffect(
    () =>
      subscribeStatus((status) => {
        if (status === 'live' && previous.current !== 'live') setEpoch((e) => e + 1);
        previous.current = status;
      }),
    [],
  );
  return epoch;
}
